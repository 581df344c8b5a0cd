"""Turn what the sandbox reported into a status: parse harness records, classify the exit.

Two channels, both written by code the caller trusts: the harness's records (see
_harness.py; only lines carrying this run's nonce count) and init's report of how the
runner process ended. stdout is never parsed, so nothing a solution prints can change its
verdict.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass, field

from genetic_instruct.errors import SandboxUnavailable

from .limits import SandboxLimits

MAX_RECORD_BYTES = 4096  # real records are far shorter; longer lines are junk to drop


@dataclass
class Records:
    """What the harness reported, read incrementally so a flood cannot grow memory.

    A test (a Python top-level assert, an assert site in the other languages' tests, a Go
    Test function) passes when it ran and never failed: a site in a loop runs many times,
    and its harness reports its first pass and its first failure. A replayed record adds
    nothing, and an index outside 0..total-1 counts for nothing.
    """

    nonce: str
    started: bool = False
    total: int = 0
    first_failure: str = ""
    error: str = ""
    compile_error: str = ""
    memory: str = ""
    unavailable: str = ""
    done: bool = False
    _passed: set[int] = field(default_factory=set)
    _failed: set[int] = field(default_factory=set)
    _pending: bytes = b""

    @property
    def passed(self) -> int:
        return len(self._passed - self._failed)

    @property
    def ran(self) -> int:
        return len(self._passed | self._failed)

    @property
    def outcomes(self) -> str:
        """Per test in order, up to the first that never ran: "1" held, "0" failed."""
        marks = []
        for index in range(self.total):
            if index not in self._passed and index not in self._failed:
                break
            marks.append("0" if index in self._failed else "1")
        return "".join(marks)

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
        elif kind in ("pass", "fail") and 0 <= index < self.total:
            if kind == "pass":
                self._passed.add(index)
            elif index not in self._failed:
                self._failed.add(index)
                self.first_failure = self.first_failure or text
        elif kind in ("error", "compile", "memory", "unavailable"):
            attribute = {"compile": "compile_error"}.get(kind, kind)
            setattr(self, attribute, getattr(self, attribute) or text)
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
    stderr: str,
    program_first: bool = False,
) -> tuple[str, str]:
    """(status, detail), most severe cause first: a limit hit explains whatever followed.
    `program_first`: the program's own code may run before its harness reports (an exec'd
    program's static initializers), so a run with no record at all is the program's fault.

    The statuses, in every language: passed, failed (a test did not hold), compile_error
    (the solution or its tests do not compile), runtime_error (the program raised or
    crashed before its tests finished), timeout (the wall-clock or CPU limit), killed (the
    memory limit, or a signal from outside).
    """
    if records.unavailable:
        raise SandboxUnavailable(f"the sandbox could not start the program: {records.unavailable}")
    if overran or (runner is not None and runner.wall_timeout):
        return "timeout", f"wall-clock limit of {limits.wall_seconds:g}s exceeded"
    if runner is None:
        if records.started:  # generated code ran, and something killed init under it
            return "killed", "the sandbox's init process was killed"
        raise SandboxUnavailable(f"the sandbox launcher failed: {last_line(stderr) or 'no report'}")
    if records.compile_error:
        return "compile_error", records.compile_error
    if runner.signal is not None:
        return _killed(runner.signal, runner, records, limits, stderr)
    if records.memory:
        return "killed", f"memory limit of {limits.memory_mb} MB hit: {records.memory}"
    if not records.started and program_first:
        ended = last_line(stderr) or f"exit code {runner.exit_code}"
        return "runtime_error", f"the program ended before its tests started ({ended})"
    if not records.started:
        # No record means the harness never got as far as reading the tests, so no
        # generated code ran: the failure is the sandbox's own.
        raise SandboxUnavailable(
            f"the sandbox failed to start (exit {runner.exit_code}): {last_line(stderr)}"
        )
    if records.error:
        return "runtime_error", records.error
    if not records.done and out_of_memory(stderr):
        return "killed", f"memory limit of {limits.memory_mb} MB hit: {out_of_memory(stderr)}"
    if not records.done:
        ended = last_line(stderr) or f"exit code {runner.exit_code}"
        return "runtime_error", f"exited before the tests finished ({ended})"
    if records.total == 0:
        return "failed", "the tests contain no assert: nothing was checked"
    if records.passed == records.total:
        return "passed", f"{records.passed}/{records.total} tests passed"
    return "failed", records.first_failure or _never_ran(records)


def _never_ran(records: Records) -> str:
    return f"{records.total - records.ran} of {records.total} tests never ran"


# Signals a program raises on itself when it crashes: its fault, not a limit's.
CRASHES = (signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL, signal.SIGABRT)


def _killed(
    number: int, runner: RunnerExit, records: Records, limits: SandboxLimits, stderr: str
) -> tuple[str, str]:
    # Python may catch SIGXCPU; the kernel's SIGKILL a second later is then the CPU limit.
    out_of_cpu = number == signal.SIGKILL and runner.cpu_s >= limits.cpu_seconds
    if number == signal.SIGXCPU or out_of_cpu:
        return "timeout", f"CPU limit of {limits.cpu_seconds:g}s exceeded"
    if records.memory:
        return "killed", f"memory limit of {limits.memory_mb} MB hit: {records.memory}"
    if number == signal.SIGKILL and runner.over_memory:
        return "killed", f"memory limit of {limits.memory_mb} MB hit by its processes together"
    name = _signal_name(number)
    if number in CRASHES and out_of_memory(stderr):
        return "killed", f"memory limit of {limits.memory_mb} MB hit: {out_of_memory(stderr)}"
    if number in CRASHES:
        return "runtime_error", f"crashed with {name}"
    return "killed", f"killed by {name}"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:  # real-time signals have no name
        return f"signal {number}"


# What a runtime prints as it dies of an allocation it could not make (V8, Rust's std, Go).
_OUT_OF_MEMORY = (
    "JavaScript heap out of memory",
    "memory allocation of",
    "runtime: out of memory",
    "std::bad_alloc",
)


def out_of_memory(stderr: str) -> str:
    """The line of a runtime's stderr saying it ran out of memory, or ""."""
    for line in stderr.splitlines():
        if any(marker in line for marker in _OUT_OF_MEMORY):
            return line.strip()[:200]
    return ""


# Lines a runtime prints after the one that says what went wrong.
_FOOTNOTES = ("note: run with `RUST_BACKTRACE", "\tat ", "goroutine ", "exit status")


def last_line(text: str) -> str:
    """The line of a program's stderr that says what went wrong: the last one, a runtime's
    footnotes (Rust's backtrace hint, a Java stack frame) passed over; Go's panic line."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    # Go prints its panic first and the goroutines' stacks after it.
    go_panic = [line for line in lines if line.startswith(("panic: ", "fatal error: "))]
    if go_panic:
        return go_panic[0].strip()[:200]
    telling = [line for line in lines if not line.lstrip(" ").startswith(_FOOTNOTES)]
    chosen = telling or lines
    return chosen[-1].strip()[:200] if chosen else ""
