"""`run(cfg)`: the whole job — seeds, evolution (resuming from the run directory), export."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from genetic_instruct.calibration.test_oracle import run_oracle
from genetic_instruct.config import Config, roles_in_use, run_languages
from genetic_instruct.config_checks import validate
from genetic_instruct.console import interrupts
from genetic_instruct.errors import EngineLost, Interrupted
from genetic_instruct.export.card import card_output, check_export_target, write_dataset_card
from genetic_instruct.export.dataset import sync_dataset
from genetic_instruct.files.ownership import refuse_foreign
from genetic_instruct.files.shipped import resolve_seeds_path
from genetic_instruct.llm.base import Engine
from genetic_instruct.llm.reproducibility import model_reproducibility, run_reproducibility
from genetic_instruct.report import REPORT_HTML, report_outputs, write_report
from genetic_instruct.report.row_signals import tokens_line
from genetic_instruct.run.compatibility import check_resume
from genetic_instruct.run.fresh_start import refuse_orphaned_dataset
from genetic_instruct.run.generations import grow
from genetic_instruct.run.opening import OpenRun, open_run
from genetic_instruct.seeding.reference_runs import check_seed_tests
from genetic_instruct.seeding.screening import screen_seeds
from genetic_instruct.seeding.seed_file import SeedFile, load_seed_file, seeds_digest
from genetic_instruct.state.database import has_state
from genetic_instruct.state.generation_stats import GenerationStats
from genetic_instruct.state.meta import (
    ENGINE_LOST,
    FAILING_SEEDS,
    INTERRUPTED,
    REPRODUCIBILITY,
    RUN_END,
    RUN_ID,
    TEST_ORACLE,
    WITHHELD_SEEDS,
    Reproducibility,
    RunEnd,
)
from genetic_instruct.state.store import RunStore


@dataclass(frozen=True)
class RunResult:
    population: int
    generation: int
    exported: int
    dataset: Path
    end: RunEnd
    cost: str | None  # what a kept row cost in tokens, the run's last line


def run(
    cfg: Config,
    engines: Mapping[str, Engine] | None = None,
    on_generation: Callable[[int, GenerationStats], None] | None = None,
    on_accepted: Callable[[], None] | None = None,
) -> RunResult:
    """Check everything cheap that writes nothing, then evolve and export with the run
    directory open (run/opening.py; lock.RunBusy if another process writes it): the one
    entry point that writes a run's state. `engines` share loaded models.

    `on_generation` is called after each generation is committed and exported (benchmarks
    time generations with it). `on_accepted` is called once the run directory has accepted
    this config (the CLI records the config then, and never for a refused resume).

    Raises Interrupted after SIGINT/SIGTERM, with all finished work saved.
    """
    validate(cfg)  # a bad config, seed file or engine leaves no run directory behind
    new = cfg.fresh or not has_state(cfg.run_dir)
    if not cfg.fresh:
        refuse_orphaned_dataset(cfg)
    seed_file = _seed_file(cfg, new)
    withheld = screen_seeds(cfg, seed_file) if seed_file and new else None
    # A resumed run's store vouches for its dataset (sync_dataset); the rest must be ours.
    dataset = [(Path(cfg.export.path), "export.path")] if new else []
    refuse_foreign(
        [*dataset, card_output(cfg.export.path, cfg.export.card), *report_outputs(cfg.report_dir)]
    )
    if new:  # before its state exists; a resumed run is checked with its id (_run)
        check_export_target(cfg.run_dir, None, cfg.export)
    failing = check_seed_tests(cfg, seed_file, _warn) if seed_file and new else None
    with open_run(cfg, seed_file, engines, fresh=cfg.fresh) as opened:
        return _run(opened, on_generation, on_accepted, withheld, failing)


def _run(
    opened: OpenRun,
    on_generation: Callable[[int, GenerationStats], None] | None,
    on_accepted: Callable[[], None] | None,
    withheld: list[str] | None,
    failing: list[str] | None,
) -> RunResult:
    """The run itself, with its directory open; the seed file, its screening and its tests
    come checked."""
    cfg, store, display, seed_file = opened.cfg, opened.store, opened.display, opened.seed_file
    check_resume(store, cfg, None if seed_file is None else seeds_digest(seed_file.seeds))
    check_export_target(cfg.run_dir, store.meta.get(RUN_ID), cfg.export)
    if store.generation is None:  # the seeds are not committed yet
        seed_file = seed_file or load_seed_file(
            cfg.seeds, cfg.seeds_format, list(run_languages(cfg))
        )
        if withheld is None:
            withheld = screen_seeds(cfg, seed_file)
        store.meta.set(WITHHELD_SEEDS, withheld)
        if failing is None:
            failing = check_seed_tests(cfg, seed_file, _warn)
        store.meta.set(FAILING_SEEDS, failing)
    _record_reproducibility(cfg, store)
    if seed_file is not None:
        oracle = run_oracle(cfg, seed_file.seeds, store.meta.get(TEST_ORACLE))
        if oracle is not None:
            store.meta.set(TEST_ORACLE, oracle)
    if on_accepted is not None:
        on_accepted()

    target = cfg.evolution.target_size
    if store.generation is not None:
        display.population(store.population_size(), target)

    def after_generation(generation: int, stats: GenerationStats) -> None:
        sync_dataset(store, cfg.export)
        display.population(store.population_size(), target)
        if on_generation is not None:
            on_generation(generation, stats)

    with interrupts.stop_at_safe_points():
        try:
            seeds = seed_file.seeds if seed_file is not None else []
            population, end = grow(opened, seeds, after_generation)
        except EngineLost as lost:
            store.meta.set(RUN_END, RunEnd(ENGINE_LOST, f"lost its engine: {lost}"))
            raise
        except Interrupted as stop:
            store.meta.set(RUN_END, RunEnd(INTERRUPTED, f"was stopped by {stop}"))
            raise
        except Exception:
            signum = interrupts.requested()
            if signum is not None:  # an engine that died of the same Ctrl-C
                stopped = RunEnd(INTERRUPTED, f"was stopped by signal {signum}")
                store.meta.set(RUN_END, stopped)
                raise Interrupted(signum) from None
            raise
    store.meta.set(RUN_END, end)
    exported = sync_dataset(store, cfg.export)
    report = write_report(store, cfg)
    card = write_dataset_card(cfg.export.path, cfg, store, exported, report=report)
    cost = tokens_line(report["tokens_per_accepted"])  # the last words: what a row cost
    display.line(
        f"{end.message}; exported {exported} records to {cfg.export.path} (card: {card}); "
        f"report: {Path(cfg.report_dir) / REPORT_HTML}" + (f"; {cost}" if cost else "")
    )
    return RunResult(population, store.generation or 0, exported, Path(cfg.export.path), end, cost)


def _record_reproducibility(cfg: Config, store: RunStore) -> None:
    """Whether this run can be made again, kept over its starts (a resume on a machine that
    cannot repeat it makes the whole run not reproducible); the one line where a model
    asked for batch invariance and cannot have it."""
    models = {getattr(cfg.roles, role).model for role in roles_in_use(cfg)}
    found = {name: model_reproducibility(name, cfg.models[name]) for name in sorted(models)}
    for name, (ok, why) in found.items():
        if cfg.models[name].batch_invariant and ok is False:
            _warn(f"{why}: this run is not reproducible")
    verdict, why = run_reproducibility(found)
    before = store.meta.get(REPRODUCIBILITY)
    if before is not None and before.reproducible is False and verdict is not False:
        return  # an earlier start could not repeat its answers
    store.meta.set(REPRODUCIBILITY, Reproducibility(verdict, why))


def _warn(line: str) -> None:
    """A line the user must see, with or without progress output."""
    print(f"genetic-instruct: {line}", file=sys.stderr)


def _seed_file(cfg: Config, new: bool) -> SeedFile | None:
    """The seed file, validated; None on a resume whose seed file is gone (its seeds are
    stored). On a resume its content is still compared with the run's (check_resume)."""
    if new or resolve_seeds_path(cfg.seeds).exists():
        return load_seed_file(cfg.seeds, cfg.seeds_format, list(run_languages(cfg)))
    return None
