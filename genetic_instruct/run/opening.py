"""A run directory opened for writing, wired once for every command that writes it.

`run` and `calibrate` both check their engines before anything is written (preflight),
then hold the run's lock, show progress, open the state and send engine logs to run.log,
in that order and in one place. The engines themselves load only when `executor()` is
entered: a run first commits what needs no engine (its seeds).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from genetic_instruct.config import Config
from genetic_instruct.console import engine_logs
from genetic_instruct.console.display import RunDisplay
from genetic_instruct.executors import Executor, open_executor
from genetic_instruct.llm.base import Engine
from genetic_instruct.llm.preflight import check_engines
from genetic_instruct.run import lock
from genetic_instruct.run.fresh_start import move_aside
from genetic_instruct.seeding.seed_file import SeedFile
from genetic_instruct.state.store import RunStore


@dataclass(frozen=True)
class OpenRun:
    cfg: Config
    store: RunStore
    display: RunDisplay
    seed_file: SeedFile | None  # None: a resumed run whose seed file is gone (stored seeds)
    engines: Mapping[str, Engine] | None  # loaded by the caller (tests, benchmarks share one)

    @contextmanager
    def executor(self) -> Iterator[Executor]:
        """The run's engines (cfg.executor), loaded for the block and closed after it."""
        executor = open_executor(self.cfg, self.engines, self.display)
        try:
            yield executor
        finally:
            executor.close()


@contextmanager
def open_run(
    cfg: Config,
    seed_file: SeedFile | None,
    engines: Mapping[str, Engine] | None = None,
    *,
    fresh: bool = False,
) -> Iterator[OpenRun]:
    """Check the engines, then hold the run's lock (lock.RunBusy if another process
    writes it) with its state open and engine logs routed for the block. `fresh` first
    moves an earlier run's files aside, under the lock."""
    check_engines(cfg, skip=engines or {})
    with lock.exclusive(cfg.run_dir):
        display = RunDisplay(cfg.progress)
        if fresh:
            moved = move_aside(cfg)
            if moved is not None:
                display.line(
                    f"fresh=true: moved {moved[1]} entries of the earlier run to {moved[0]}"
                )
        with RunStore(cfg.run_dir) as store, engine_logs.routed(cfg.run_dir, cfg.verbose):
            yield OpenRun(cfg, store, display, seed_file, engines)
