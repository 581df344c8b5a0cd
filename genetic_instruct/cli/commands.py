"""The commands, one function each; its docstring is its `--help`.

Each takes the typed config (and the config as composed) and does the command's job
through the run and output layers: run/ for what writes or opens a run, export/ and
report/ for what a run hands out. What they print is for a person; failures are raised
and turned into one line and an exit code by app.py. Each imports what its job needs when
it runs, so `--help` and `--version` load none of it.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig
from rich.table import Table

from genetic_instruct.config import Config, DecontaminationConfig
from genetic_instruct.console.display import terminal_safe, text_console
from genetic_instruct.console.interrupts import unwinding
from genetic_instruct.errors import ConfigError, EngineLost, InputError, Interrupted
from genetic_instruct.report.saved_config import SAVED_CONFIG, save_config, saved_config
from genetic_instruct.state.meta import (
    ENGINE_LOST,
    MAX_GENERATIONS,
    STALLED,
    TARGET_REACHED,
)

Task = Callable[[Config, DictConfig], None]  # the typed config, and as composed
# Why a run stopped tells a scheduler (Slurm, a sweep) whether to look: 0 for a stop the
# config asked for, 3 for a stall, 75 (EX_TEMPFAIL: try again later) for a lost engine;
# 128+N for signal N.
EXIT_CODES = {TARGET_REACHED: 0, MAX_GENERATIONS: 0, STALLED: 3, ENGINE_LOST: 75}


def _unwound(task: Task) -> Task:
    """A command that only writes files: a signal stops it at once, and the files it was
    writing are removed (interrupts.unwinding), never left half-written or as debris."""

    @functools.wraps(task)
    def wrapper(cfg: Config, composed: DictConfig) -> None:
        try:
            with unwinding():
                task(cfg, composed)
        except Interrupted as stop:
            print(
                f"genetic-instruct: stopped by {stop}; nothing was half-written (the files "
                "being written were removed)",
                file=sys.stderr,
            )
            raise SystemExit(128 + stop.signum) from None

    return wrapper


@contextmanager
def _stops_when_engine_lost(cfg: Config, unfinished: str) -> Iterator[None]:
    """EngineLost (a server gone past its deadline, an engine process dead) is the engine's
    fault, not bad input: one line, and exit 75 (EX_TEMPFAIL), since the same command
    resumes from the journal. `unfinished` says what became of the work in flight."""
    try:
        yield
    except EngineLost as lost:
        print(
            f"genetic-instruct: stopped: engine lost: {lost}. Finished work is saved in "
            f"{cfg.run_dir}; {unfinished}. Resume with the same command once the engine is "
            "back.",
            file=sys.stderr,
        )
        raise SystemExit(EXIT_CODES[ENGINE_LOST]) from None


@contextmanager
def _output(path: str | Path, key: str) -> Iterator[None]:
    """An output that cannot be written (read-only media, full disk) is bad input: one line."""
    try:
        yield
    except OSError as error:
        raise InputError(
            f"{path}: cannot write here ({error.strerror}); choose another place with {key}=..."
        ) from None


def _run(cfg: Config, composed: DictConfig) -> None:
    """Grow the population until evolution.target_size; resumes when run_dir has state.

    Writes run_dir/state.sqlite, the dataset (export.path, with its card export.card beside
    it) after each generation, and report.html/json (report_dir) at the end. Ctrl-C stops
    at a safe point; the same command resumes. Settings that shape the data may not change
    on resume (force_resume=true overrides); fresh=true starts over, moving the old files
    aside. Exit 0 done, 2 bad input or a platform that refuses the sandbox, 3 stalled,
    75 engine lost.
    """
    from genetic_instruct.run.job import run

    overrides = list(HydraConfig.get().overrides.task)
    try:
        with _stops_when_engine_lost(cfg, "nothing of the unfinished generation was counted"):
            result = run(cfg, on_accepted=lambda: save_config(cfg.run_dir, composed, overrides))
    except Interrupted as stop:
        print(
            f"genetic-instruct: stopped by {stop} at a safe point; finished work is saved in "
            f"{cfg.run_dir}. Resume with the same command.",
            file=sys.stderr,
        )
        raise SystemExit(128 + stop.signum) from None
    if EXIT_CODES[result.end.reason]:
        print(f"genetic-instruct: {result.end.message}", file=sys.stderr)
        raise SystemExit(EXIT_CODES[result.end.reason])
    if not cfg.progress:  # the display is silent: still say why the run stopped
        cost = f"; {result.cost}" if result.cost else ""
        print(f"{result.end.message}; exported {result.exported} records to {result.dataset}{cost}")


def _export(cfg: Config, _: DictConfig) -> None:
    """Write the run's dataset (export.path) and its card (export.card, beside it).

    The run's own dataset is kept by its writer, so exporting there takes the run's lock;
    an export to any other path (also from a run on read-only media) only reads the run.
    A file there that genetic-instruct did not write is never overwritten.
    `export.where.COLUMN=CONDITION` writes only the rows meeting every condition, to a file
    of its own (e.g. export.where.difficulty=hard|medium export.where.pass_rate=:0.5
    export.path=hard.jsonl; columns: difficulty, origin, method, pass_rate, fitness,
    mutation_score, attempts, passed_attempts, generation), and prints the counts.
    """
    from genetic_instruct.run.existing import export_run

    with _output(cfg.export.path, "export.path"):
        count, card, selection = export_run(cfg)
    if selection is not None:
        print(selection.line())
    print(f"exported {count} records to {cfg.export.path} (card: {card})")


def _calibrate(cfg: Config, _: DictConfig) -> None:
    """Measure whether the judge separates correct from faulty solutions.

    Scores the reference solutions of seed tasks with tests (calibration.tasks) and faulty
    variants of them (mutants that fail the seed's own tests), then prints the ROC AUC with
    its interval and the threshold keeping calibration.keep_correct of correct solutions.
    Writes run_dir/calibration.json; its judge calls are journaled in run_dir's state, so an
    interrupted calibration resumes, and a run there with fitness.threshold=auto uses it.
    Exit 0 done, 2 bad input or a platform that refuses the sandbox, 75 engine lost.
    """
    from genetic_instruct.run.calibrate import calibrate_run

    with _stops_when_engine_lost(cfg, "its answers are journaled"):
        found, path = calibrate_run(cfg)
    print(f"{found.line()} ({path})")


def _verify(cfg: Config, _: DictConfig) -> None:
    """Check the integrity of run_dir's state, and that its dataset (JSONL; also the one at
    export.path) is valid and this run's, record for record; exit 1, one line per problem."""
    from genetic_instruct.export.identity import dataset_problems
    from genetic_instruct.run.existing import open_existing

    with open_existing(cfg) as store, store.snapshot():
        problems = store.integrity_problems() + dataset_problems(store, cfg.export)
        size = store.population_size()
    for problem in problems:
        print(f"{cfg.run_dir}: {problem}", file=sys.stderr)
    if problems:
        raise SystemExit(1)
    print(f"{cfg.run_dir}: ok ({size} individuals)")


def _inspect(cfg: Config, _: DictConfig) -> None:
    """Print run_dir's progress: per generation, tried, accepted and top rejection reasons.

    `--rejected REASON` prints instead the raw answers the run kept for that rejection
    reason (e.g. instructor_truncated; rejected_samples per role and reason, the first the
    run rejected, each cut to its first and last 2,000 characters), as plain text;
    `--rejected` alone lists the reasons that have some.
    """
    from genetic_instruct.report.run_truth import run_truth
    from genetic_instruct.run.existing import open_existing

    with open_existing(cfg) as store, store.snapshot():
        print(f"{cfg.run_dir}: generation {store.generation}")  # a title would wrap it
        table = Table()
        for column in ("generation", "tried", "accepted", "acceptance", "population"):
            table.add_column(column, justify="right")
        table.add_column("rejected (top reasons)")
        for stats in store.generation_stats():
            reasons = sorted(
                ((k, v) for k, v in stats.rejected.items() if v), key=lambda kv: -kv[1]
            )
            acceptance = stats.acceptance
            table.add_row(
                str(stats.generation),
                str(stats.tried),
                str(stats.accepted),
                "-" if acceptance is None else f"{acceptance:.0%}",
                str(stats.population),
                ", ".join(f"{k} {v}" for k, v in reasons[:3]),
            )
        # a file or a pipe gets whole lines, never a terminal's 80 columns
        console = text_console() if sys.stdout.isatty() else text_console(width=100_000)
        console.print(table)
        print(f"population {store.population_size()}")
        for line in run_truth(store, cfg):
            print(line)


def inspect_rejected(reason: str) -> Task:
    """`inspect --rejected REASON` (see _inspect): the answers kept for `reason`, or for ""
    the reasons that have some; exit 1 when there are none."""

    def task(cfg: Config, _: DictConfig) -> None:
        _print_rejected(cfg, reason)

    return task


def _print_rejected(cfg: Config, reason: str) -> None:
    from genetic_instruct.run.existing import open_existing

    with open_existing(cfg) as store, store.snapshot():
        counts = store.rejected_answer_counts()
        answers = store.rejected_answers(reason) if reason else []
    kept = sorted({r for _, r in counts})
    if not reason:
        for (role, name), n in sorted(counts.items(), key=lambda kv: kv[0][::-1]):
            print(f"{name} ({role}): {n} kept")
    for answer in answers:
        print(
            f"--- {answer.reason}: {answer.role} request {answer.request} of generation "
            f"{answer.generation} ---"
        )
        print(terminal_safe(answer.answer))
    if answers or (kept and not reason):
        return
    print(
        f"genetic-instruct: {cfg.run_dir}: no answers kept for {reason or 'any reason'}; "
        + (
            f"kept for: {', '.join(kept)}"
            if kept
            else "none kept (rejected_samples=0, or a run made before answers were kept)"
        ),
        file=sys.stderr,
    )
    raise SystemExit(1)


def _report(cfg: Config, _: DictConfig) -> None:
    """Write report.html and report.json (report_dir) with metrics and plots of run_dir.

    The run is described by the config it was started with (run_dir/.hydra/).
    """
    from genetic_instruct.report.run_page import REPORT_HTML, write_report
    from genetic_instruct.run.existing import open_existing

    with open_existing(cfg) as store:
        run_cfg = dataclasses.replace(saved_config(cfg.run_dir) or cfg, report_dir=cfg.report_dir)
        with _output(cfg.report_dir, "report_dir"), store.snapshot():
            write_report(store, run_cfg)
    print(Path(cfg.report_dir) / REPORT_HTML)


def _decontaminate(cfg: Config, _: DictConfig) -> None:
    """Re-check a dataset (export.path) against benchmark sets; write a clean copy beside it.

    Any JSONL dataset with `instruction` or chat `messages` works. The sets are the run's
    own (as saved in run_dir) unless decontamination.* is given. Writes x.clean.jsonl (the
    kept lines) and x.contamination.json (why each record was dropped) beside export.path.
    """
    from genetic_instruct.export.recheck import recheck_against

    sets, source = _decontamination_sets(cfg)
    result = recheck_against(cfg.export.path, sets, cfg.seed)
    if result is None:
        raise ConfigError(
            f"config key decontamination: no benchmark set to check against in {source} "
            "(enabled=false, or humaneval=false and no benchmarks)"
        )
    names = ["humaneval"] * sets.humaneval + [bench.name for bench in sets.benchmarks]
    print(
        f"checked {result.checked} records of {cfg.export.path} against {', '.join(names)} "
        f"({source}; {result.benchmark_texts} benchmark texts): dropped {result.dropped}, kept "
        f"{result.checked - result.dropped} in {result.clean_path} (report: {result.report_path})"
    )


def _decontamination_sets(cfg: Config) -> tuple[DecontaminationConfig, str]:
    """The sets to check against and where they come from, in words."""
    overrides = HydraConfig.get().overrides.task
    if any(o.lstrip("+~").startswith("decontamination") for o in overrides):
        return cfg.decontamination, "the sets given on the command line"
    saved = saved_config(cfg.run_dir)
    if saved is None:
        return cfg.decontamination, f"the default sets: no run config in {cfg.run_dir}"
    return saved.decontamination, f"the run's sets, from {Path(cfg.run_dir) / SAVED_CONFIG}"


COMMANDS: dict[str, Task] = {
    "run": _run,
    "export": _unwound(_export),
    "inspect": _inspect,
    "report": _unwound(_report),
    "verify": _verify,
    "calibrate": _calibrate,
    "decontaminate": _unwound(_decontaminate),
}
