"""The judge's calibration as a run uses it, and the `calibrate` command that runs it alone.

A run with fitness.threshold=auto (or calibration.at_start) calibrates its judge on its
committed seeds before generation 1, and gates on the outcome only if the judge separates
right from wrong. `genetic-instruct calibrate` measures the same from the seed file, in
the same run directory: its judge calls are journaled there, so an interrupted
calibration resumes, and a later run there reuses it while nothing it depends on changed.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from genetic_instruct.calibration import CALIBRATION_JSON, calibrate
from genetic_instruct.config import Config, calibrates, run_languages
from genetic_instruct.evolution.fitness import FitnessGate, fitness_gate
from genetic_instruct.executors import Executor
from genetic_instruct.run.opening import OpenRun, open_run
from genetic_instruct.seeding.seed_file import load_seed_file
from genetic_instruct.state.meta import FAILING_SEEDS, Calibration


def run_gate(opened: OpenRun, executor: Executor) -> FitnessGate:
    """The gate of a run whose seeds are committed: calibrating first when it asks to."""
    cfg, store = opened.cfg, opened.store
    if not calibrates(cfg):
        return fitness_gate(cfg, None)
    seeds = list(itertools.takewhile(lambda ind: ind.generation == 0, store.individuals()))
    failing = store.meta.get(FAILING_SEEDS) or []
    limits = cfg.execution.sandbox_limits()
    calibration = calibrate(cfg, store, executor, opened.display, seeds, failing, limits)
    opened.display.line(calibration.line())
    return fitness_gate(cfg, calibration)


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
