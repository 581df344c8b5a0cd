"""Generations until the target size, the generation limit or a stall; resumes from the store.

Generation 0 commits the seeds (with their dedup signatures, like any generation); each
later one is a generation of the loop (evolution/loop.py), committed whole, then a line on
the terminal. Why the run stops is decided here, once before each generation.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from genetic_instruct.config import Config
from genetic_instruct.dedup import NearDuplicateIndex
from genetic_instruct.dedup.from_config import build_index, dedup_text
from genetic_instruct.evolution.loop import Evolution
from genetic_instruct.individual import Individual
from genetic_instruct.run.calibrate import run_gate
from genetic_instruct.run.opening import OpenRun
from genetic_instruct.state.generation_stats import GenerationStats
from genetic_instruct.state.meta import MAX_GENERATIONS, STALLED, TARGET_REACHED, RunEnd
from genetic_instruct.state.store import RunStore

# The population's dedup index in the run directory: derived from the store, rebuilt
# from it when missing, kept so that a resume does not sort every bucket entry again.
DEDUP_DIRECTORY = "dedup-index"


@contextmanager
def population_index(cfg: Config) -> Iterator[NearDuplicateIndex]:
    """The population's dedup index, empty or as its files left it: in this process, kept
    in run_dir/dedup-index; or with dedup.ray_shards its buckets on Ray actors for the
    block, with signatures and keys in this process, all rebuilt from the store at each
    start (executors/ray_dedup.py says why)."""
    if not cfg.dedup.ray_shards:
        yield build_index(cfg, directory=Path(cfg.run_dir) / DEDUP_DIRECTORY)
        return
    from genetic_instruct.executors.ray_dedup import run_shards  # imports Ray

    with run_shards(cfg) as shards:
        yield build_index(cfg, buckets=shards)


def seed_population(
    cfg: Config, store: RunStore, index: NearDuplicateIndex, seeds: Sequence[Individual]
) -> None:
    """Generation 0: the seeds, committed with their signatures like any generation."""
    texts = [dedup_text(cfg.dedup.compare, s.instruction, s.solution) for s in seeds]
    store.commit_generation(GenerationStats.of_seeds(len(seeds)), seeds, index.signatures(texts))


def restore_index(store: RunStore, index: NearDuplicateIndex) -> None:
    """The index starts from its own files; what the store committed after them (a
    crash between a commit and the index's write, or no files yet) is added from the
    stored signatures, never re-hashed. Files that are not this store's prefix (the
    store was replaced) are dropped."""
    have = len(index)
    if have and (
        have > store.population_size() or store.individual_at(have - 1).id != index.key(have - 1)
    ):
        index.clear()
        have = 0
    for ids, signatures in store.signature_batches(index.signature_dtype, after=have):
        index.add(ids, signatures)


def summary_line(stats: GenerationStats) -> str:
    """The generation's line on the terminal: its rejections most frequent first."""
    counts = sorted(stats.rejected.items(), key=lambda kv: (-kv[1], kv[0]))
    reasons = ", ".join(f"{k} {v}" for k, v in counts if v)
    tokens = sum(stats.completion_tokens.values())
    seconds = stats.wall_seconds
    return (
        f"generation {stats.generation}: tried {stats.tried}, rejected "
        f"{sum(stats.rejected.values())} ({reasons or 'none'}), accepted {stats.accepted}; "
        f"{tokens:,} tokens in {seconds:.0f} s ({tokens / max(seconds, 1e-9):,.0f} tok/s)"
    )


def grow(
    opened: OpenRun,
    seeds: Sequence[Individual],
    on_generation: Callable[[int, GenerationStats], None] | None = None,
) -> tuple[int, RunEnd]:
    """Grow the population until target_size, max_generations or a stall; resumes from the
    store. Returns the population's size and why it stopped."""
    with population_index(opened.cfg) as index:
        return _grow_into(opened, index, seeds, on_generation)


def _grow_into(
    opened: OpenRun,
    index: NearDuplicateIndex,
    seeds: Sequence[Individual],
    on_generation: Callable[[int, GenerationStats], None] | None,
) -> tuple[int, RunEnd]:
    cfg, store, display = opened.cfg, opened.store, opened.display
    if store.generation is None:
        seed_population(cfg, store, index, seeds)
    restore_index(store, index)
    with opened.executor() as executor:
        generation = (store.generation or 0) + 1
        empty = _trailing_empty_generations(store.generation_stats())
        alone = _end(cfg, store.population_size(), generation, empty, store) is not None
        evo = Evolution(cfg, store, executor, display, index, run_gate(opened, executor, alone))
        while (end := _end(cfg, len(evo.population), generation, empty, store)) is None:
            start = time.monotonic()
            stats = evo.run_generation(generation)
            display.line(
                summary_line(stats)
                + f"; population {len(evo.population)} ({time.monotonic() - start:.0f} s)"
            )
            if on_generation is not None:
                on_generation(generation, stats)
            empty = 0 if stats.accepted else empty + 1
            generation += 1
    return len(evo.population), end


def _trailing_empty_generations(history: Sequence[GenerationStats]) -> int:
    """Generations at the end of the run's history that accepted nothing (seeds excluded)."""
    count = 0
    for stats in reversed(history):
        if stats.generation == 0 or stats.accepted:
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
        for stats in store.generation_stats()[-empty:]:
            rejected.update(stats.rejected)
        top = ", ".join(f"{reason} {n}" for reason, n in rejected.most_common(3)) or "none"
        return RunEnd(
            STALLED,
            f"stalled: the last {empty} generations accepted nothing "
            f"(top rejections: {top}; evolution.stall_generations="
            f"{evo.stall_generations})",
        )
    return None
