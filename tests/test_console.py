"""The console as a person sees it: `make run` in a terminal (tmux), the pane read back.

The demo on the real embedded model must show its progress bar and no engine INFO lines
(vLLM logs dozens while it loads, from this process and from its EngineCore process); those
lines must be in run_dir/run.log instead. `make` runs with the stamp of this venv's set-up
taken as current (-o), so it never reinstalls: it runs the venv running these tests.
Without tmux the test skips, except under CI, where it fails.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from .conftest import MODEL_DTYPE_OVERRIDE

REPO = Path(__file__).resolve().parents[1]
# the streaming generation's one bar: answers / requests (? while still growing), tokens/s,
# answers per role, elapsed and ETA to the target size
PROGRESS = re.compile(r"requests\s.*\d+/\S+.*tok/s.*instructor \d+.*ETA to target")
ENGINE_INFO = re.compile(r"\bINFO\b")

pytestmark = pytest.mark.model


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def session() -> object:
    if shutil.which("tmux") is None or shutil.which("make") is None:
        reason = "tmux and make are needed (apt-get install tmux make)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run this test")
        pytest.skip(reason)
    name = f"gi-{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)


def test_make_run_shows_progress_and_no_engine_info_lines(session: str, tmp_path: Path) -> None:
    venv = Path(sys.prefix)
    run_dir = tmp_path / "run"
    args = (
        f"run_dir={run_dir} evolution.max_generations=1 evolution.colonies=1 "
        f"evolution.offspring_per_colony=3 execution.mutants=0 {MODEL_DTYPE_OVERRIDE}"
    )
    done = tmp_path / "exit-code"
    command = (
        f"cd {REPO} && make -o {venv}/.installed run VENV={venv} ARGS='{args}'; "
        f"echo $? > {done}; sleep 600"
    )
    env = [f"PYTHONPATH={os.environ['PYTHONPATH']}"] if os.environ.get("PYTHONPATH") else []
    _tmux(
        "new-session",
        "-d",
        "-s",
        session,
        "-x",
        "220",
        "-y",
        "50",
        *(arg for e in env for arg in ("-e", e)),
        command,
    )

    seen_progress = []
    deadline = time.monotonic() + 900
    while not done.exists() and time.monotonic() < deadline:
        pane = _tmux("capture-pane", "-p", "-t", session)
        seen_progress += [line for line in pane.splitlines() if PROGRESS.search(line)]
        time.sleep(0.5)
    history = _tmux("capture-pane", "-p", "-S", "-", "-t", session)
    assert done.exists(), f"make run did not finish:\n{history}"
    assert done.read_text().strip() == "0", history

    assert seen_progress, f"no progress line was ever on screen:\n{history}"
    assert not [ln for ln in history.splitlines() if ENGINE_INFO.search(ln)], history
    assert "reached" in history or "generation" in history  # the run's own summary lines
    log = (run_dir / "run.log").read_text()
    assert len([ln for ln in log.splitlines() if ENGINE_INFO.search(ln)]) > 5, log[-2000:]
