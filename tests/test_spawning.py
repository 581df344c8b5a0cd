"""Processes started under children_die_with_this_thread() die with a SIGKILLed parent.

The parent is a child Python process here, so the test can SIGKILL it as a preempted node
or the OOM killer would; the real-engine case (vLLM's EngineCore) is in
test_embedded_model.py (test_killed_mid_stage_...).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

PARENT = """
import multiprocessing, sys, time
from genetic_instruct.spawning import children_die_with_this_thread
from grandparent import start_a_child

if __name__ == "__main__":
    context = multiprocessing.get_context(sys.argv[1])
    grandchild = context.Queue()
    with children_die_with_this_thread():
        inside = context.Process(target=start_a_child, args=(sys.argv[1], grandchild))
        inside.start()
    outside = context.Process(target=time.sleep, args=(600,))
    outside.start()
    print(inside.pid, outside.pid, grandchild.get(timeout=60), flush=True)
    time.sleep(600)
"""
# As vLLM's EngineCore starts its workers: with multiprocessing, outside any block.
GRANDPARENT = """
import multiprocessing, time

def start_a_child(method, report):
    child = multiprocessing.get_context(method).Process(target=time.sleep, args=(600,))
    child.start()
    report.put(child.pid)
    time.sleep(600)
"""
GONE_WITHIN_S = 10.0  # the bar; the kernel signals at once


def alive(pid: int) -> bool:
    """Running, not a zombie waiting for init to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def process_group(pgid: int) -> list[int]:
    """The live processes of a process group: a command started in a session of its own,
    with the processes it started, whoever their parent is now."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and alive(int(entry.name)):
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except FileNotFoundError:
                continue
            if int(fields[2]) == pgid:
                members.append(int(entry.name))
    return members


def gone(pid: int) -> bool:
    deadline = time.monotonic() + GONE_WITHIN_S
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_a_child_started_in_the_block_dies_with_its_sigkilled_parent_and_so_do_its_own(
    method: str, tmp_path: Path
) -> None:
    (tmp_path / "grandparent.py").write_text(GRANDPARENT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, method], stdout=subprocess.PIPE, text=True, env=env
    )
    assert parent.stdout is not None
    inside, outside, grandchild = (int(pid) for pid in parent.stdout.readline().split())
    try:
        parent.kill()
        parent.wait()
        assert gone(inside)
        assert gone(grandchild)  # as vLLM's worker goes with EngineCore
        assert alive(outside)  # started after the block: not bound to its parent
    finally:
        for pid in (inside, outside, grandchild):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
