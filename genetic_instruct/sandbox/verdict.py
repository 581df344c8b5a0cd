"""Turn what the sandbox reported into a status: parse harness records, classify the exit.

Two channels, both written by code the caller trusts: the harness's records (see
_harness.py; only lines carrying this run's nonce count) and init's report of how the
runner process ended. stdout is never parsed, so nothing a solution prints can change its
verdict.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass

from genetic_instruct.errors import SandboxUnavailable

from .limits import SandboxLimits

MAX_RECORD_BYTES = 4096  # real records are far shorter; longer lines are junk to drop


@dataclass
class Records:
    """What the harness reported, read incrementally so a flood cannot grow memory."""

    nonce: str
    started: bool = False
    total: int = 0
    passed: int = 0
    ran: int = 0
    outcomes: str = ""  # per assert that ran, in order: "1" held, "0" failed
    first_failure: str = ""
    error: str = ""
    memory: str = ""
    done: bool = False
    _pending: bytes = b""

    def feed(self, data: bytes) -> None:
        *lines, self._pending = (self._pending + data).split(b"\n")
        if len(self._pending) > MAX_RECORD_BYTES:
            self._pending = b""
        prefix = f"{self.nonce} ".encode()
        for line in lines:
            if line.startswith(prefix):
                self._apply(line[len(prefix) :].decode("utf-8", "replace"))

    def _apply(self, line: str) -> None:
        kind, _, rest = line.partition(" ")
        index_text, _, text = rest.partition(" ")
        index = _number(index_text)
        self.started = True
        if kind == "total":
            self.total = max(index, 0)
        elif kind in ("pass", "fail") and index == self.ran:
            # Only the next assert in order counts, so a replayed record adds nothing.
            self.ran += 1
            self.passed += kind == "pass"
            self.outcomes += "1" if kind == "pass" else "0"
            self.first_failure = self.first_failure or (text if kind == "fail" else "")
        elif kind == "error":
            self.error = text
        elif kind == "memory":
            self.memory = text
        elif kind == "done":
            self.done = True


def _number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return -1


@dataclass(frozen=True)
class RunnerExit:
    """How the runner process ended, as init saw it."""

    wait_status: int
    cpu_s: float
    wall_timeout: bool
    # The program's processes together passed the memory limit: the kernel's OOM killer
    # acted in its cgroup, or init's own count did (no cgroup).
    over_memory: bool = False

    @property
    def signal(self) -> int | None:
        return os.WTERMSIG(self.wait_status) if os.WIFSIGNALED(self.wait_status) else None

    @property
    def exit_code(self) -> int | None:
        return os.WEXITSTATUS(self.wait_status) if os.WIFEXITED(self.wait_status) else None


def parse_control(text: str, oom_killed: bool = False) -> RunnerExit | None:
    """Init's report, "exit <wait status> <cpu seconds> <timed out: 0|1> <over memory:
    0|1>", or the launcher's "unavailable <why>"; None when neither came (the launcher
    died). `oom_killed`: the cgroup's count of OOM kills, which init cannot see."""
    line = text.strip()
    kind, _, reason = line.partition(" ")
    if kind == "unavailable":
        raise SandboxUnavailable(f"sandbox isolation refused by the platform: {reason}")
    parts = line.split()
    if len(parts) != 5 or parts[0] != "exit":
        return None
    over_memory = parts[4] == "1" or oom_killed
    return RunnerExit(int(parts[1]), float(parts[2]), parts[3] == "1", over_memory)


def classify(
    records: Records,
    runner: RunnerExit | None,
    limits: SandboxLimits,
    overran: bool,
    stderr_tail: str,
) -> tuple[str, str]:
    """(status, detail), most severe cause first: a limit hit explains whatever followed."""
    if overran or (runner is not None and runner.wall_timeout):
        return "timeout", f"wall-clock limit of {limits.wall_seconds:g}s exceeded"
    if runner is None:
        if records.started:  # generated code ran, and something killed init under it
            return "killed", "the sandbox's init process was killed"
        raise SandboxUnavailable(f"the sandbox launcher failed: {stderr_tail or 'no report'}")
    if runner.signal is not None:
        return _killed(runner.signal, runner, records, limits)
    if records.memory:
        return "killed", f"memory limit of {limits.memory_mb} MB hit: {records.memory}"
    if not records.started:
        # No record means the harness never got as far as reading the tests, so no
        # generated code ran: the failure is the sandbox's own.
        raise SandboxUnavailable(
            f"the sandbox failed to start (exit {runner.exit_code}): {stderr_tail}"
        )
    if records.error:
        return "error", records.error
    if not records.done:
        return "error", f"exited before the tests finished (exit code {runner.exit_code})"
    if records.total == 0:
        return "error", "the tests contain no top-level assert"
    if records.passed == records.total:
        return "passed", f"{records.passed}/{records.total} asserts passed"
    return "failed", records.first_failure


def _killed(
    number: int, runner: RunnerExit, records: Records, limits: SandboxLimits
) -> tuple[str, str]:
    # Python may catch SIGXCPU; the kernel's SIGKILL a second later is then the CPU limit.
    out_of_cpu = number == signal.SIGKILL and runner.cpu_s >= limits.cpu_seconds
    if number == signal.SIGXCPU or out_of_cpu:
        return "timeout", f"CPU limit of {limits.cpu_seconds:g}s exceeded"
    if records.memory:
        return "killed", f"memory limit of {limits.memory_mb} MB hit: {records.memory}"
    if number == signal.SIGKILL and runner.over_memory:
        return "killed", f"memory limit of {limits.memory_mb} MB hit by its processes together"
    try:
        name = signal.Signals(number).name
    except ValueError:  # real-time signals have no name
        name = f"signal {number}"
    return "killed", f"killed by {name}"
