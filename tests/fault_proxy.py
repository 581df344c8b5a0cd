"""A scripted chat-completions endpoint for the OpenAI engine's tests.

With `upstream`, a proxy in front of a real server that injects faults by plan; without,
a tiny fake server that answers at once (by default echo text, or a valid verdict when a
JSON schema is asked for; `answer` may write the response body instead, and `respond` the
whole HTTP response of either route: a hostile server's raw bytes, redirects, streams).
Either way it counts, per prompt, every attempt it saw, what the real server produced and
what it delivered, which is how the tests prove that nothing was answered twice.

The plan is a function (prompt, attempt) -> action, attempt counting from 0 per prompt:
  pass   answer (from upstream, or fake)
  429    Too Many Requests with Retry-After
  400 / 500   that status
  stall  hold the request, answer nothing, until the client gives up (its timeout)
  close  have upstream answer, then close the connection instead of delivering: the case
         where the server did the work and the client retries (a "raced" retry)
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

Plan = Callable[[str, int], str]
# The whole response to a request, or None for the default one.
Respond = Callable[[web.Request], Awaitable[web.StreamResponse | None]]
FAKE_VERDICT = {"correctness": 7, "quality": 6, "rationale": "fine"}


def always_pass(prompt: str, attempt: int) -> str:
    return "pass"


class FaultServer:
    """Runs on its own thread and loop, so a synchronous test can drive an engine against it."""

    def __init__(
        self,
        plan: Plan = always_pass,
        upstream: str | None = None,
        retry_after: str = "1",
        stall_limit_s: float = 120.0,
        answer: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        served: tuple[str, ...] = (),
        port: int = 0,
        respond: Respond | None = None,
    ) -> None:
        self.respond = respond
        self.served = served  # model ids GET /v1/models lists (without upstream)
        self.port = port  # 0: any free port; a restarted server takes its old one
        self.plan = plan
        self.answer = answer or fake_answer  # the response body, when there is no upstream
        self.upstream = upstream.rstrip("/") if upstream else None
        self.retry_after = retry_after
        self.stall_limit_s = stall_limit_s
        self.attempts: Counter[str] = Counter()  # per prompt: requests that reached us
        self.actions: Counter[str] = Counter()  # per action taken
        self.produced: Counter[str] = Counter()  # per prompt: 200 answers made (upstream or fake)
        self.delivered: Counter[str] = Counter()  # per prompt: 200 answers sent to the client
        self.authorization: set[str | None] = set()  # Authorization headers seen
        self.bodies: list[dict[str, Any]] = []
        self.base_url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> FaultServer:
        self._thread.start()
        port = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result()
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    async def _start(self) -> int:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._handle)
        app.router.add_get("/v1/models", self._models)
        self._client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300))
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        return int(self._runner.addresses[0][1])

    async def _stop(self) -> None:
        await self._runner.cleanup()
        await self._client.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        body = json.loads(raw)
        prompt = body["messages"][-1]["content"]
        attempt = self.attempts[prompt]
        self.attempts[prompt] += 1
        self.bodies.append(body)
        self.authorization.add(request.headers.get("Authorization"))
        if self.respond is not None and (response := await self.respond(request)) is not None:
            return response
        action = self.plan(prompt, attempt)
        self.actions[action] += 1
        if action == "429":
            return _error(request, 429, {"Retry-After": self.retry_after})
        if action in ("400", "500"):
            return _error(request, int(action))
        if action == "stall":
            await self._until_client_leaves(request)
            return _drop(request)
        status, answer = await self._produce(raw, body)
        if status == 200:
            self.produced[prompt] += 1
        if action == "close":
            return _drop(request)
        if status == 200:
            self.delivered[prompt] += 1
        return web.Response(status=status, body=answer, content_type="application/json")

    async def _models(self, request: web.Request) -> web.StreamResponse:
        self.authorization.add(request.headers.get("Authorization"))
        if self.respond is not None and (response := await self.respond(request)) is not None:
            return response
        if self.upstream is not None:
            async with self._client.get(self.upstream + "/models") as response:
                return web.Response(
                    status=response.status,
                    body=await response.read(),
                    content_type="application/json",
                )
        data = [{"id": name, "object": "model"} for name in self.served]
        return web.json_response({"object": "list", "data": data})

    async def _until_client_leaves(self, request: web.Request) -> None:
        waited = 0.0
        while request.transport is not None and not request.transport.is_closing():
            if waited >= self.stall_limit_s:
                return
            await asyncio.sleep(0.05)
            waited += 0.05

    async def _produce(self, raw: bytes, body: dict[str, Any]) -> tuple[int, bytes]:
        if self.upstream is None:
            return 200, json.dumps(self.answer(body)).encode()
        async with self._client.post(
            self.upstream + "/chat/completions",
            data=raw,
            headers={"Content-Type": "application/json"},
        ) as response:
            return response.status, await response.read()


def fake_answer(body: dict[str, Any]) -> dict[str, Any]:
    prompt = body["messages"][-1]["content"]
    text = json.dumps(FAKE_VERDICT) if "response_format" in body else f"echo: {prompt}"
    return {
        "choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": len(prompt.split()), "completion_tokens": len(text.split())},
    }


def _error(
    request: web.Request, status: int, headers: dict[str, str] | None = None
) -> web.Response:
    """Quotes the request's Authorization back, as some APIs quote the key they rejected:
    the engine must keep it out of its logs anyway."""
    quoted = request.headers.get("Authorization")
    message = f"injected {status}; Authorization was {quoted}"
    return web.json_response({"error": {"message": message}}, status=status, headers=headers)


def _drop(request: web.Request) -> web.Response:
    """Close the connection with nothing sent; the response returned is never written."""
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=200)
