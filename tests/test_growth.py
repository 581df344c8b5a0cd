"""A generation costs what its batch costs, not what the population holds.

The same generation is run on top of a small and an eight times larger population, and the
work done is counted, not timed: Python function calls (a profiler hook) and SQLite virtual
machine steps (a progress handler). Any stage that scanned the population (reading every
record, every id, every signature, a full export) would multiply both by about eight.
bench/population_bench.py measures the same thing in seconds up to 800k.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from genetic_instruct.config import Config
from genetic_instruct.dedup.from_config import build_index
from genetic_instruct.individual import Individual, content_id
from genetic_instruct.llm.scripted import ScriptedEngine
from genetic_instruct.run.compatibility import check_resume
from genetic_instruct.run.job import run
from genetic_instruct.state.generation_stats import GenerationStats
from genetic_instruct.state.store import RunStore

SMALL, LARGE = 1_000, 8_000
_WORDS = "list string graph tree queue stack prefix window parity prime path cycle token".split()


@dataclass
class Work:
    python_calls: int = 0
    sqlite_steps: int = 0  # in units of _STEP virtual machine instructions


_STEP = 10


def seeded_run(cfg: Config, size: int) -> None:
    """A run directory whose generation 0 is `size` synthetic tasks (no engine needed)."""
    rng = np.random.default_rng(size)
    seeds = []
    for i in range(size):
        instruction = f"Task {i}: write `solve_{i}(data)` using " + " ".join(rng.choice(_WORDS, 30))
        seeds.append(
            Individual(
                content_id(instruction), instruction, "def solve(data):\n    return data", "seed", 0
            )
        )
    store = RunStore(cfg.run_dir)
    check_resume(store, cfg)
    signatures = build_index(cfg).signatures([s.instruction for s in seeds])
    store.commit_generation(GenerationStats.of_seeds(size), seeds, signatures)
    store.close()


def work_of_second_generation(cfg: Config, monkeypatch: pytest.MonkeyPatch) -> Work:
    """Count the work of generation 2 only: generation 1 warms every cache and import."""
    work = Work()
    counting = False

    def count_sqlite() -> int:
        if counting:
            work.sqlite_steps += 1
        return 0

    opened = RunStore.__init__

    def open_counted(store: RunStore, *args: Any) -> None:
        opened(store, *args)
        store._db.set_progress_handler(count_sqlite, _STEP)

    def count_python(_frame: object, event: str, _arg: object) -> None:
        if event in ("call", "c_call"):
            work.python_calls += 1

    def on_generation(generation: int, _stats: GenerationStats) -> None:
        nonlocal counting
        counting = generation == 1
        sys.setprofile(count_python if counting else None)

    monkeypatch.setattr(RunStore, "__init__", open_counted)
    try:
        run(cfg, engines={"default": ScriptedEngine("scripted")}, on_generation=on_generation)
    finally:
        sys.setprofile(None)
    return work


def test_a_generation_costs_the_same_on_an_eight_times_larger_population(
    scripted_config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    measured = {}
    for size in (SMALL, LARGE):
        cfg = replace(
            scripted_config,
            run_dir=str(tmp_path / f"run-{size}"),
            export=replace(  # one card per run: a card of another run is not replaced
                scripted_config.export,
                path=str(tmp_path / f"run-{size}.jsonl"),
                card=f"README-{size}.md",
            ),
            evolution=replace(scripted_config.evolution, target_size=10**6, max_generations=2),
        )
        seeded_run(cfg, size)
        measured[size] = work_of_second_generation(cfg, monkeypatch)
    small, large = measured[SMALL], measured[LARGE]
    assert small.python_calls > 10_000 and small.sqlite_steps > 100  # the counters count
    assert large.python_calls / small.python_calls < 1.5, measured
    assert large.sqlite_steps / small.sqlite_steps < 1.5, measured
