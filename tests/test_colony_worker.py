"""The colony actor's streaming adapter, without Ray: every answer once, errors carried over."""

from __future__ import annotations

import pytest

from genetic_instruct.executors.colony_worker import stream_answers
from genetic_instruct.llm.base import ChatRequest, Completion, Sampling


def _requests(n: int) -> list[ChatRequest]:
    return [ChatRequest((("user", f"q{i}"),), Sampling(0.0, 1.0, 8), seed=i) for i in range(n)]


class _Engine:
    """Reports the even positions through the callback and only returns the odd ones."""

    model_name = "fake"

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def generate(self, requests, on_complete=None):
        answers = [Completion(f"a{i}") for i in range(len(requests))]
        for i in range(0, len(requests), 2):
            on_complete(i, answers[i])
        if self.fail:
            raise RuntimeError("engine died")
        return answers

    def close(self) -> None:
        pass


def test_each_answer_is_yielded_once_whether_called_back_or_returned() -> None:
    got = list(stream_answers(_Engine(), _requests(5)))
    assert [i for i, _ in got[:3]] == [0, 2, 4]  # as they were reported, then the rest
    assert sorted(got, key=lambda x: x[0]) == [(i, Completion(f"a{i}")) for i in range(5)]


def test_an_engine_error_reaches_the_caller_after_the_answers_it_gave() -> None:
    stream = stream_answers(_Engine(fail=True), _requests(3))
    assert [i for i, _ in (next(stream), next(stream))] == [0, 2]
    with pytest.raises(RuntimeError, match="engine died"):
        next(stream)
