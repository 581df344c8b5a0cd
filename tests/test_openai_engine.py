"""The OpenAI-compatible engine: retry rules, then a fake server, then a real vLLM server.

Fast tests run against `FaultServer` without a model; backoff is checked through an
injected sleep that records the delays asked for, never by timing the wall clock. The
`model` tests start one real server for the module and put the fault proxy in front of it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import pytest

from genetic_instruct.config import ModelConfig
from genetic_instruct.errors import ConfigError
from genetic_instruct.evolution.roles.judge import JUDGE_SCHEMA, parse_verdict
from genetic_instruct.llm.base import ChatRequest, Completion, Sampling
from genetic_instruct.llm.openai_engine import OpenAIEngine
from genetic_instruct.llm.retry import Backoff, is_retryable_status, parse_retry_after

from .conftest import judge_prompt
from .fault_proxy import FAKE_VERDICT, FaultServer
from .vllm_server import SERVED_NAME, vllm_server

KEY_VAR = "GI_TEST_OPENAI_KEY"
SECRET = "sk-test-4f1e9a0c-do-not-log-me"


def requests_for(
    n: int, max_tokens: int = 16, json_schema: dict[str, Any] | None = None
) -> list[ChatRequest]:
    return [
        ChatRequest(
            (("user", f"Request {i}: name a prime number."),),
            Sampling(0.7, 0.95, max_tokens),
            seed=100 + i,
            json_schema=json_schema,
        )
        for i in range(n)
    ]


class RecordedSleep:
    """Stands in for asyncio.sleep: records each backoff delay and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@contextmanager
def opened(
    *urls: str, path: str = "fake-model", sleep: RecordedSleep | None = None, **fields: Any
) -> Iterator[OpenAIEngine]:
    """An engine on `urls`, closed afterwards; `sleep` None means real (short) backoff."""
    model = ModelConfig(path=path, engine="openai", base_urls=list(urls), **fields)
    engine = OpenAIEngine(model, sleep=sleep or asyncio.sleep, rng=random.Random(0))
    try:
        yield engine
    finally:
        engine.close()


# -- the retry rules, without a network ----------------------------------------------------
def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 28, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("3", now) == 3.0
    assert parse_retry_after(" 0.5 ", now) == 0.5
    assert parse_retry_after(format_datetime(now + timedelta(seconds=42), usegmt=True), now) == 42
    assert parse_retry_after("Sat, 28 Nov 2026 11:00:00 GMT", now) == 0.0  # in the past
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_which_statuses_are_retried() -> None:
    assert all(is_retryable_status(s) for s in (408, 409, 429, 500, 502, 503, 504))
    assert not any(is_retryable_status(s) for s in (400, 401, 403, 404, 422))


def test_backoff_is_full_jitter_and_floors_at_retry_after() -> None:
    backoff, rng = Backoff(base_s=0.5, cap_s=4.0, max_retry_after_s=60.0), random.Random(1)
    for attempt in range(10):
        assert 0.0 <= backoff.delay(attempt, None, rng) <= min(4.0, 0.5 * 2**attempt)
    assert 7.0 <= backoff.delay(0, 7.0, rng) <= 7.5
    assert 60.0 <= backoff.delay(0, 3600.0, rng) <= 60.5


# -- a fake server --------------------------------------------------------------------------
def test_answers_come_in_order_each_reported_once_in_the_calling_thread() -> None:
    seen: list[tuple[int, int]] = []
    batch = requests_for(40)
    with FaultServer() as server, opened(server.base_url, max_concurrency=8) as engine:
        out = engine.generate(batch, lambda i, c: seen.append((i, threading.get_ident())))
        again = engine.generate(batch[:3])  # the engine is reusable
    assert sorted(i for i, _ in seen) == list(range(40))
    assert {thread for _, thread in seen} == {threading.get_ident()}
    assert [c.text for c in out] == [f"echo: {r.messages[-1][1]}" for r in batch]
    assert all(c.error is None and c.prompt_tokens > 0 and c.completion_tokens > 0 for c in out)
    assert [c.text for c in again] == [c.text for c in out[:3]]


def test_close_releases_the_thread_and_a_second_close_is_harmless() -> None:
    with FaultServer() as server, opened(server.base_url) as engine:
        engine.generate(requests_for(2))
    engine.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("openai-engine")]
    with pytest.raises(RuntimeError, match="after close"):
        engine.generate(requests_for(1))


def test_a_failing_callback_stops_the_batch_and_close_still_cleans_up() -> None:
    def refuse(i: int, completion: Completion) -> None:
        raise KeyError(i)

    only_first = FaultServer(lambda p, a: "pass" if p.startswith("Request 0:") else "stall")
    with only_first as server, opened(server.base_url, max_concurrency=4) as engine:
        with pytest.raises(KeyError):
            engine.generate(requests_for(4), refuse)
        assert engine.generate(requests_for(1))[0].error is None  # still usable
    assert not [t for t in threading.enumerate() if t.name.startswith("openai-engine")]


def test_wire_format_sampling_seed_and_json_schema() -> None:
    with FaultServer() as server, opened(server.base_url) as engine:
        plain, judged = engine.generate(requests_for(1) + requests_for(1, json_schema=JUDGE_SCHEMA))
    first, second = sorted(server.bodies, key=lambda b: "response_format" in b)
    assert first["model"] == "fake-model" and first["seed"] == 100
    assert (first["temperature"], first["top_p"], first["max_tokens"]) == (0.7, 0.95, 16)
    assert "response_format" not in first
    assert second["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "verdict", "schema": JUDGE_SCHEMA, "strict": True},
    }
    assert parse_verdict(judged.text).scores["correctness"] == FAKE_VERDICT["correctness"]
    assert plain.text.startswith("echo: ")


def test_retry_after_is_honoured() -> None:
    sleep = RecordedSleep()
    first_429 = FaultServer(lambda p, attempt: "429" if attempt == 0 else "pass", retry_after="7")
    with first_429 as server, opened(server.base_url, sleep=sleep) as engine:
        out = engine.generate(requests_for(5))
    assert all(c.error is None for c in out)
    assert len(sleep.delays) == 5
    assert all(7.0 <= d <= 7.0 + Backoff().base_s for d in sleep.delays)
    assert engine.counters["retried:http_429"] == 5


def test_a_400_fails_at_once_with_its_reason() -> None:
    sleep = RecordedSleep()
    with FaultServer(lambda p, a: "400") as server, opened(server.base_url, sleep=sleep) as engine:
        out = engine.generate(requests_for(3))
    assert [c.error for c in out] == ["http_400"] * 3
    assert sum(server.attempts.values()) == 3 and sleep.delays == []


def test_5xx_is_retried_up_to_max_retries_then_recorded_as_failed() -> None:
    sleep = RecordedSleep()
    first_fails = FaultServer(lambda p, a: "500" if p.startswith("Request 0:") else "pass")
    with first_fails as server, opened(server.base_url, sleep=sleep, max_retries=2) as engine:
        out = engine.generate(requests_for(4))
    assert out[0] == Completion("", error="http_500_after_2_retries")
    assert all(c.error is None for c in out[1:])
    assert sorted(server.attempts.values()) == [1, 1, 1, 3]
    assert sleep.delays[0] <= Backoff().base_s and sleep.delays[1] <= 2 * Backoff().base_s


def test_stalls_and_dropped_connections_are_retried_and_answered_once() -> None:
    def plan(prompt: str, attempt: int) -> str:
        n = int(prompt.split()[1].rstrip(":"))
        return ("stall", "close", "pass")[n % 3] if attempt == 0 else "pass"

    with (
        FaultServer(plan) as server,
        opened(
            server.base_url, sleep=RecordedSleep(), request_timeout_s=0.5, max_concurrency=6
        ) as engine,
    ):
        out = engine.generate(requests_for(9))
    assert all(c.error is None for c in out)
    assert set(server.delivered.values()) == {1}  # one answer delivered per request
    assert sum(server.produced.values()) == 9 + 3  # 'close' answered, then dropped
    assert engine.counters["retried:timeout"] == 3
    assert engine.counters["retried:connection_error"] == 3


def test_two_base_urls_are_both_used_and_a_retry_moves_away_from_the_failing_one() -> None:
    with FaultServer() as one, FaultServer() as two:
        with opened(one.base_url, two.base_url, max_concurrency=4) as engine:
            engine.generate(requests_for(20))
    assert sum(one.attempts.values()) > 0 and sum(two.attempts.values()) > 0
    with FaultServer(lambda p, a: "500") as bad, FaultServer() as good:
        with opened(
            bad.base_url, good.base_url, sleep=RecordedSleep(), max_concurrency=1, max_retries=1
        ) as engine:
            out = engine.generate(requests_for(6))
    assert all(c.error is None for c in out)  # every retry went to the good server
    assert sum(bad.attempts.values()) > 0


def test_the_api_key_is_sent_but_never_logged_shown_or_recorded(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(KEY_VAR, SECRET)
    caplog.set_level(logging.DEBUG)

    def plan(prompt: str, attempt: int) -> str:
        return {"Request 0:": "400", "Request 1:": "500"}.get(prompt[:10], "pass")

    with (
        FaultServer(plan) as server,
        opened(
            server.base_url, sleep=RecordedSleep(), api_key_env=KEY_VAR, max_retries=1
        ) as engine,
    ):
        out = engine.generate(requests_for(3))
    assert server.authorization == {f"Bearer {SECRET}"}
    assert [c.error for c in out] == ["http_400", "http_500_after_1_retries", None]
    assert "Authorization was Bearer ***" in caplog.text  # the server's message, redacted
    shown = [caplog.text, repr(engine), str(engine.counters), *map(repr, out)]
    assert not [text for text in shown if SECRET in text]


def test_a_missing_key_variable_is_a_config_error_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(KEY_VAR, raising=False)
    with pytest.raises(ConfigError, match=f"api_key_env.*{KEY_VAR}"):
        with opened("http://127.0.0.1:9/v1", api_key_env=KEY_VAR):
            pass


# -- a real server --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    """One vLLM server (CPU build, embedded model) for every model test in this module."""
    with vllm_server() as base_url:
        yield base_url


@pytest.mark.model
def test_judge_requests_return_json_that_parse_verdict_accepts(served: str) -> None:
    from genetic_instruct.files.shipped import BUILTIN
    from genetic_instruct.seeding.seed_file import load_seeds

    requests = [
        ChatRequest(
            (("user", judge_prompt(s.instruction, s.solution)),),
            Sampling(0.0, 1.0, 160),
            seed=i,
            json_schema=JUDGE_SCHEMA,
        )
        for i, s in enumerate(load_seeds(BUILTIN)[:3])
    ]
    with opened(served, path=SERVED_NAME) as engine:
        answers = engine.generate(requests)
    for answer in answers:
        assert answer.error is None and answer.completion_tokens > 0
        parse_verdict(answer.text)  # strict JSON from the server, not the fallback's luck


@pytest.mark.model
def test_faults_between_engine_and_server_leave_every_request_answered_once(
    served: str,
) -> None:
    """429s, 500s, stalls past the timeout and dropped connections, by plan; two prompts
    fail for good. Every request ends answered or failed, each reported once."""
    faults = ("pass", "429", "500", "stall", "close", "pass")
    doomed = {"Request 7:", "Request 13:"}

    def plan(prompt: str, attempt: int) -> str:
        if prompt.split(" name")[0] in doomed:
            return "500"
        n = int(prompt.split()[1].rstrip(":"))
        return faults[n % len(faults)] if attempt == 0 else "pass"

    reported: list[int] = []
    with (
        FaultServer(plan, upstream=served, retry_after="1") as proxy,
        opened(
            proxy.base_url,
            path=SERVED_NAME,
            max_concurrency=8,
            request_timeout_s=20.0,
            max_retries=3,
        ) as engine,
    ):
        out = engine.generate(requests_for(18, max_tokens=12), lambda i, c: reported.append(i))
    assert sorted(reported) == list(range(18))
    failed = {i for i, c in enumerate(out) if c.error is not None}
    assert failed == {7, 13}
    assert {out[i].error for i in failed} == {"http_500_after_3_retries"}
    answered = [c for c in out if c.error is None]
    assert all(c.completion_tokens > 0 for c in answered)
    # At the proxy: no prompt got two answers, and the answers delivered are the answers
    # the engine returned, though the server produced more (answers dropped by 'close').
    assert max(proxy.delivered.values()) == 1
    assert sum(proxy.delivered.values()) == len(answered)
    assert sum(proxy.produced.values()) > len(answered)
    assert proxy.actions["stall"] >= 1 and proxy.actions["429"] >= 1
