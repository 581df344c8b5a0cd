"""One writer per run directory, from the CLI, with real processes.

The first writer freezes itself at a known place (faults: `export:2:SIGSTOP`, in its
second export, after the first is confirmed in the state), holding the lock, so each check beside it
happens at a known moment without sleeps; the test then resumes it or SIGKILLs it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from genetic_instruct.faults import ENV as CRASH_AT

from .conftest import dataset_records, run_cli

RUN_ARGS = [
    "engine=scripted",
    "progress=false",
    "evolution.target_size=400",
    "evolution.max_generations=3",
    "evolution.offspring_per_colony=16",
]


def files_of(run_dir: Path) -> dict[str, tuple[int, int]]:
    """Every file under run_dir with its size and modification time."""
    return {
        str(path.relative_to(run_dir)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(run_dir.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def solo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted run, alone on its directory."""
    run_dir = tmp_path_factory.mktemp("solo")
    result = run_cli(*RUN_ARGS, f"run_dir={run_dir}")
    assert result.returncode == 0, result.stderr
    return run_dir


@pytest.fixture
def frozen_writer(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """A writer stopped in its second export, holding the run's lock."""
    run_dir = tmp_path / "run"
    env = {**os.environ, CRASH_AT: "export:2:SIGSTOP"}
    writer = subprocess.Popen(
        [sys.executable, "-m", "genetic_instruct.cli", *RUN_ARGS, f"run_dir={run_dir}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    _, status = os.waitpid(writer.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status), "the writer ended before its second export"
    yield writer, run_dir
    if writer.poll() is None:  # still stopped: SIGKILL ends a stopped process too
        writer.kill()
        writer.wait()


def test_a_second_writer_is_refused_and_the_first_ends_as_a_solo_run(frozen_writer, solo):
    writer, run_dir = frozen_writer
    before = files_of(run_dir)
    second = run_cli(*RUN_ARGS, f"run_dir={run_dir}", "evolution.max_generations=9")
    assert second.returncode == 2
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and f"pid {writer.pid}" in lines[0], second.stderr
    assert "host" in lines[0] and "started" in lines[0] and "evolution.target_size" in lines[0]
    # Exporting into the run's own dataset is writing too.
    own = run_cli("export", f"run_dir={run_dir}", f"export.path={run_dir / 'dataset.jsonl'}")
    assert own.returncode == 2 and f"pid {writer.pid}" in own.stderr
    assert files_of(run_dir) == before  # .hydra/ included: neither wrote anything

    os.kill(writer.pid, signal.SIGCONT)
    _, stderr = writer.communicate(timeout=120)
    assert writer.returncode == 0, stderr
    assert dataset_records(run_dir / "dataset.jsonl") == dataset_records(solo / "dataset.jsonl")
    saved = (run_dir / ".hydra" / "config.yaml").read_text()
    assert "max_generations: 3" in saved  # the first writer's config, not the second's


def test_read_only_commands_work_beside_a_writer(frozen_writer, tmp_path):
    _, run_dir = frozen_writer
    inspected = run_cli("inspect", f"run_dir={run_dir}")
    assert inspected.returncode == 0 and "population" in inspected.stdout, inspected.stderr
    verified = run_cli("verify", f"run_dir={run_dir}")
    assert verified.returncode == 0 and ": ok (" in verified.stdout, verified.stderr
    reported = run_cli("report", f"run_dir={run_dir}")
    assert reported.returncode == 0 and (run_dir / "report.html").is_file(), reported.stderr
    copy = tmp_path / "copy.jsonl"
    exported = run_cli("export", f"run_dir={run_dir}", f"export.path={copy}")
    assert exported.returncode == 0, exported.stderr
    # The copy is the population the writer committed: its own dataset so far.
    assert dataset_records(copy) == dataset_records(run_dir / "dataset.jsonl")


def test_the_lock_dies_with_a_killed_writer(frozen_writer, solo):
    writer, run_dir = frozen_writer
    writer.kill()  # SIGKILL: no handler, no clean-up, as the OOM killer does it
    writer.wait()
    again = run_cli(*RUN_ARGS, f"run_dir={run_dir}")
    assert again.returncode == 0, again.stderr
    assert dataset_records(run_dir / "dataset.jsonl") == dataset_records(solo / "dataset.jsonl")
