"""The sandbox's public value types: what a run may use, and what came out of it."""

from __future__ import annotations

from dataclasses import dataclass, field

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
class CompileLimits:
    """Bounds on compiling one program (C++, Java, Rust, Go), in a sandbox of its own with
    the same isolation as the program's: `execution.compile.*` in the config.

    A compiler needs far more than the small programs it builds: g++ on a file that
    includes <bits/stdc++.h> takes ~200 MB and seconds, rustc ~150 MB, javac a JVM with
    ~30 threads. Its limits are its own, so the program's stay tight; a build that passes
    them (a template or macro bomb) is a compile_error.

    wall_seconds / cpu_seconds: real and CPU time of the whole build.
    memory_mb: the build's memory, all its processes together.
    file_size_mb: the largest file it may write, and the size of its scratch directory
        (object files, the program, temporary files); also the most of its output the
        program's run takes along.
    max_processes: processes and threads at once (a compiler driver, its passes, a
        linker, a JVM's or LLVM's threads).
    """

    wall_seconds: float = 60.0
    cpu_seconds: float = 60.0
    memory_mb: int = 2048
    file_size_mb: int = 256
    max_processes: int = 64

    def __post_init__(self) -> None:
        _check_positive(self, "compile.")


# The bounds both kinds of limits have, each meaningless at 0 or below.
_BOUNDS = ("wall_seconds", "cpu_seconds", "memory_mb", "file_size_mb", "max_processes")


def _check_positive(limits: CompileLimits | SandboxLimits, prefix: str) -> None:
    """Fail at construction, before any code runs under a limit that means nothing."""
    for name in _BOUNDS:
        value = getattr(limits, name)
        if value <= 0:
            raise InvalidLimit(prefix + name, f"must be positive, got {value!r}")


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
    compile: CompileLimits = field(default_factory=CompileLimits)

    def __post_init__(self) -> None:
        _check_positive(self, "")
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

    status, the same in every language: "passed" (every test held), "failed" (some test
        did not hold, or the tests check nothing), "compile_error" (the solution or its
        tests do not compile), "runtime_error" (the program raised or crashed before its
        tests finished), "timeout" (wall-clock or CPU limit), "killed" (the memory limit,
        or a signal from outside).
    passed / total: tests that held / tests: Python's top-level asserts, the assert sites
        of C++, Java, JavaScript and Rust tests, Go's Test functions (toolchains/); on a
        timeout or a crash, tests that never ran count as not passed.
    detail: one short line: the first failing test, the exception or compiler error, or
        the limit hit.
    runtime_s: the run of the tests (what mutants' time limits scale from).
    compile_s: the build before it (0 for Python and JavaScript, and for a build the
        artefact cache already held).
    outcomes: each assert that ran, in order, "1" held or "0" failed (tests after a
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
    compile_s: float = 0.0
