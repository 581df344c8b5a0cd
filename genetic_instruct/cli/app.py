"""`genetic-instruct [run|export|inspect|report|verify|decontaminate|calibrate] [key=value ...]`:
Hydra apps over one config.

`run` (the default) grows the population, resuming when the run directory has state;
`export` brings the dataset file up to date; `inspect` prints progress per generation;
`verify` checks the run state's integrity; `decontaminate` re-checks an exported dataset
(`export.path`) against the run's benchmark sets (or those given) and writes a clean copy
beside it; `calibrate` measures whether the judge separates correct from faulty solutions.
Bad input (config, seed file, run state), and a platform that refuses the sandbox's
isolation, print one line and exit 2.

The run directory is the truth: only a run that accepted its config records it there
(`.hydra/`), and the other commands only read the run state, so they work on read-only
media too (writing their output elsewhere: `export.path`, `report_dir`).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException
from rich.table import Table

from genetic_instruct.cli import help as cli_help
from genetic_instruct.cli.composition import one_line, reject_unknown_keys
from genetic_instruct.cli.sweep import point_run_dir, refuse_unnamed_sweeps
from genetic_instruct.config import (
    Config,
    DecontaminationConfig,
    ExportFormat,
    register_configs,
    validate,
)
from genetic_instruct.errors import (
    ConfigError,
    EngineLost,
    InputError,
    Interrupted,
    SandboxUnavailable,
)
from genetic_instruct.export.dataset import copy_export, export_parquet, is_run_dataset, sync_export
from genetic_instruct.files.shipped import conf_dir
from genetic_instruct.run import lock as run_lock
from genetic_instruct.state.meta import ENGINE_LOST, MAX_GENERATIONS, STALLED, TARGET_REACHED
from genetic_instruct.state.store import RunStore, require_state

EXIT_BAD_INPUT = 2
# Why a run stopped tells a scheduler (Slurm, a sweep) whether to look: 0 for a stop the
# config asked for, 3 for a stall, 75 (EX_TEMPFAIL: try again later) for a lost engine;
# 128+N for signal N.
EXIT_CODES = {TARGET_REACHED: 0, MAX_GENERATIONS: 0, STALLED: 3, ENGINE_LOST: 75}
EXIT_READER_GONE = 141  # as a shell reports a command that SIGPIPE ended (128 + 13)

register_configs()


def to_config(cfg: DictConfig) -> Config:
    """The typed config, validated; missing, unknown or invalid keys become a ConfigError."""
    reject_unknown_keys(cfg)
    try:
        config = OmegaConf.to_object(cfg)
    except MissingMandatoryValue as error:
        raise ConfigError(f"config key {error.full_key}: must be set") from None
    except OmegaConfBaseException as error:
        raise ConfigError(f"config key {error.full_key}: {error.msg}") from None
    assert isinstance(config, Config)
    validate(config)
    return config


Task = Callable[[Config, DictConfig], None]  # the typed config, and as composed


def _guarded(task: Task) -> Callable[[DictConfig], None]:
    """Turn InputError and SandboxUnavailable into a one-line message and exit code 2."""

    def wrapper(cfg: DictConfig) -> None:
        _State.started = True
        point_run_dir(cfg)
        try:
            task(to_config(cfg), cfg)
        except InputError as error:
            _bad_input(str(error))
        except SandboxUnavailable as error:
            _bad_input(_sandbox_refused(error))
        except BrokenPipeError:  # `inspect | head`: the reader has what it wanted
            _quiet_stdout()
            raise SystemExit(EXIT_READER_GONE) from None

    return wrapper


def _sandbox_refused(error: SandboxUnavailable) -> str:
    """The platform's fault, not the run's (seed checks, calibration and the execution stage
    all run code in the sandbox): what it refused, and the ways out, by their keys."""
    return (
        f"{error}; generated code only runs isolated: run where unprivileged user namespaces "
        "are allowed (or as root), or run no code: execution.enabled=false with a numeric "
        "fitness.threshold (threshold=auto calibrates the judge on seed solutions it runs)"
    )


class _State:
    started = False  # whether Hydra got as far as our task (else: a config compose error)


def _unwound(task: Task) -> Task:
    """A command that only writes files: a signal stops it at once, and the files it was
    writing are removed (interrupts.unwinding), never left half-written or as debris."""
    from genetic_instruct.console.interrupts import unwinding

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


def _run(cfg: Config, composed: DictConfig) -> None:
    """Grow the population until evolution.target_size; resumes when run_dir has state.

    Writes run_dir/state.sqlite, the dataset (export.path, with its card export.card beside
    it) after each generation, and report.html/json (report_dir) at the end. Ctrl-C stops
    at a safe point; the same command resumes. Settings that shape the data may not change
    on resume (force_resume=true overrides); fresh=true starts over, moving the old files
    aside. Exit 0 done, 2 bad input or a platform that refuses the sandbox, 3 stalled,
    75 engine lost.
    """
    from genetic_instruct.report import save_config
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
        print(f"{result.end.message}; exported {result.exported} records to {result.dataset}")


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


def _open_existing(cfg: Config, read_only: bool = True) -> RunStore:
    """The run's state, never created here; read-only unless the caller keeps it current."""
    require_state(cfg.run_dir)
    return RunStore(cfg.run_dir, read_only=read_only)


@contextmanager
def _output(path: str | Path, key: str) -> Iterator[None]:
    """An output that cannot be written (read-only media, full disk) is bad input: one line."""
    try:
        yield
    except OSError as error:
        raise InputError(
            f"{path}: cannot write here ({error.strerror}); choose another place with {key}=..."
        ) from None


def _export(cfg: Config, _: DictConfig) -> None:
    """Write the run's dataset (export.path) and its card (export.card, beside it).

    The run's own dataset is kept by its writer, so exporting there takes the run's lock;
    an export to any other path (also from a run on read-only media) only reads the run.
    A file there that genetic-instruct did not write is never overwritten.
    """
    from genetic_instruct.export.card import check_export_target, write_dataset_card
    from genetic_instruct.report import current_report, saved_config
    from genetic_instruct.state.meta import RUN_ID

    with _open_existing(cfg, read_only=not os.access(cfg.run_dir, os.W_OK)) as store:
        # the card's place too, before the dataset is written
        check_export_target(cfg.run_dir, store.meta.get(RUN_ID), cfg.export)
        run_cfg = dataclasses.replace(saved_config(cfg.run_dir) or cfg, export=cfg.export)
        with _output(cfg.export.path, "export.path"):
            if cfg.export.format == ExportFormat.parquet:  # rewritten whole: no run state
                count = export_parquet(store, cfg.export)
            elif is_run_dataset(store, cfg.export.path):
                with run_lock.exclusive(cfg.run_dir):
                    count = sync_export(store, cfg.export.path, cfg.export.include_seeds)
            else:
                count = copy_export(store, cfg.export.path, cfg.export.include_seeds)
            card = write_dataset_card(
                cfg.export.path, run_cfg, store, count, report=current_report(store)
            )
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
    from genetic_instruct.calibration import CALIBRATION_JSON, calibrate
    from genetic_instruct.console import engine_logs
    from genetic_instruct.console.display import RunDisplay
    from genetic_instruct.executors import open_executor
    from genetic_instruct.llm.preflight import check_engines
    from genetic_instruct.seeding.seed_file import load_seed_file

    seeds = load_seed_file(cfg.seeds, cfg.seeds_format).seeds
    check_engines(cfg)
    display = RunDisplay(cfg.progress)
    with (
        _stops_when_engine_lost(cfg, "its answers are journaled"),
        run_lock.exclusive(cfg.run_dir),
        RunStore(cfg.run_dir) as store,
        engine_logs.routed(cfg.run_dir, cfg.verbose),
    ):
        executor = open_executor(cfg, None, display)
        try:
            found = calibrate(
                cfg, store, executor, display, seeds, (), cfg.execution.sandbox_limits()
            )
        finally:
            executor.close()
    print(f"{found.line()} ({Path(cfg.run_dir) / CALIBRATION_JSON})")


def _verify(cfg: Config, _: DictConfig) -> None:
    """Check the integrity of run_dir's state, and that its dataset (JSONL; also the one at
    export.path) is valid and this run's, record for record; exit 1, one line per problem."""
    from genetic_instruct.export.identity import dataset_problems

    with _open_existing(cfg) as store:
        with store.snapshot():
            problems = store.integrity_problems() + dataset_problems(store, cfg.export)
            size = store.population_size()
    for problem in problems:
        print(f"{cfg.run_dir}: {problem}", file=sys.stderr)
    if problems:
        raise SystemExit(1)
    print(f"{cfg.run_dir}: ok ({size} individuals)")


def _inspect(cfg: Config, _: DictConfig) -> None:
    """Print run_dir's progress: per generation, tried, accepted and top rejection reasons."""
    from genetic_instruct.console.display import text_console
    from genetic_instruct.state.meta import CALIBRATION

    with _open_existing(cfg) as store:
        with store.snapshot():
            print(f"{cfg.run_dir}: generation {store.generation}")  # a title would wrap it
            table = Table()
            for column in ("generation", "tried", "accepted", "acceptance", "population"):
                table.add_column(column, justify="right")
            table.add_column("rejected (top reasons)")
            for row in store.generation_stats():
                tried = row.get("tried", 0)
                accepted = row.get("accepted", row.get("seeds", 0))
                reasons = sorted(row.get("rejected", {}).items(), key=lambda kv: -kv[1])[:3]
                table.add_row(
                    str(row["generation"]),
                    str(tried),
                    str(accepted),
                    f"{accepted / tried:.0%}" if tried else "-",
                    str(row.get("population", accepted)),
                    ", ".join(f"{k} {v}" for k, v in reasons),
                )
            console = text_console()
            console.print(table, width=None if console.is_terminal else 160)
            print(f"population {store.population_size()}")
            calibration = store.meta.get(CALIBRATION)
            if calibration is not None:
                print(calibration.line())


def _report(cfg: Config, _: DictConfig) -> None:
    """Write report.html and report.json (report_dir) with metrics and plots of run_dir.

    The run is described by the config it was started with (run_dir/.hydra/).
    """
    from genetic_instruct.report import REPORT_HTML, saved_config, write_report

    with _open_existing(cfg) as store:
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
    from genetic_instruct.dedup.from_config import build_contamination_checker
    from genetic_instruct.export.recheck import recheck_dataset

    sets, source = _decontamination_sets(cfg)
    checker = build_contamination_checker(sets, cfg.seed)
    if checker is None:
        raise ConfigError(
            f"config key decontamination: no benchmark set to check against in {source} "
            "(enabled=false, or humaneval=false and no benchmarks)"
        )
    names = ["humaneval"] * sets.humaneval + [bench.name for bench in sets.benchmarks]
    result = recheck_dataset(cfg.export.path, checker, dataclasses.asdict(sets))
    print(
        f"checked {result.checked} records of {cfg.export.path} against {', '.join(names)} "
        f"({source}; {len(checker)} benchmark texts): dropped {result.dropped}, kept "
        f"{result.checked - result.dropped} in {result.clean_path} (report: {result.report_path})"
    )


def _decontamination_sets(cfg: Config) -> tuple[DecontaminationConfig, str]:
    """The sets to check against and where they come from, in words."""
    from genetic_instruct.report import saved_config
    from genetic_instruct.report.saved_config import SAVED_CONFIG

    overrides = HydraConfig.get().overrides.task
    if any(o.lstrip("+~").startswith("decontamination") for o in overrides):
        return cfg.decontamination, "the sets given on the command line"
    saved = saved_config(cfg.run_dir)
    if saved is None:
        return cfg.decontamination, f"the default sets: no run config in {cfg.run_dir}"
    return saved.decontamination, f"the run's sets, from {Path(cfg.run_dir) / SAVED_CONFIG}"


_COMMANDS: dict[str, Task] = {
    "run": _run,
    "export": _unwound(_export),
    "inspect": _inspect,
    "report": _unwound(_report),
    "verify": _verify,
    "calibrate": _calibrate,
    "decontaminate": _unwound(_decontaminate),
}


def _answer_before_hydra(args: list[str]) -> str | None:
    """The text that answers help or version (Hydra's pages describe Hydra), else None;
    a mistyped command exits 2 here, before Hydra reads it as a malformed override."""
    first = args[0] if args else ""
    if first in cli_help.VERSION_FLAGS:
        return cli_help.version()
    if first in _COMMANDS and any(a in cli_help.HELP_FLAGS for a in args[1:]):
        return cli_help.command_help(first, _COMMANDS[first])
    if first and first not in _COMMANDS and cli_help.looks_like_command(first):
        _bad_input(cli_help.unknown_command(first, _COMMANDS))
    if any(a in cli_help.HELP_FLAGS for a in args):
        return cli_help.main_help(_COMMANDS)
    return None


def _print_to_pager(text: str) -> None:
    """Print, also when the reader stops early (`--help | head`): no BrokenPipe traceback."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        _quiet_stdout()


def _quiet_stdout() -> None:
    """Python flushes stdout again at exit; point it at /dev/null so that one is quiet too."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _bad_input(message: str) -> NoReturn:
    print(f"genetic-instruct: error: {message}", file=sys.stderr)
    raise SystemExit(EXIT_BAD_INPUT)


def main() -> None:
    """Console entry point: pick the command, then hand the rest of argv to Hydra."""
    args = sys.argv[1:]
    answer = _answer_before_hydra(args)
    if answer is not None:
        _print_to_pager(answer)
        return
    name = args.pop(0) if args and args[0] in _COMMANDS else cli_help.DEFAULT_COMMAND
    try:
        refuse_unnamed_sweeps(args)
    except InputError as error:
        _bad_input(str(error))
    sys.argv = [f"{sys.argv[0]} {name}", *args]
    app = hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="config")(
        _guarded(_COMMANDS[name])
    )
    # Hydra then raises composition errors instead of printing them over several lines.
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        app()
    except Exception as error:
        if _State.started:  # past composition: a bug, whose traceback is wanted
            raise
        print(f"genetic-instruct: error: {one_line(error)}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT) from None


if __name__ == "__main__":
    main()
