"""A platform that refuses the sandbox's isolation: one line and exit 2, wherever code runs.

The platform is real: the CLI runs under `unshare --user`, in a user namespace that maps no
uid, where a process may create no namespace (as the sandbox's tests find too). Code runs in
three places: the check of new seeds, the judge's calibration and the execution stage.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from genetic_instruct.files.shipped import builtin_seeds_path

from .conftest import CLI, run_cli

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("unshare"),
    reason="needs root and unshare(1) to make a user namespace that refuses namespaces",
)

BASE = ["engine=scripted", "progress=false", "evolution.max_generations=1"]


def _refused(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI under a platform that refuses namespaces, with its own cache folder (no seed
    set is remembered as passed there)."""
    cache = {"GENETIC_INSTRUCT_CACHE": str(tmp_path / "cache")}
    return run_cli(*args, env=cache, command=("unshare", "--user", *CLI))


def _assert_one_line(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "refused by the platform" in lines[0] and "execution.enabled=false" in lines[0]


def _untested_seeds(path: Path) -> Path:
    """The builtin seeds without their tests: a new run then runs no seed in the sandbox."""
    lines = []
    for line in builtin_seeds_path().read_text().splitlines():
        seed = json.loads(line)
        seed.pop("tests", None)
        lines.append(json.dumps(seed))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_check_of_new_seeds(tmp_path: Path) -> None:
    _assert_one_line(_refused(tmp_path, *BASE, f"run_dir={tmp_path / 'run'}"))


def test_the_execution_stage(tmp_path: Path) -> None:
    seeds = _untested_seeds(tmp_path / "seeds.jsonl")
    result = _refused(tmp_path, *BASE, f"run_dir={tmp_path / 'run'}", f"seeds={seeds}")
    _assert_one_line(result)
    assert "generation 1" not in result.stdout  # it stopped in the generation, committing none


def test_calibration(tmp_path: Path) -> None:
    _assert_one_line(_refused(tmp_path, "calibrate", *BASE, f"run_dir={tmp_path / 'run'}"))
