"""The sandbox's public value types: what a run may use, and what came out of it."""

from __future__ import annotations

from dataclasses import dataclass

from genetic_instruct.choices import Choice


class NetworkMode(Choice):
    """isolate: an empty network namespace, or no run at all; allow: the explicit opt-out."""

    isolate = "isolate"
    allow = "allow"


class InvalidLimit(ValueError):
    """A limit that means nothing; `name` is the SandboxLimits field."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"SandboxLimits.{name} {reason}")
        self.name = name
        self.reason = reason


@dataclass
class SandboxLimits:
    """Bounds on one run of generated code; also the `execution.*` limits of the config
    (ExecutionConfig extends it), so each limit and its default is defined here only.
    Not frozen: Hydra makes a frozen dataclass read-only, and overrides must set it.

    wall_seconds: real time for the whole run, asserts included; the process tree is
        killed when it runs out.
    cpu_seconds: CPU time of the main sandboxed process (RLIMIT_CPU, rounded up to a
        whole second because the kernel counts in seconds).
    memory_mb: address space per process (RLIMIT_AS; Python raises MemoryError past it),
        and all the program's memory together (its processes, memfds, tmpfs files, shared
        memory) through a memory cgroup, or init's own count where none can be made
        (cgroup.py says where).
    file_size_mb: the largest file the code may write (RLIMIT_FSIZE), and also the size
        of its scratch directory, a tmpfs, so many small files cannot fill the disk.
    max_processes: processes and threads the sandbox may hold at once (RLIMIT_NPROC),
        the main process included.
    output_bytes: how much of stdout and of stderr is kept; the rest is read and dropped.
    network: "isolate" runs the code in an empty network namespace (no interface is up,
        not even loopback) and raises SandboxUnavailable if the platform refuses;
        "allow" is the explicit opt-out and leaves the host's network reachable.
    """

    wall_seconds: float = 10.0
    cpu_seconds: float = 5.0
    memory_mb: int = 512
    file_size_mb: int = 16
    max_processes: int = 16
    # 8192, what runs have used (the config's copy had drifted from 65536 here): the
    # judge sees the output, so the default shapes data.
    output_bytes: int = 8192
    network: NetworkMode = NetworkMode.isolate

    def __post_init__(self) -> None:
        # Fail at construction, before any code runs under a limit that means nothing.
        for name in ("wall_seconds", "cpu_seconds", "memory_mb", "file_size_mb", "max_processes"):
            value = getattr(self, name)
            if value <= 0:
                raise InvalidLimit(name, f"must be positive, got {value!r}")
        if self.output_bytes < 0:
            raise InvalidLimit("output_bytes", f"must be >= 0, got {self.output_bytes!r}")
        try:
            self.network = NetworkMode(self.network)
        except ValueError:
            raise InvalidLimit(
                "network", f"must be isolate or allow, got {self.network!r}"
            ) from None


@dataclass(frozen=True)
class ExecutionResult:
    """Outcome of running one solution against its tests.

    status: "passed" (every assert held), "failed" (some assert failed), "error" (the
        solution or the test setup could not run, or the tests hold no assert),
        "timeout" (wall-clock or CPU limit), "killed" (a signal or the memory limit).
    passed / total: asserts that held / top-level asserts in the tests; on a timeout or
        a crash, asserts that never ran count as not passed.
    detail: one short line: the first failing assert, the exception, or the limit hit.
    outcomes: each assert that ran, in order, "1" held or "0" failed (asserts after a
        crash or a limit never ran: the string is shorter than total). Independent
        attempts are checked against each assert with it (evolution/agreement.py).
        Verdicts journaled before it existed read as "".
    """

    status: str
    passed: int
    total: int
    pass_fraction: float
    runtime_s: float
    stdout: str
    stderr: str
    detail: str
    outcomes: str = ""
