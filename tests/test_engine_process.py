"""vLLM's engine process and the run's: each one's death is handled (real embedded model).

A run killed with SIGKILL takes its EngineCore with it (no orphan keeps the memory the
resume needs), and an EngineCore that dies mid-generation stops the run as an engine's
fault: one line, exit 75, the journal kept, then a resume that repeats no finished call.
The CLI stops itself at a fault point (SIGSTOP) so the test acts at a known place.
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

from genetic_instruct.run_end import ENGINE_LOST, META_KEY
from genetic_instruct.runner import run
from genetic_instruct.store import RunStore

from .conftest import dataset_records, make_config
from .test_embedded_model import SHORT_ANSWERS, _Recorder
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


def test_an_engine_process_killed_mid_generation_stops_the_run_as_engine_lost(
    embedded_engine, tmp_path: Path
) -> None:
    run_dir, log = tmp_path / "run", tmp_path / "run.log"
    with _stopped_run(run_dir, log, "instructor:1") as cli:
        core = _engine_processes(cli.pid)[0]
        os.kill(core, signal.SIGKILL)
        assert gone(core)
        cli.send_signal(signal.SIGCONT)
        assert cli.wait(timeout=300) == 75, log.read_text()[-3000:]
    output = log.read_text()
    last = [line for line in output.splitlines() if line.strip()][-1]
    assert "Traceback" not in output, output[-3000:]
    assert last.startswith("genetic-instruct: stopped: engine lost: ") and "SIGKILL" in last
    with RunStore(run_dir) as store:
        journaled = store.journal_keys()
        assert store.generation == 0 and journaled
        assert store.get_meta(META_KEY)["reason"] == ENGINE_LOST
    recorder = _Recorder(embedded_engine)
    assert run(make_config(f"run_dir={run_dir}", *ARGS), engines={"default": recorder})
    assert not journaled & set(recorder.sent)  # no finished call paid for twice
    whole = tmp_path / "whole"
    run(make_config(f"run_dir={whole}", *ARGS), engines={"default": embedded_engine})
    assert dataset_records(run_dir / "dataset.jsonl") == dataset_records(whole / "dataset.jsonl")
    assert _fates(run_dir) == _fates(whole)  # every answer alike, rejected ones included


def _fates(run_dir: Path) -> dict:
    """What generation 1 tried, kept, rejected and was answered (tokens per role)."""
    with RunStore(run_dir) as store:
        stats = store.generation_stats()[-1]
    fields = ("tried", "accepted", "rejected", "prompt_tokens", "completion_tokens")
    return {field: stats[field] for field in fields}
