"""A hostile model server: whatever it answers is one counted failure or rejection, never a
crash, a wedged run, a client that grows with the answer, or a key sent elsewhere.

Every case goes through the real client (OpenAIEngine, the preflight, the CLI) against a
real HTTP server on 127.0.0.1 that answers what an attacker would.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import random
import re
import sqlite3
from pathlib import Path

import orjson
import pytest
from aiohttp import web

from genetic_instruct.config import ModelConfig
from genetic_instruct.errors import EngineLost
from genetic_instruct.llm.base import MAX_TOKEN_COUNT, Completion
from genetic_instruct.llm.openai_wire import max_body_bytes
from genetic_instruct.llm.preflight import MAX_MODELS_BYTES, EngineUnavailable, check_server
from genetic_instruct.llm.retry import Backoff

from .conftest import run_cli
from .fault_proxy import FaultServer, Respond, _drop
from .styled_model import styled_answer
from .test_engine_faults import _openai
from .test_openai_engine import KEY_VAR, SECRET, RecordedSleep, opened, requests_for

# The judge's verdict with a lone surrogate escape in its text: valid JSON, invalid text.
SURROGATE_VERDICT = '{"rationale": "Fine \\ud800", "correctness": 9, "quality": 9}'
MAX_TOKENS = 4096  # room for the 200 KB nested body below, under max_body_bytes
WITH_KEY = {KEY_VAR: SECRET}  # the environment every CLI run here gets its key from


def _answer(content: str = '"fine"', finish: str = '"stop"', usage: str = "{}") -> bytes:
    """A chat completion's body from its fields' raw JSON text (so they can hold anything)."""
    return (
        f'{{"choices": [{{"message": {{"content": {content}}}, '
        f'"finish_reason": {finish}}}], "usage": {usage}}}'
    ).encode()


def _raw(body: bytes) -> Respond:
    async def respond(request: web.Request) -> web.StreamResponse:
        return web.Response(body=body, content_type="application/json")

    return respond


def _raw_http(data: bytes) -> Respond:
    """Bytes on the socket, whatever HTTP says."""

    async def respond(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.write(data)
        request.transport.close()
        return web.Response()

    return respond


def _storable(completion: Completion) -> bool:
    """What the journal and the store will do with it: UTF-8 JSON through json and orjson."""
    try:
        json.dumps(completion.to_dict(), ensure_ascii=False).encode()
        orjson.dumps(completion.to_dict())
    except (TypeError, ValueError):
        return False
    return True


def _one_answer(respond: Respond, max_retries: int = 1) -> tuple[Completion, FaultServer]:
    """One request through the engine against a server that answers with `respond`."""
    with (
        FaultServer(respond=respond) as server,
        opened(server.base_url, sleep=RecordedSleep(), max_retries=max_retries) as engine,
    ):
        [completion] = engine.generate(requests_for(1, max_tokens=MAX_TOKENS))
    return completion, server


# -- 3: what a parser decodes is made storable --------------------------------------------
def test_a_hostile_judge_and_token_counts_neither_stop_a_run_nor_its_resume(
    tmp_path: Path,
) -> None:
    """The styled model, but the judge writes a lone surrogate escape in its verdict, and
    one crossover answer in three reports a token count no request can have."""
    uncountable = [0]

    async def respond(request: web.Request) -> web.StreamResponse | None:
        if request.method == "GET":
            return None  # the model list
        body = await request.json()
        answer = styled_answer(body)
        if "response_format" in body:
            answer["choices"][0]["message"]["content"] = SURROGATE_VERDICT
            answer["choices"][0]["finish_reason"] = "stop"
        elif body["seed"] % 3 == 1 and "programming teacher" in body["messages"][-1]["content"]:
            answer["usage"]["prompt_tokens"] = 10**400
            uncountable[0] += 1
        return web.Response(body=json.dumps(answer).encode(), content_type="application/json")

    run_dir = tmp_path / "run"
    with FaultServer(respond=respond, served=("styled",)) as server:
        args = [
            *_openai(run_dir, server.base_url, "evolution.max_generations=1"),
            f"models.default.api_key_env={KEY_VAR}",
        ]
        killed = run_cli(*args, crash_at="commit:2", env=WITH_KEY)  # generation 1 is journaled
        assert killed.returncode == -9, killed.stderr

        def judged() -> int:
            return sum(n for prompt, n in server.attempts.items() if "strict reviewer" in prompt)

        asked = judged()
        resumed = run_cli(*args, env=WITH_KEY)
        assert resumed.returncode == 0, resumed.stderr
        assert asked > 0 and judged() == asked  # every verdict was replayed from the journal
    assert uncountable[0] > 0
    records = [json.loads(line) for line in (run_dir / "dataset.jsonl").read_text().splitlines()]
    assert records and {r["rationale"] for r in records} == {"Fine \ufffd"}
    for command in ("verify", "report", "export"):
        done = run_cli(command, f"run_dir={run_dir}", env=WITH_KEY)
        assert done.returncode == 0, done.stderr
    report = json.loads((run_dir / "report.json").read_text())
    assert max(report["generations"][-1]["prompt_tokens"].values()) < MAX_TOKEN_COUNT


# -- 4 and 5: a malformed 200 is one failed request ------------------------------------------
DEEP = b'{"choices": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        pytest.param(_answer(usage='{"prompt_tokens": 1e999}'), "bad_response", id="1e999"),
        pytest.param(_answer(usage="[1, 2]"), "bad_response", id="usage-list"),
        pytest.param(_answer(usage='{"prompt_tokens": [1]}'), "bad_response", id="count-list"),
        pytest.param(
            _answer(usage=f'{{"prompt_tokens": {10**400}}}'), "bad_response", id="10**400"
        ),
        pytest.param(
            _answer(usage=f'{{"completion_tokens": {MAX_TOKEN_COUNT + 1}}}'),
            "bad_response",
            id="over-the-bound",
        ),
        pytest.param(_answer(usage='{"completion_tokens": -1}'), "bad_response", id="negative"),
        pytest.param(_answer(usage='{"completion_tokens": 12.0}'), "bad_response", id="float"),
        pytest.param(_answer(usage='{"completion_tokens": true}'), "bad_response", id="bool"),
        pytest.param(_answer(finish="7"), "bad_response", id="finish-reason-number"),
        pytest.param(DEEP, "bad_json_after_1_retries", id="100000-deep"),
        pytest.param(b"\xff\xfe not UTF-8", "bad_json_after_1_retries", id="not-utf-8"),
    ],
)
def test_a_malformed_answer_is_one_counted_failure(body: bytes, error: str) -> None:
    assert len(DEEP) < max_body_bytes(MAX_TOKENS)  # the depth is met, not the size bound
    completion, server = _one_answer(_raw(body))
    assert completion.error == error and _storable(completion)
    assert sum(server.attempts.values()) == (2 if "retries" in error else 1)


def test_text_a_server_escapes_into_invalid_unicode_is_made_storable() -> None:
    bounded = f'{{"prompt_tokens": {MAX_TOKEN_COUNT}, "completion_tokens": null}}'
    body = _answer(content='"caf\\u00e9 \\ud800"', finish='"\\ud800"', usage=bounded)
    completion, _ = _one_answer(_raw(body))
    assert completion == Completion("café \ufffd", MAX_TOKEN_COUNT, 0, "\ufffd")
    assert _storable(completion)


# -- 6: an answer is read up to a bound set by max_tokens -----------------------------------
HUNDRED_MB = 100 * 2**20
TEN_MB = 10 * 2**20


def _huge(declared: bool, size: int = HUNDRED_MB) -> tuple[Respond, list[int]]:
    """A 200 whose answer is `size` bytes of text, chunked or with its length declared;
    `sent` counts the bytes of text the server got out before the client hung up."""
    sent = [0]
    head = b'{"choices": [{"message": {"content": "'
    tail = b'"}, "finish_reason": "stop"}]}'

    async def respond(request: web.Request) -> web.StreamResponse | None:
        if request.method == "GET":
            return None  # the model list
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        if declared:
            response.content_length = len(head) + size + len(tail)
        await response.prepare(request)
        chunk = b"x" * 2**20
        try:
            await response.write(head)
            for start in range(0, size, len(chunk)):
                await response.write(chunk[: size - start])
                sent[0] += len(chunk[: size - start])
            await response.write(tail)
        except (ConnectionError, RuntimeError):  # the client closed the connection
            pass
        return response

    return respond, sent


@pytest.mark.parametrize("declared", [False, True], ids=["chunked", "content-length"])
def test_an_answer_larger_than_max_tokens_allows_is_not_read_whole(declared: bool) -> None:
    respond, sent = _huge(declared)
    completion, server = _one_answer(respond)
    assert completion.error == "too_large"  # not retried: the server meant it
    assert sum(server.attempts.values()) == 1
    assert sent[0] < HUNDRED_MB / 4  # the client hung up early, socket buffers aside


def test_a_too_large_answer_is_neither_journaled_nor_stored(tmp_path: Path) -> None:
    respond, _ = _huge(declared=False, size=4 * 2**20)  # 36x the instructor's bound
    run_dir = tmp_path / "run"
    with FaultServer(respond=respond, served=("styled",)) as server:
        args = _openai(run_dir, server.base_url, "evolution.max_generations=1")
        # what generation 1 journaled stays there
        done = run_cli(*args, crash_at="commit:2", env=WITH_KEY)
    assert done.returncode == -9, done.stderr
    with sqlite3.connect(run_dir / "state.sqlite") as db:
        [longest] = db.execute("SELECT MAX(LENGTH(completion)) FROM journal").fetchone()
    assert longest is None  # every answer failed, so nothing was journaled
    assert sum(p.stat().st_size for p in run_dir.rglob("*") if p.is_file()) < 2**20


# -- 7: no redirect is followed, so the key reaches no other server --------------------------
def _redirect_to(target: str) -> Respond:
    async def respond(request: web.Request) -> web.StreamResponse:
        raise web.HTTPTemporaryRedirect(target + request.path.removeprefix("/v1"))

    return respond


def test_the_preflight_follows_no_redirect_and_says_where_it_pointed(tmp_path: Path) -> None:
    with FaultServer(served=("styled",)) as elsewhere:
        with FaultServer(respond=_redirect_to(elsewhere.base_url)) as server:
            args = _openai(tmp_path / "run", server.base_url)
            done = run_cli(*args, f"models.default.api_key_env={KEY_VAR}", env=WITH_KEY)
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.splitlines()
    assert server.base_url in line and f"{elsewhere.base_url}/models" in line
    assert "redirects (HTTP 307)" in line and "models.*.base_urls" in line
    assert elsewhere.authorization == set()  # asked nothing: the key stayed home
    assert not (tmp_path / "run").exists()


def test_the_engine_follows_no_redirect_and_stops_with_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(KEY_VAR, SECRET)
    with FaultServer() as elsewhere:
        with (
            FaultServer(respond=_redirect_to(elsewhere.base_url)) as server,
            opened(server.base_url, api_key_env=KEY_VAR) as engine,
        ):
            with pytest.raises(EngineLost, match="redirects") as lost:
                engine.generate(requests_for(3))
    assert f"{elsewhere.base_url}/chat/completions" in str(lost.value)
    assert elsewhere.authorization == set()  # asked nothing: the key stayed home
    assert server.authorization == {f"Bearer {SECRET}"}


# -- what the issue does not list, and a security reviewer would try --------------------------
def test_a_compressed_answer_is_not_inflated() -> None:
    async def respond(request: web.Request) -> web.StreamResponse:
        assert request.headers["Accept-Encoding"] == "identity"
        bomb = gzip.compress(_answer(json.dumps(" " * TEN_MB)))  # 10 KB that inflate to 10 MB
        return web.Response(body=bomb, headers={"Content-Encoding": "gzip"})

    completion, _ = _one_answer(respond)
    assert completion.error == "bad_response"


def test_an_outage_retried_for_hours_keeps_its_backoff() -> None:
    backoff = Backoff()  # 2.0**1024 overflowed after ~4 h of retries of one dropped request
    assert backoff.delay(1024, None, random.Random(0)) <= backoff.cap_s


def test_an_enormous_header_is_a_failed_request() -> None:
    respond = _raw_http(b"HTTP/1.1 200 OK\r\nX-Filler: " + b"a" * 2**20 + b"\r\n")
    completion, _ = _one_answer(respond)
    # A request's failure: an outage (a dropped connection) would be retried without end.
    assert completion.error == "bad_http_after_1_retries"


@pytest.mark.parametrize(
    ("respond", "why"),
    [
        pytest.param(_raw(DEEP), "not JSON", id="100000-deep"),
        pytest.param(_raw(b" " * (MAX_MODELS_BYTES + 1)), "more than", id="too-large"),
        pytest.param(
            _raw_http(b"HTTP/1.1 200 OK\r\nX-Filler: " + b"a" * 2**20 + b"\r\n\r\n"),
            "not HTTP (LineTooLong)",
            id="enormous-header",
        ),
        pytest.param(_raw_http(b"SSH-2.0-OpenSSH_9.6\r\n"), "not HTTP", id="not-http"),
    ],
)
def test_a_hostile_model_list_is_one_line(respond: Respond, why: str) -> None:
    with FaultServer(respond=respond) as server:
        model = ModelConfig(path="m", engine="openai", base_urls=[server.base_url])
        with pytest.raises(EngineUnavailable, match=re.escape(why)) as refused:
            check_server("models.default.base_urls[0]", server.base_url, model, None)
    assert str(refused.value).startswith(f"models.default.base_urls[0] {server.base_url}: ")


def test_a_request_the_server_always_drops_while_it_answers_others_fails_alone() -> None:
    """A prompt that makes the server drop its connection, every time, while every other
    request is answered: an outage is retried past max_retries, but this is none (the
    server was answering meanwhile), so it fails alone instead of holding the run until
    the outage deadline turns a healthy server into a lost engine."""

    async def respond(request: web.Request) -> web.StreamResponse | None:
        body = await request.json()
        await asyncio.sleep(0.03)  # others' answers arrive while the poisoned one is out
        if "Request 0:" in body["messages"][-1]["content"]:
            return _drop(request)
        return None  # the fake answer

    with (
        FaultServer(respond=respond) as server,
        opened(
            server.base_url,
            sleep=RecordedSleep(),
            max_retries=2,
            outage_deadline_s=5.0,
            max_concurrency=4,
        ) as engine,
    ):
        answers = engine.generate(requests_for(60))
    assert answers[0].error is not None and answers[0].error.startswith("connection_error")
    assert all(a.error is None for a in answers[1:])
    assert 3 <= server.attempts[requests_for(1)[0].messages[-1][1]] <= 10
