"""vLLM's engine process and the run's: each one's death is handled (real embedded model).

A run killed with SIGKILL takes its EngineCore with it (no orphan keeps the memory the
resume needs). The CLI stops itself at a fault point (SIGSTOP) so the test acts at a
known place.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .test_embedded_model import SHORT_ANSWERS
from .test_spawning import alive, gone

pytestmark = pytest.mark.model
ARGS = (
    "progress=false",
    "evolution.max_generations=1",
    "evolution.colonies=1",
    "evolution.offspring_per_colony=4",
    "fitness.threshold=1",
    *SHORT_ANSWERS,
)


def _stat(pid: int) -> tuple[str, int]:
    """A process's state letter and parent pid."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return fields[0], int(fields[1])


def _engine_processes(parent: int) -> list[int]:
    """vLLM's processes (VLLM::EngineCore, VLLM::Worker) below `parent`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            if (entry / "cmdline").read_bytes().startswith(b"VLLM::"):
                pid, ppid = int(entry.name), _stat(int(entry.name))[1]
                if ppid == parent or ppid in found:
                    found.append(pid)
    return found


@contextlib.contextmanager
def _stopped_run(run_dir: Path, log: Path, at: str) -> Iterator[subprocess.Popen]:
    """The CLI on the embedded model, stopped (SIGSTOP) at fault point `at`; whatever of
    it is left is killed on the way out."""
    env = {**os.environ, "GENETIC_INSTRUCT_CRASH_AT": f"{at}:SIGSTOP"}
    with open(log, "w") as out:  # not a pipe: the engine's processes would hold it open
        cli = subprocess.Popen(
            [sys.executable, "-m", "genetic_instruct.cli", f"run_dir={run_dir}", *ARGS],
            env=env,
            stdout=out,
            stderr=out,
        )
    engines: list[int] = []
    try:
        deadline = time.monotonic() + 600
        while cli.poll() is None and _stat(cli.pid)[0] != "T" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert cli.poll() is None and _stat(cli.pid)[0] == "T", log.read_text()[-2000:]
        engines = _engine_processes(cli.pid)
        assert engines, "no vLLM process below the run"
        yield cli
    finally:
        with contextlib.suppress(ProcessLookupError):
            cli.kill()
        cli.wait()
        for pid in engines:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_sigkilled_run_takes_its_engine_processes_with_it(tmp_path: Path) -> None:
    with _stopped_run(tmp_path / "run", tmp_path / "run.log", "instructor:1") as cli:
        engines = _engine_processes(cli.pid)
        cli.kill()  # kill -9 of the run, as a preempted node or the OOM killer would
        cli.wait()
        assert all(gone(pid) for pid in engines), engines
