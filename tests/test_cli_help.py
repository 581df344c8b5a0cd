"""The CLI explains itself before Hydra: help lists the commands, typos get a suggestion."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from genetic_instruct import __version__
from genetic_instruct.cli.commands import COMMANDS
from genetic_instruct.cli.help import REJECTED, take_option

from .conftest import run_cli


def test_help_lists_every_command_and_where_the_full_config_is(tmp_path: Path) -> None:
    result = run_cli("--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Hydra" not in result.stdout.splitlines()[0]
    listed = [line.split()[0] for line in result.stdout.splitlines() if line.startswith("  ")]
    assert set(COMMANDS) <= set(listed)
    assert "--cfg job" in result.stdout and "evolution.target_size" in result.stdout


def test_a_commands_help_explains_that_command(tmp_path: Path) -> None:
    result = run_cli("inspect", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: genetic-instruct inspect")
    assert "rejection reasons" in result.stdout and "--rejected REASON" in result.stdout
    assert run_cli("export", "--help", cwd=tmp_path).stdout != result.stdout


@pytest.mark.parametrize(
    ("args", "value", "rest"),
    [
        (["run_dir=r", "--rejected", "coder_truncated"], "coder_truncated", ["run_dir=r"]),
        (["--rejected=judge_empty", "run_dir=r"], "judge_empty", ["run_dir=r"]),
        (["--rejected", "run_dir=r"], "", ["run_dir=r"]),  # alone: list the reasons
        (["run_dir=r", "--rejected"], "", ["run_dir=r"]),
        (["run_dir=r"], None, ["run_dir=r"]),
    ],
)
def test_inspects_option_is_taken_out_before_hydra(
    args: list[str], value: str | None, rest: list[str]
) -> None:
    assert take_option(args, REJECTED) == (value, rest)


def test_version_is_this_tools(tmp_path: Path) -> None:
    result = run_cli("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith(f"genetic-instruct {__version__}")


def test_a_mistyped_command_gets_a_suggestion_and_exit_2(tmp_path: Path) -> None:
    result = run_cli("inpsect", "run_dir=r", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "genetic-instruct: error: unknown command 'inpsect' (did you mean 'inspect'?)"
    )
    assert not (tmp_path / "r").exists()


def test_overrides_and_hydras_own_flags_still_reach_hydra(tmp_path: Path) -> None:
    """`run` stays the default; `--cfg` after overrides works; jobs are named for the tool."""
    result = run_cli("evolution.target_size=7", "+extra=1", "--cfg", "job", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "target_size: 7" in result.stdout
    hydra = run_cli("engine=scripted", "--cfg", "hydra", cwd=tmp_path)
    assert "name: genetic-instruct" in hydra.stdout
    assert "Hydra" in run_cli("--hydra-help", cwd=tmp_path).stdout


def test_help_into_a_pager_that_stops_early_prints_no_traceback() -> None:
    """`genetic-instruct --help | head`: the reader may close the pipe before the help is
    written (`true` closes it at once, long before Python has started)."""

    shell = f"{sys.executable} -m genetic_instruct.cli --help | true"
    done = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=60)
    assert done.stderr == ""


def test_a_command_into_a_pager_that_stops_early_prints_no_traceback(tmp_path: Path) -> None:
    """`genetic-instruct inspect ... | head` likewise, past Hydra: exit 141, as a shell
    reports a command that SIGPIPE ended, and nothing on stderr."""

    run_dir = tmp_path / "run"
    made = run_cli(
        "engine=scripted",
        f"run_dir={run_dir}",
        "evolution.max_generations=1",
        "progress=false",
        cwd=tmp_path,
    )
    assert made.returncode == 0, made.stderr
    shell = f"{sys.executable} -m genetic_instruct.cli inspect run_dir={run_dir} | true"
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", shell], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stderr) == (141, "")
