"""vLLM's EngineCore dying mid-generation stops the run as an engine's fault (real model).

One line, exit 75, the journal kept, then a resume that repeats no finished call and ends
like an uninterrupted run. The CLI stops itself at a fault point (SIGSTOP) so the test
kills the engine at a known place. (A SIGKILLed run taking its engine processes along is
tested in test_embedded_model.py, test_killed_mid_stage_....)
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

from genetic_instruct.run.job import run
from genetic_instruct.state.meta import ENGINE_LOST, RUN_END
from genetic_instruct.state.store import RunStore

from .conftest import dataset_records, make_config
from .test_embedded_model import ONE_SMALL_GENERATION, _Recorder
from .test_spawning import gone, process_group

pytestmark = pytest.mark.model
ARGS = ONE_SMALL_GENERATION


def _state(pid: int) -> str:
    """A process's state letter (T: stopped)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def _engine_core(run: subprocess.Popen) -> int:
    """The run's VLLM::EngineCore (in its process group, the run's own session)."""
    for pid in process_group(run.pid):
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"VLLM::EngineCore"):
                return pid
    raise AssertionError("no VLLM::EngineCore in the run's process group")


@contextlib.contextmanager
def _stopped_run(run_dir: Path, log: Path, at: str) -> Iterator[subprocess.Popen]:
    """The CLI on the embedded model, in a session of its own, stopped (SIGSTOP) at fault
    point `at`; whatever is left of it is killed on the way out."""
    env = {**os.environ, "GENETIC_INSTRUCT_CRASH_AT": f"{at}:SIGSTOP"}
    with open(log, "w") as out:  # not a pipe: the engine's processes would hold it open
        cli = subprocess.Popen(
            [sys.executable, "-m", "genetic_instruct.cli", f"run_dir={run_dir}", *ARGS],
            env=env,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 600
        while cli.poll() is None and _state(cli.pid) != "T" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert cli.poll() is None and _state(cli.pid) == "T", log.read_text()[-2000:]
        yield cli
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(cli.pid, signal.SIGKILL)
        cli.wait()


def test_an_engine_process_killed_mid_generation_stops_the_run_as_engine_lost(
    embedded_engine, tmp_path: Path
) -> None:
    run_dir, log = tmp_path / "run", tmp_path / "run.log"
    with _stopped_run(run_dir, log, "instructor:1") as cli:
        core = _engine_core(cli)
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
        assert store.meta.get(RUN_END).reason == ENGINE_LOST
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
    return {field: getattr(stats, field) for field in fields}
