"""Hydra sweeps: one run directory per point, resumed by re-running the sweep, compared."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

from genetic_instruct.state.store import RunStore

from .conftest import dataset_records, run_cli


def _sweep(root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "-m",
        "engine=scripted",
        "progress=false",
        "evolution.mutation_rate=0.25,0.75",
        f"run_dir={root}",
        *extra,
    )


def test_a_sweep_runs_each_point_in_its_own_directory_and_resumes(tmp_path: Path) -> None:
    root = tmp_path / "sweep"
    first = _sweep(root, "evolution.max_generations=1")
    assert first.returncode == 0, first.stderr
    points = sorted(p.name for p in root.iterdir() if (p / "state.sqlite").exists())
    assert points == [
        "engine=scripted,evolution.mutation_rate=0.25",
        "engine=scripted,evolution.mutation_rate=0.75",
    ]
    assert (root / "comparison.html").is_file()
    runs = json.loads((root / "comparison.json").read_text())["runs"]
    assert sorted(r["label"] for r in runs) == [
        "evolution.mutation_rate=0.25",
        "evolution.mutation_rate=0.75",
    ]
    # Re-running the sweep with a later stop resumes each point where it was.
    again = _sweep(root, "evolution.max_generations=2")
    assert again.returncode == 0, again.stderr
    for point in points:
        stats = RunStore(root / point).generation_stats()
        assert [s.generation for s in stats] == [0, 1, 2]
    # Two datasets, each exactly what a run of that point alone gives.
    datasets = [dataset_records(root / point / "dataset.jsonl") for point in points]
    assert datasets[0] and datasets[1] and datasets[0] != datasets[1]
    solo = run_cli(
        "engine=scripted",
        "progress=false",
        "evolution.mutation_rate=0.25",
        "evolution.max_generations=2",
        f"run_dir={tmp_path / 'solo'}",
    )
    assert solo.returncode == 0, solo.stderr
    assert datasets[0] == dataset_records(tmp_path / "solo" / "dataset.jsonl")
    # The comparison page links both runs' reports.
    page = (root / "comparison.html").read_text()
    assert all(f"{point}/report.html" in page for point in points)


def test_a_sweep_prints_a_command_that_inspects_each_point(tmp_path: Path) -> None:
    root = tmp_path / "sweep"
    done = _sweep(root, "evolution.max_generations=0")
    assert done.returncode == 0, done.stderr
    commands = [
        line.strip()
        for line in done.stdout.splitlines()
        if line.strip().startswith("genetic-instruct inspect ")
    ]
    assert len(commands) == 2
    # As a user pastes it into a shell: the shell strips its quotes, Hydra reads the rest.
    program, command, *args = shlex.split(commands[1])
    assert (program, command) == ("genetic-instruct", "inspect")
    inspected = run_cli(command, *args)
    assert inspected.returncode == 0, inspected.stderr
    point = root / "engine=scripted,evolution.mutation_rate=0.75"
    assert f"population {RunStore(point).population_size()}\n" in inspected.stdout


def test_a_sweep_over_a_key_left_out_of_names_still_gives_each_point_a_directory(
    tmp_path: Path,
) -> None:
    """evolution.target_size is left out of point names (a resume may raise it), but when
    the sweep varies it, the points must not share, and resume, one directory."""
    root = tmp_path / "sweep"
    result = run_cli(
        "-m",
        "engine=scripted",
        "progress=false",
        "evolution.target_size=135,150",
        f"run_dir={root}",
    )
    assert result.returncode == 0, result.stderr
    points = sorted(p.name for p in root.iterdir() if (p / "state.sqlite").exists())
    assert points == [
        "engine=scripted,evolution.target_size=135",
        "engine=scripted,evolution.target_size=150",
    ]
    assert "comparison of 2 runs" in result.stdout
    assert len(json.loads((root / "comparison.json").read_text())["runs"]) == 2


def test_a_sweep_over_run_dir_is_refused(tmp_path: Path) -> None:
    result = _sweep(tmp_path / "a", f"run_dir={tmp_path / 'b'},{tmp_path / 'c'}")
    assert result.returncode == 2
    assert "config key run_dir: cannot be swept" in result.stderr
    assert list(tmp_path.iterdir()) == []
