"""The judge's calibration as a run uses it, and the `calibrate` command that runs it alone.

A run with fitness.threshold=auto (or calibration.at_start) calibrates its judge on its
committed seeds and gates on the outcome only if the judge separates right from wrong. The
calibration rides in generation 1's flow (evolution/awaited_gate.py): its sandbox runs and
judge requests overlap the generation's Instructor and Coder requests, and only decisions
on verdicts wait for it, so the engines are not left to drain before the run begins.
`genetic-instruct calibrate` measures the same from the seed file, in the same run
directory: its judge calls are journaled there, so an interrupted calibration resumes, and
a later run there reuses it while nothing it depends on changed.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

from genetic_instruct.calibration import CALIBRATION_JSON, calibrate
from genetic_instruct.calibration.measure import calibration_to_make
from genetic_instruct.config import Config, calibrates, run_languages
from genetic_instruct.evolution.awaited_gate import GateToCome
from genetic_instruct.evolution.fitness import FitnessGate, fitness_gate
from genetic_instruct.evolution.flow import Flow
from genetic_instruct.executors import Executor
from genetic_instruct.run.opening import OpenRun, open_run
from genetic_instruct.seeding.seed_file import load_seed_file
from genetic_instruct.state.meta import FAILING_SEEDS, Calibration


def run_gate(opened: OpenRun, executor: Executor, alone: bool) -> FitnessGate | GateToCome:
    """The gate of a run whose seeds are committed: known now (a fixed threshold, or a
    stored calibration still valid), or the calibration that measures it in the next
    generation's flow; `alone` (no generation will run) measures it here instead."""
    cfg, store = opened.cfg, opened.store
    if not calibrates(cfg):
        return fitness_gate(cfg, None)
    seeds = list(itertools.takewhile(lambda ind: ind.generation == 0, store.individuals()))
    failing = store.meta.get(FAILING_SEEDS) or []
    limits = cfg.execution.sandbox_limits()
    found = calibration_to_make(cfg, store, seeds, failing, limits)
    if isinstance(found, Calibration):
        return _gate(opened, found)
    if alone:
        measured = calibrate(cfg, store, executor, opened.display, seeds, failing, limits)
        return _gate(opened, measured)

    def to_come(flow: Flow, decided: Callable[[FitnessGate], None]) -> None:
        found.start(flow, lambda calibration: decided(_gate(opened, calibration)))

    return to_come


def _gate(opened: OpenRun, calibration: Calibration) -> FitnessGate:
    opened.display.line(calibration.line())
    return fitness_gate(opened.cfg, calibration)


def calibrate_run(cfg: Config) -> tuple[Calibration, Path]:
    """The `calibrate` command's job: the calibration, and the file it is written to."""
    seed_file = load_seed_file(cfg.seeds, cfg.seeds_format, list(run_languages(cfg)))
    with open_run(cfg, seed_file) as opened, opened.executor() as executor:
        found = calibrate(
            cfg,
            opened.store,
            executor,
            opened.display,
            seed_file.seeds,
            (),
            cfg.execution.sandbox_limits(),
        )
    return found, Path(cfg.run_dir) / CALIBRATION_JSON
