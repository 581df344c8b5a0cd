"""The streaming flow: the same seed gives the same dataset whatever order answers arrive in,
and steps of different stages overlap within the in-flight bound."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from genetic_instruct.config import Config
from genetic_instruct.llm.base import ChatRequest
from genetic_instruct.llm.scripted import ScriptedEngine
from genetic_instruct.llm.stream import Deliver, InboxThread, RequestStream, drain
from genetic_instruct.run.job import run
from genetic_instruct.state.store import RunStore

from .conftest import dataset_records

# Few distinct task texts, so offspring of one generation often copy each other.
_TASKS = [
    f"Write a Python function `solve(data)` that returns the {word} of a list of integers, "
    "and handles the empty list by returning None."
    for word in ("sum", "maximum", "median", "mode", "range", "product")
]


class ShuffledEngine(ScriptedEngine):
    """ScriptedEngine's answers, delivered in an order drawn from `order_seed`: requests
    wait in a pool and a random one finishes next. With `copies`, tasks come from a few
    texts, so offspring of a generation often copy each other."""

    def __init__(self, order_seed: int, copies: bool = True, max_in_pool: int = 10**6) -> None:
        super().__init__("scripted", malformed_rate=0.1, copy_rate=0.05)
        self.rng = np.random.default_rng(order_seed)
        self.copies = copies
        self.max_in_pool = max_in_pool
        self.answered: list[int] = []  # request seeds, in the order answered
        self.most_in_pool = 0

    def open_stream(self, deliver: Deliver) -> RequestStream:
        return _ShuffledStream(self, deliver)

    def _task(self, rng: np.random.Generator, prompt: str) -> str:
        if self.copies:
            return _TASKS[int(rng.integers(len(_TASKS)))]
        return super()._task(rng, prompt)


class _ShuffledStream(InboxThread):
    def __init__(self, engine: ShuffledEngine, deliver: Deliver) -> None:
        self._engine = engine
        super().__init__(deliver, "shuffled-engine")

    def _serve(self) -> None:
        pool: list[tuple[int, ChatRequest]] = []
        while None not in (items := drain(self._inbox, wait=not pool)):
            pool += [item for item in items if item is not None]
            engine = self._engine
            engine.most_in_pool = max(engine.most_in_pool, len(pool))
            assert len(pool) <= engine.max_in_pool, "more requests in flight than allowed"
            ticket, request = pool.pop(int(engine.rng.integers(len(pool))))
            engine.answered.append(request.seed)
            self._deliver(ticket, engine._answer(request))


def _twin(cfg: Config, tmp_path: Path, name: str) -> Config:
    return replace(
        cfg,
        run_dir=str(tmp_path / name),
        export=replace(  # one card per run: a card of another run is not replaced
            cfg.export, path=str(tmp_path / f"{name}.jsonl"), card=f"{name}.md"
        ),
    )


@pytest.mark.parametrize("compare", ["instruction", "instruction+solution"])
def test_the_same_seed_gives_the_same_records_and_counts_in_any_completion_order(
    scripted_config: Config, tmp_path: Path, compare: str
) -> None:
    """Near-copies within a generation are checked before coding (compare=instruction) or
    after it; either way two completion orders make the same records and counts."""
    cfg = replace(
        scripted_config,
        evolution=replace(scripted_config.evolution, max_generations=2),
        dedup=replace(scripted_config.dedup, compare=compare),
    )
    runs = {}
    engines = {"a": ShuffledEngine(1), "b": ShuffledEngine(2)}
    for name, engine in engines.items():
        twin = _twin(cfg, tmp_path, name)
        result = run(twin, engines={"default": engine})
        with RunStore(twin.run_dir) as store:
            stats = store.generation_stats()[1:]
            kept = [
                store.rejected_answers(reason)
                for _, reason in sorted(store.rejected_answer_counts())
            ]
        runs[name] = (
            dataset_records(result.dataset),
            # as stored: counts in their order, and the rejected answers kept to be seen
            [(list(s.rejected.items()), s.judge_scores, s.executions) for s in stats],
            kept,
        )
    assert engines["a"].answered != engines["b"].answered  # the orders did differ
    assert runs["a"][0] and runs["a"][2] and runs["a"] == runs["b"]
    rejected = dict(runs["a"][1][0][0])
    assert rejected["near_duplicate_batch"] > 0  # the order-dependent check was exercised


def test_steps_of_all_stages_overlap_within_the_in_flight_bound(
    scripted_config: Config, tmp_path: Path
) -> None:
    """With room for 5 steps, never more than 5 requests wait at once, yet coder and judge
    requests are answered before the last instructor request: no stage barrier."""
    cfg = _twin(scripted_config, tmp_path, "bounded")
    cfg = replace(cfg, evolution=replace(cfg.evolution, max_generations=1, max_in_flight=5))
    engine = ShuffledEngine(3, copies=False, max_in_pool=5)
    roles: list[str] = []
    answer = engine._answer

    def noting(request: ChatRequest):  # type: ignore[no-untyped-def]
        prompt = request.messages[-1][1]
        roles.append(
            "judge" if request.json_schema else "coder" if "Solve the" in prompt else "instructor"
        )
        return answer(request)

    engine._answer = noting  # type: ignore[method-assign]
    run(cfg, engines={"default": engine})
    assert engine.most_in_pool > 1
    last_instructor = max(i for i, role in enumerate(roles) if role == "instructor")
    assert {"coder", "judge"} <= set(roles[:last_instructor])


def test_a_micro_batched_engine_gives_the_same_records(
    scripted_config: Config, tmp_path: Path
) -> None:
    """An engine without open_stream (fed whatever is waiting, batch by batch) makes the
    same dataset as a streaming one answering in a random order."""
    cfg = replace(scripted_config, evolution=replace(scripted_config.evolution, max_generations=2))
    streamed = run(_twin(cfg, tmp_path, "streamed"), engines={"default": ShuffledEngine(4)})
    batched = ShuffledEngine(5)
    batched.open_stream = None  # type: ignore[assignment,method-assign]
    micro = run(_twin(cfg, tmp_path, "micro"), engines={"default": batched})
    assert dataset_records(streamed.dataset) == dataset_records(micro.dataset)
