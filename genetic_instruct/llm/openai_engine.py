"""Any OpenAI-compatible server (vllm serve, SGLang, NVIDIA NIM, llama.cpp's server, hosted
APIs) through async HTTP, behind the same synchronous `generate` as the offline engine.

A server batches only what it is sent, so the engine keeps up to `max_concurrency` requests
in flight over all base URLs. The event loop runs on a thread of its own, which makes
`generate` callable from any thread, including one that already runs an event loop (a
notebook); answers are handed back to the calling thread, so `on_complete` (which writes
the journal to SQLite) runs where the caller expects it.

The server is trusted with nothing: a body is read up to a bound set by the request's
max_tokens and never decompressed (identity is asked for), every field of it is checked
(openai_wire.py), and no redirect is followed, so the key never reaches another origin.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import random
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any, TypeVar

from genetic_instruct.config import ModelConfig
from genetic_instruct.errors import ConfigError, EngineLost
from genetic_instruct.llm.base import (
    ChatRequest,
    Completion,
    CompletionCallback,
)
from genetic_instruct.llm.openai_wire import (
    CHAT_PATH,
    BadResponse,
    chat_payload,
    decode_body,
    max_body_bytes,
    parse_chat_response,
    redirect_refused,
)
from genetic_instruct.llm.preflight import read_api_key
from genetic_instruct.llm.retry import (
    Backoff,
    Failure,
    is_engine_refusal,
    is_outage,
    is_retryable_status,
    parse_retry_after,
)
from genetic_instruct.llm.stream import Deliver, RequestStream

try:
    import aiohttp
except ModuleNotFoundError as missing:  # pragma: no cover - aiohttp comes with vLLM
    raise ConfigError(
        "config key models.*.engine: engine=openai needs aiohttp: pip install aiohttp"
    ) from missing

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
T = TypeVar("T")

# Connect failures should be retried (or given up on) long before a generation's patience
# (`request_timeout_s`) runs out: an unreachable host otherwise hangs for the OS's SYN retries.
CONNECT_TIMEOUT_S = 30.0
# Close idle connections before the server does: uvicorn (vllm serve, SGLang) drops them after
# 5 s, and a request sent on a connection the server is closing fails for nothing.
KEEPALIVE_S = 4.0
# The server's own words about a failure go to the log (not to the run's records), cut short;
# no more of an error body than that is read.
SERVER_MESSAGE_CHARS = 300


class BaseUrls:
    """Least-in-flight choice among the servers; ties go round robin.

    Least-in-flight follows each server's real speed (a slow or busy one keeps its
    requests longer and so is offered fewer), and a retry goes elsewhere when it can.
    """

    def __init__(self, urls: Sequence[str]) -> None:
        self.urls = [url.rstrip("/") for url in urls]
        self.in_flight = dict.fromkeys(self.urls, 0)
        self.sent: Counter[str] = Counter()
        self._start = 0

    @contextmanager
    def pick(self, avoid: str | None = None) -> Iterator[str]:
        n = len(self.urls)
        rotated = [self.urls[(self._start + k) % n] for k in range(n)]
        self._start = (self._start + 1) % n
        candidates = [url for url in rotated if url != avoid] or rotated
        url = min(candidates, key=self.in_flight.__getitem__)  # first of equals: round robin
        self.in_flight[url] += 1
        self.sent[url] += 1
        try:
            yield url
        finally:
            self.in_flight[url] -= 1


class _LoopThread:
    """An event loop running on a daemon thread (a forgotten close() cannot hang exit)."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


async def _shutdown(session: aiohttp.ClientSession) -> None:
    """Cancel what an interrupted batch left running, then close the connections."""
    others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)
    await session.close()


class OpenAIEngine:
    """Chat completions over HTTP with many requests in flight, retries and balancing.

    `sleep` and `rng` exist for tests: backoff is checked by recording the delays asked
    for, not by timing the wall clock.
    """

    def __init__(
        self,
        model: ModelConfig,
        *,
        backoff: Backoff = Backoff(),
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if not model.base_urls:
            raise ConfigError("config key base_urls: engine=openai needs at least one URL")
        key = read_api_key(model)
        self.model_name = model.path
        self.counters: Counter[str] = Counter()  # attempts, retries and failures by reason
        self.urls = BaseUrls(model.base_urls)
        self._max_concurrency = model.max_concurrency
        self._max_retries = model.max_retries
        self._outage_deadline_s = model.outage_deadline_s
        self._last_answer = time.monotonic()  # of any answer, or the start of the batch
        self._backoff = backoff
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._redact = (lambda text: text.replace(key, "***")) if key else (lambda text: text)
        self._warned: set[str] = set()
        timeout = aiohttp.ClientTimeout(
            total=model.request_timeout_s,
            sock_connect=min(model.request_timeout_s, CONNECT_TIMEOUT_S),
        )
        # identity: a compressed body could inflate far past what is read of it.
        headers = {"Accept-Encoding": "identity"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._thread = _LoopThread(f"openai-engine:{model.path}")
        self._session: aiohttp.ClientSession | None = self._thread.submit(
            self._open(timeout, headers)
        ).result()

    def __repr__(self) -> str:  # spelled out so that no header (the key) is ever shown
        return f"OpenAIEngine(model={self.model_name!r}, base_urls={self.urls.urls!r})"

    async def _open(
        self, timeout: aiohttp.ClientTimeout, headers: dict[str, str]
    ) -> aiohttp.ClientSession:
        """The session and the semaphore belong to the engine's loop, so they are made in it."""
        self._slots = asyncio.Semaphore(self._max_concurrency)
        connector = aiohttp.TCPConnector(limit=self._max_concurrency, keepalive_timeout=KEEPALIVE_S)
        return aiohttp.ClientSession(
            connector=connector, timeout=timeout, headers=headers, auto_decompress=False
        )

    # -- the synchronous face -----------------------------------------------------------
    def generate(
        self, requests: Sequence[ChatRequest], on_complete: CompletionCallback | None = None
    ) -> list[Completion]:
        """Answer every request, reporting each to `on_complete` (in this thread) as it ends."""
        if not requests:
            return []
        if self._session is None:
            raise RuntimeError("OpenAIEngine.generate after close()")
        # An outage is timed from the last answer of this batch, not of an earlier stage.
        self._last_answer = max(self._last_answer, time.monotonic())
        finished: queue.SimpleQueue[tuple[int, Completion] | None] = queue.SimpleQueue()
        batch = self._thread.submit(self._answer_all(requests, lambda i, c: finished.put((i, c))))
        # Runs after the last answer was queued: the end-of-batch mark, also on a crash.
        batch.add_done_callback(lambda _: finished.put(None))
        answers: dict[int, Completion] = {}
        try:
            while (item := finished.get()) is not None:
                i, completion = item
                answers[i] = completion
                if on_complete is not None:
                    on_complete(i, completion)
            batch.result()  # a bug in the engine surfaces here, not as a hang
        finally:
            batch.cancel()  # a caller interrupted (Ctrl-C, a failing callback) stops the batch
        return [answers[i] for i in range(len(requests))]

    def open_stream(self, deliver: Deliver) -> RequestStream:
        """Each submitted request goes out at once; `max_concurrency` caps all in flight."""
        if self._session is None:
            raise RuntimeError("OpenAIEngine.open_stream after close()")
        self._last_answer = max(self._last_answer, time.monotonic())
        return _HttpStream(self, deliver)

    async def _answer_one(self, request: ChatRequest) -> Completion:
        async with self._slots:
            return await self._answer(request)

    def close(self) -> None:
        """Close the connections and stop the loop's thread; a second close does nothing."""
        if self._session is None:
            return
        session, self._session = self._session, None
        self._thread.submit(_shutdown(session)).result()
        self._thread.stop()

    # -- inside the loop ----------------------------------------------------------------
    async def _answer_all(
        self, requests: Sequence[ChatRequest], report: Callable[[int, Completion], None]
    ) -> None:
        """A fixed set of workers pulls requests in order: a 100,000-request stage costs
        `max_concurrency` tasks, not 100,000, and early requests finish first."""
        todo = iter(range(len(requests)))

        async def worker() -> None:
            for i in todo:  # shared: each index is taken, and so answered, exactly once
                # The semaphore caps in-flight requests across generate() calls made at
                # once from several threads; within one call the worker count already does.
                report(i, await self._answer_one(requests[i]))

        workers = [
            asyncio.ensure_future(worker())
            for _ in range(min(self._max_concurrency, len(requests)))
        ]
        try:
            await asyncio.gather(*workers)
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _answer(self, request: ChatRequest) -> Completion:
        """Attempts until an answer, a failure not worth retrying, or `max_retries` retries.

        An outage is retried past max_retries (it is no request's fault), unless the server
        went on answering others while this request failed: `max_retries` such attempts
        make it this request's failure (a prompt that makes the server drop it), or a server
        could stall a run for good on one request while answering the rest."""
        payload = chat_payload(self.model_name, request)
        limit = max_body_bytes(request.sampling.max_tokens)
        attempt = served_failures = 0
        last_url: str | None = None
        while True:
            started = time.monotonic()
            with self.urls.pick(avoid=last_url) as url:
                self.counters["attempts"] += 1
                outcome = await self._attempt(url, payload, limit)
            if isinstance(outcome, Completion):
                self._last_answer = time.monotonic()
                return outcome
            self._raise_if_lost(url, outcome)
            outage = is_outage(outcome.reason)
            served_failures += outage and self._last_answer > started
            if (not outage and (not outcome.retryable or attempt == self._max_retries)) or (
                outage and served_failures > self._max_retries
            ):
                self.counters[f"failed:{outcome.reason}"] += 1
                return Completion(
                    "", error=outcome.reason + (f"_after_{attempt}_retries" if attempt else "")
                )
            self.counters[f"retried:{outcome.reason}"] += 1
            await self._sleep(self._backoff.delay(attempt, outcome.retry_after_s, self._rng))
            attempt += 1
            last_url = url

    def _raise_if_lost(self, url: str, failure: Failure) -> None:
        """Faults of the server rather than of the request: a refusal stops the run at once,
        an outage once it has lasted `outage_deadline_s` (until then it is retried, beyond
        max_retries: it is no request's fault)."""
        if is_engine_refusal(failure.reason):
            raise EngineLost(
                f"{url} refused the request ({failure.reason}): check the model "
                "name (models.*.path) and the API key (models.*.api_key_env)"
            )
        silent_s = time.monotonic() - self._last_answer
        if is_outage(failure.reason) and silent_s >= self._outage_deadline_s:
            raise EngineLost(
                f"{url} unreachable ({failure.reason}) for {silent_s:.0f} s "
                f"(models.*.outage_deadline_s={self._outage_deadline_s:g})"
            )

    async def _attempt(self, url: str, payload: dict[str, Any], limit: int) -> Completion | Failure:
        """One POST; a body over `limit` bytes is not read further (`too_large`)."""
        assert self._session is not None
        try:
            async with self._session.post(
                url + CHAT_PATH, json=payload, allow_redirects=False
            ) as response:
                if 300 <= response.status < 400:
                    raise EngineLost(
                        redirect_refused(url, response.status, response.headers.get("Location"))
                    )
                if response.status >= 300:
                    await self._note_server_message(url, response)
                    return Failure(
                        f"http_{response.status}",
                        retryable=is_retryable_status(response.status),
                        retry_after_s=parse_retry_after(response.headers.get("Retry-After")),
                    )
                return parse_chat_response(decode_body(await _read_capped(response, limit)))
        except BadResponse as bad:
            self._note(
                str(bad), "%s answered 200 but %s: counted as %s", url, bad.detail, bad.reason
            )
            return Failure(bad.reason, retryable=bad.retryable)
        except asyncio.TimeoutError:  # before ClientError: aiohttp's timeouts are both
            return Failure("timeout", retryable=True)
        except aiohttp.ClientResponseError:  # not HTTP: a status line or header too long...
            return Failure("bad_http", retryable=True)  # ...a request's failure, not an outage
        except aiohttp.ClientError:  # refused, reset, closed mid-answer, truncated body
            return Failure("connection_error", retryable=True)

    async def _note_server_message(self, url: str, response: aiohttp.ClientResponse) -> None:
        """Log what the server said (its first SERVER_MESSAGE_CHARS), once per status."""
        head = await response.content.read(4 * SERVER_MESSAGE_CHARS)  # UTF-8: <= 4 bytes a char
        text = self._redact(head.decode("utf-8", "replace")[:SERVER_MESSAGE_CHARS])
        status = str(response.status)
        self._note(status, "%s answered HTTP %s: %s", url, status, ascii(text.strip()))

    def _note(self, kind: str, message: str, *args: object) -> None:
        """WARNING the first time a kind of failure is met, DEBUG after (a batch fails
        together: one line says it)."""
        level = logging.DEBUG if kind in self._warned else logging.WARNING
        self._warned.add(kind)
        log.log(level, message, *args)


async def _read_capped(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The body, or BadResponse(`too_large`) as soon as it passes `limit` bytes: a server
    that sends more than the request can produce is not read to its end, nor kept."""
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding != "identity":
        raise BadResponse("bad_response", f"its body is {ascii(encoding)}-encoded, not identity")
    too_large = BadResponse(
        "too_large", f"its body is over {limit} bytes (openai_wire.max_body_bytes)"
    )
    if (response.content_length or 0) > limit:
        raise too_large
    body = bytearray()
    async for chunk in response.content.iter_any():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


class _HttpStream:
    """Requests of an open stream, each a task on the engine's loop until it is answered."""

    def __init__(self, engine: OpenAIEngine, deliver: Deliver) -> None:
        self._engine = engine
        self._deliver = deliver
        self._pending: set[Future[Completion]] = set()
        self._lock = threading.Lock()  # done callbacks run on the loop's thread

    def submit(self, ticket: int, request: ChatRequest) -> None:
        future = self._engine._thread.submit(self._engine._answer_one(request))
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(lambda done: self._finished(ticket, done))

    def _finished(self, ticket: int, future: Future[Completion]) -> None:
        with self._lock:
            self._pending.discard(future)
        if future.cancelled():
            return
        error = future.exception()
        self._deliver(ticket, error if error is not None else future.result())

    def close(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, set()
        for future in pending:
            future.cancel()
