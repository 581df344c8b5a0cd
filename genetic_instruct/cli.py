"""`genetic-instruct [run|export|inspect|report|verify|decontaminate] [key=value ...]`:
Hydra apps over one config.

`run` (the default) grows the population, resuming when the run directory has state;
`export` brings the dataset file up to date; `inspect` prints progress per generation;
`verify` checks the run state's integrity; `decontaminate` re-checks an exported dataset
(`export.path`) against the configured benchmark sets and writes a clean copy beside it.
Bad input (config, seed file, run state) prints one line and exits 2.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException
from rich.console import Console
from rich.table import Table

from genetic_instruct.config import Config, register_configs, validate
from genetic_instruct.errors import ConfigError, InputError
from genetic_instruct import hydra_output, run_lock
from genetic_instruct.export import copy_export, is_run_dataset, sync_export
from genetic_instruct.store import STATE_FILE, RunStore
from genetic_instruct.sweep import point_run_dir

EXIT_BAD_INPUT = 2
# The repository's conf/ (the package is installed editable, beside it); absolute, because
# Hydra reads a relative config_path as a Python package when run from a console script.
CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")
_READ_ONLY_OVERRIDES = ["hydra.output_subdir=null", "hydra.run.dir=."]

register_configs()


def to_config(cfg: DictConfig) -> Config:
    """The typed config, validated; missing or invalid values become a ConfigError."""
    try:
        config = OmegaConf.to_object(cfg)
    except MissingMandatoryValue as error:
        raise ConfigError(f"config key {error.full_key}: must be set") from None
    except OmegaConfBaseException as error:
        raise ConfigError(f"config key {error.full_key}: {error.msg}") from None
    assert isinstance(config, Config)
    validate(config)
    return config


def _guarded(task: Callable[[Config], None]) -> Callable[[DictConfig], None]:
    """Turn InputError into a one-line message and exit code 2."""

    def wrapper(cfg: DictConfig) -> None:
        _State.started = True
        point_run_dir(cfg)
        try:
            task(to_config(cfg))
        except InputError as error:
            print(f"genetic-instruct: error: {error}", file=sys.stderr)
            raise SystemExit(EXIT_BAD_INPUT) from None

    return wrapper


class _State:
    started = False  # whether Hydra got as far as our task (else: a config compose error)


def _run(cfg: Config) -> None:
    from genetic_instruct.interrupts import Interrupted
    from genetic_instruct.runner import run

    try:
        with run_lock.exclusive(cfg.run_dir):
            hydra_output.save(cfg)
            run(cfg)
    except Interrupted as stop:
        print(
            f"genetic-instruct: stopped by {stop} at a safe point; finished work is saved in "
            f"{cfg.run_dir}. Resume with the same command.",
            file=sys.stderr,
        )
        raise SystemExit(128 + stop.signum) from None


def _open_existing(cfg: Config) -> RunStore:
    if not (Path(cfg.run_dir) / STATE_FILE).is_file():
        raise InputError(f"{cfg.run_dir}: no run state here (config key run_dir)")
    return RunStore(cfg.run_dir)


def _export(cfg: Config) -> None:
    """Bring the dataset up to date and rewrite its card (described by the run's own config).

    The run's own dataset is kept by its writer, so exporting there takes the run's lock;
    an export to any other path is a reader and works beside a running writer.
    """
    from genetic_instruct.dataset_card import write_dataset_card
    from genetic_instruct.report import current_report, saved_config

    store = _open_existing(cfg)
    try:
        if is_run_dataset(store, cfg.export.path):
            with run_lock.exclusive(cfg.run_dir):
                count = sync_export(store, cfg.export.path, cfg.export.include_seeds)
        else:
            count = copy_export(store, cfg.export.path, cfg.export.include_seeds)
        run_cfg = dataclasses.replace(saved_config(cfg.run_dir) or cfg, export=cfg.export)
        card = write_dataset_card(cfg.export.path, run_cfg, store, count,
                                  report=current_report(store))
    finally:
        store.close()
    print(f"exported {count} records to {cfg.export.path} (card: {card})")


def _verify(cfg: Config) -> None:
    """Integrity check; exit 1 when the state breaks an invariant (each problem on a line)."""
    store = _open_existing(cfg)
    try:
        with store.snapshot():
            problems = store.integrity_problems()
            size = store.population_size()
    finally:
        store.close()
    for problem in problems:
        print(f"{cfg.run_dir}: {problem}", file=sys.stderr)
    if problems:
        raise SystemExit(1)
    print(f"{cfg.run_dir}: ok ({size} individuals)")


def _inspect(cfg: Config) -> None:
    store = _open_existing(cfg)
    try:
        with store.snapshot():
            table = Table(title=f"{cfg.run_dir}: generation {store.generation}")
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
            console = Console()
            console.print(table, width=None if console.is_terminal else 160)
            print(f"population {store.population_size()}")
    finally:
        store.close()


def _report(cfg: Config) -> None:
    """Write report.html/json, describing the run by the config it was started with."""
    from genetic_instruct.report import REPORT_HTML, saved_config, write_report

    store = _open_existing(cfg)
    try:
        with store.snapshot():
            write_report(store, saved_config(cfg.run_dir) or cfg)
    finally:
        store.close()
    print(Path(cfg.run_dir) / REPORT_HTML)


def _decontaminate(cfg: Config) -> None:
    """Re-check the file at export.path (any JSONL dataset) against today's benchmark sets."""
    from genetic_instruct.evolution import build_contamination_checker
    from genetic_instruct.recheck import recheck_dataset

    checker = build_contamination_checker(cfg)
    if checker is None:
        raise ConfigError(
            "config key decontamination: no benchmark set to check against "
            "(enabled=false, or humaneval=false and no benchmarks)"
        )
    checked_against = dataclasses.asdict(cfg.decontamination)
    result = recheck_dataset(cfg.export.path, checker, checked_against)
    print(
        f"checked {result.checked} records of {cfg.export.path} against {len(checker)} "
        f"benchmark texts: dropped {result.dropped}, kept {result.checked - result.dropped} "
        f"in {result.clean_path} (report: {result.report_path})"
    )


_COMMANDS: dict[str, tuple[Callable[[Config], None], list[str]]] = {
    "run": (_run, []),
    "export": (_export, _READ_ONLY_OVERRIDES),
    "inspect": (_inspect, _READ_ONLY_OVERRIDES),
    "report": (_report, _READ_ONLY_OVERRIDES),
    "verify": (_verify, _READ_ONLY_OVERRIDES),
    "decontaminate": (_decontaminate, _READ_ONLY_OVERRIDES),
}


def main() -> None:
    """Console entry point: pick the command, then hand the rest of argv to Hydra."""
    args = sys.argv[1:]
    name = args.pop(0) if args and args[0] in _COMMANDS else "run"
    task, extra = _COMMANDS[name]
    sys.argv = [f"{sys.argv[0]} {name}", *args, *extra]
    app = hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="config")(
        _guarded(task)
    )
    try:
        app()
    except SystemExit as exit_:
        if exit_.code == 1 and not _State.started:  # Hydra could not compose the config
            raise SystemExit(EXIT_BAD_INPUT) from None
        raise


if __name__ == "__main__":
    main()
