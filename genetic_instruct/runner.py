"""`run(cfg)`: the whole job — seeds, evolution (resuming from the run directory), export."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from genetic_instruct import interrupts, run_lock
from genetic_instruct.compatibility import check_resume
from genetic_instruct.config import Config, validate
from genetic_instruct.dataset_card import write_dataset_card
from genetic_instruct.display import RunDisplay
from genetic_instruct.evolution import GenerationStats, evolve
from genetic_instruct.export import sync_export
from genetic_instruct.llm.base import Engine
from genetic_instruct.records import Individual
from genetic_instruct.report import REPORT_HTML, write_report
from genetic_instruct.seeds import load_seeds
from genetic_instruct.store import STATE_FILE, RunStore


@dataclass(frozen=True)
class RunResult:
    population: int
    generation: int
    exported: int
    dataset: Path


def run(
    cfg: Config,
    engines: Mapping[str, Engine] | None = None,
    on_generation: Callable[[int, GenerationStats], None] | None = None,
) -> RunResult:
    """_run under the run directory's write lock (run_lock.RunBusy if another process
    writes it): the one entry point that writes a run's state."""
    validate(cfg)  # a bad config leaves no run directory behind
    with run_lock.exclusive(cfg.run_dir):
        return _run(cfg, engines, on_generation)


def _run(
    cfg: Config,
    engines: Mapping[str, Engine] | None = None,
    on_generation: Callable[[int, GenerationStats], None] | None = None,
) -> RunResult:
    """Validate everything cheap first, then evolve and export. `engines` share loaded models.

    `on_generation` is called after each generation is committed and exported (benchmarks
    time generations with it).

    Raises interrupts.Interrupted after SIGINT/SIGTERM, with all finished work saved.
    """
    seeds: list[Individual] | None = None
    if not (Path(cfg.run_dir) / STATE_FILE).exists():
        seeds = load_seeds(cfg.seeds)  # a bad seed file fails before anything is written
    display = RunDisplay(cfg.progress)
    store = RunStore(cfg.run_dir)
    try:
        check_resume(store, cfg)
        if store.generation is None and seeds is None:
            seeds = load_seeds(cfg.seeds)

        def after_generation(generation: int, stats: GenerationStats) -> None:
            sync_export(store, cfg.export.path, cfg.export.include_seeds)
            if on_generation is not None:
                on_generation(generation, stats)

        with interrupts.stop_at_safe_points():
            try:
                evo = evolve(cfg, store, display, seeds or [], engines, after_generation)
            except Exception:
                signum = interrupts.requested()
                if signum is not None:  # an engine that died of the same Ctrl-C
                    raise interrupts.Interrupted(signum) from None
                raise
        exported = sync_export(store, cfg.export.path, cfg.export.include_seeds)
        report = write_report(store, cfg)
        card = write_dataset_card(cfg.export.path, cfg, store, exported, report=report)
        display.line(
            f"exported {exported} records to {cfg.export.path} (card: {card}); "
            f"report: {store.path.parent / REPORT_HTML}"
        )
        return RunResult(len(evo.population), store.generation or 0, exported, Path(cfg.export.path))
    finally:
        store.close()
