"""Generations until the target size, the generation limit or a stall; resumes from the store.

Generation 0 commits the seeds (with their dedup signatures, like any generation); each
later one is a generation of the loop (evolution/loop.py), committed whole, then a line on
the terminal. Why the run stops is decided here, once before each generation.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from genetic_instruct.calibration import run_gate
from genetic_instruct.config import Config
from genetic_instruct.console.display import RunDisplay
from genetic_instruct.dedup import NearDuplicateIndex
from genetic_instruct.dedup.from_config import build_index, dedup_text
from genetic_instruct.evolution.loop import Evolution, GenerationStats
from genetic_instruct.executors import open_executor
from genetic_instruct.individual import Individual
from genetic_instruct.llm.base import Engine
from genetic_instruct.state.meta import MAX_GENERATIONS, STALLED, TARGET_REACHED, RunEnd
from genetic_instruct.state.store import RunStore


def seed_population(
    cfg: Config, store: RunStore, index: NearDuplicateIndex, seeds: Sequence[Individual]
) -> None:
    """Generation 0: the seeds, committed with their signatures like any generation."""
    texts = [dedup_text(cfg.dedup.compare, s.instruction, s.solution) for s in seeds]
    store.commit_generation(0, seeds, index.signatures(texts), {"seeds": len(seeds)})


def restore_index(store: RunStore, index: NearDuplicateIndex) -> None:
    ids, signatures = store.signatures(index.signature_dtype)
    if ids:
        index.add(ids, signatures)


def summary_line(generation: int, stats: GenerationStats) -> str:
    reasons = ", ".join(f"{k} {v}" for k, v in stats.rejected.most_common() if v)
    tokens = sum(stats.tokens.completion.values())
    seconds = stats.wall_seconds
    return (
        f"generation {generation}: tried {stats.tried}, rejected "
        f"{sum(stats.rejected.values())} ({reasons or 'none'}), accepted {stats.accepted}; "
        f"{tokens:,} tokens in {seconds:.0f} s ({tokens / max(seconds, 1e-9):,.0f} tok/s)"
    )


def evolve(
    cfg: Config,
    store: RunStore,
    display: RunDisplay,
    seeds: Sequence[Individual],
    engines: Mapping[str, Engine] | None = None,
    on_generation: Callable[[int, GenerationStats], None] | None = None,
) -> tuple[Evolution, RunEnd]:
    """Grow the population until target_size, max_generations or a stall; resumes from the
    store. Returns the run and why it stopped."""
    index = build_index(cfg)
    if store.generation is None:
        seed_population(cfg, store, index, seeds)
    restore_index(store, index)
    pool = open_executor(cfg, engines, display)
    try:
        gate = run_gate(cfg, store, pool, display, cfg.execution.sandbox_limits())
        evo = Evolution(cfg, store, pool, display, index, gate)
        generation = (store.generation or 0) + 1
        empty = _trailing_empty_generations(store.generation_stats())
        while (end := _end(cfg, len(evo.population), generation, empty, store)) is None:
            start = time.monotonic()
            stats = evo.run_generation(generation)
            display.line(
                summary_line(generation, stats)
                + f"; population {len(evo.population)} ({time.monotonic() - start:.0f} s)"
            )
            if on_generation is not None:
                on_generation(generation, stats)
            empty = 0 if stats.accepted else empty + 1
            generation += 1
    finally:
        pool.close()
    return evo, end


def _trailing_empty_generations(rows: Sequence[Mapping[str, Any]]) -> int:
    """Generations at the end of the run's history that accepted nothing (seeds excluded)."""
    count = 0
    for row in reversed(rows):
        if "seeds" in row or row.get("accepted", 0):
            break
        count += 1
    return count


def _end(
    cfg: Config, population: int, generation: int, empty: int, store: RunStore
) -> RunEnd | None:
    """Why the run stops before `generation`, or None to run it."""
    evo = cfg.evolution
    if population >= evo.target_size:
        return RunEnd(
            TARGET_REACHED,
            f"reached the target: population {population:,} of "
            f"evolution.target_size={evo.target_size:,}",
        )
    if evo.max_generations and generation > evo.max_generations:
        return RunEnd(
            MAX_GENERATIONS,
            f"stopped at evolution.max_generations="
            f"{evo.max_generations} with population {population:,} "
            f"of evolution.target_size={evo.target_size:,}",
        )
    if evo.stall_generations and empty >= evo.stall_generations:
        rejected: Counter[str] = Counter()
        for row in store.generation_stats()[-empty:]:
            rejected.update(row.get("rejected", {}))
        top = ", ".join(f"{reason} {n}" for reason, n in rejected.most_common(3)) or "none"
        return RunEnd(
            STALLED,
            f"stalled: the last {empty} generations accepted nothing "
            f"(top rejections: {top}; evolution.stall_generations="
            f"{evo.stall_generations})",
        )
    return None
