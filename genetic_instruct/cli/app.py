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

import os
import sys
from collections.abc import Callable
from typing import NoReturn

import hydra
from omegaconf import DictConfig

from genetic_instruct.cli import help as cli_help
from genetic_instruct.cli.commands import COMMANDS, Task, inspect_rejected
from genetic_instruct.cli.composition import one_line, to_config
from genetic_instruct.cli.sweep import point_run_dir, refuse_unnamed_sweeps
from genetic_instruct.errors import InputError, SandboxUnavailable
from genetic_instruct.files.shipped import conf_dir

EXIT_BAD_INPUT = 2
EXIT_READER_GONE = 141  # as a shell reports a command that SIGPIPE ended (128 + 13)


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


def _answer_before_hydra(args: list[str]) -> str | None:
    """The text that answers help or version (Hydra's pages describe Hydra), else None;
    a mistyped command exits 2 here, before Hydra reads it as a malformed override."""
    first = args[0] if args else ""
    if first in cli_help.VERSION_FLAGS:
        return cli_help.version()
    if first in COMMANDS and any(a in cli_help.HELP_FLAGS for a in args[1:]):
        return cli_help.command_help(first, COMMANDS[first])
    if first and first not in COMMANDS and cli_help.looks_like_command(first):
        _bad_input(cli_help.unknown_command(first, COMMANDS))
    if any(a in cli_help.HELP_FLAGS for a in args):
        return cli_help.main_help(COMMANDS)
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
    name = args.pop(0) if args and args[0] in COMMANDS else cli_help.DEFAULT_COMMAND
    task = COMMANDS[name]
    if name == "inspect":
        rejected, args = cli_help.take_option(args, cli_help.REJECTED)
        if rejected is not None:
            task = inspect_rejected(rejected)
    try:
        refuse_unnamed_sweeps(args)
    except InputError as error:
        _bad_input(str(error))
    sys.argv = [f"{sys.argv[0]} {name}", *args]
    app = hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="config")(
        _guarded(task)
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
