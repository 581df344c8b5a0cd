"""The caller's side of a sandbox run: prepare the scratch dir, spawn, drain, classify.

Nothing here executes generated code. The only child is _launcher.py in a fresh
interpreter; it reports through two pipes opened here (harness records and init's exit
report), while stdout and stderr are read incrementally into bounded buffers.
"""

from __future__ import annotations

import marshal
import os
import secrets
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from genetic_instruct.errors import SandboxUnavailable

from . import cgroup, rootfs, syscalls
from .limits import ExecutionResult, NetworkMode, SandboxLimits
from .verdict import Records, classify, parse_control

LAUNCHER = Path(__file__).with_name("_launcher.py")
TEMP_PREFIX = "gi-sandbox-"
# -I: no environment variables, no user site, script dir not on sys.path; -S: no site
# import (saves time and keeps site-packages out); -B: never write .pyc files.
PYTHON_FLAGS = ("-I", "-S", "-B")
CHILD_PATH = "/usr/local/bin:/usr/bin:/bin"
# Run as root, sandboxes take uids from here up (plus the launcher's pid): far above
# distribution and container subuid ranges, and one per live sandbox.
SANDBOX_UID_BASE = 0x60000000
# Interpreter start-up and namespace teardown come on top of the wall limit that init
# enforces; past this margin the caller kills the launcher's process group itself.
GRACE_S = 3.0
REAP_S = 2.0  # after that kill, how long to wait for the pipes to close
CONTROL_BYTES = 4096
LAUNCHER_SYSCALLS = ("keyctl", "pivot_root")  # called by number: glibc wraps neither
READ_CHUNK = 65536


def run_tests(solution: str, tests: str, limits: SandboxLimits | None = None) -> ExecutionResult:
    """Run `solution`, then the top-level statements of `tests` in its namespace, sandboxed.

    Each top-level assert is one test; a failing assert is counted and the run goes on.
    The code runs in a child process only, never here, and nothing it does can make this
    function raise; SandboxUnavailable is raised only when the platform refuses the
    isolation (see _launcher.py for what that is, as root and as an ordinary user).
    """
    if not sys.platform.startswith("linux"):
        raise SandboxUnavailable(f"the sandbox needs Linux namespaces; this is {sys.platform}")
    limits = limits or SandboxLimits()  # a fresh default: limits are mutable (Hydra's)
    started = time.monotonic()
    channels = _Channels.for_run(secrets.token_hex(16), limits.output_bytes)
    with (
        tempfile.TemporaryDirectory(prefix=TEMP_PREFIX) as scratch,
        cgroup.program_cgroup(limits.memory_mb) as memory,
    ):
        nonce = channels.records.nonce
        argv, workdir = _prepare(Path(scratch), solution, tests, limits, nonce, memory)
        deadline = time.monotonic() + limits.wall_seconds + GRACE_S
        overran = _execute(argv, scratch, _child_env(workdir), deadline, channels, memory)
        oom_killed = memory is not None and memory.oom_kills() > 0
    return _result(channels, limits, overran, oom_killed, time.monotonic() - started)


def run_many(
    jobs: Sequence[tuple[str, str]],
    limits: SandboxLimits | Sequence[SandboxLimits] | None = None,
    workers: int | None = None,
) -> list[ExecutionResult]:
    """run_tests over (solution, tests) pairs, `workers` at a time; results in input order.
    `limits` holds for every job, or is a sequence of one per job.

    Threads, not processes: each run is already its own process tree, and a thread only
    waits on its pipes. The default is one worker per CPU this process may use, since a
    run is mostly CPU-bound interpreter start-up (see bench/RESULTS-sandbox.md).
    """
    if not jobs:
        return []
    count = min(workers or usable_cpus(), len(jobs))
    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="gi-sandbox") as pool:
        if limits is None or isinstance(limits, SandboxLimits):
            per_job = [limits or SandboxLimits()] * len(jobs)
        else:
            per_job = list(limits)
        return list(pool.map(lambda job, lim: run_tests(job[0], job[1], lim), jobs, per_job))


def usable_cpus() -> int:
    """CPUs this process may run on (a cgroup or taskset may allow fewer than exist)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class _Capture:
    """The first `limit` bytes of a stream; the rest is read and dropped, so the caller's
    memory stays bounded however much the child writes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()

    def feed(self, chunk: bytes) -> None:
        room = self.limit - len(self.data)
        if room > 0:
            self.data += chunk[:room]

    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


@dataclass
class _Channels:
    """Everything a run sends back, each bounded."""

    records: Records
    stdout: _Capture
    stderr: _Capture
    control: _Capture = field(default_factory=lambda: _Capture(CONTROL_BYTES))

    @classmethod
    def for_run(cls, nonce: str, output_bytes: int) -> _Channels:
        return cls(Records(nonce), _Capture(output_bytes), _Capture(output_bytes))


def _prepare(
    scratch: Path,
    solution: str,
    tests: str,
    limits: SandboxLimits,
    nonce: str,
    memory: cgroup.ProgramCgroup | None,
) -> tuple[list[str], str]:
    """Lay out the scratch dir and write the job; return the launcher's argv and workdir.

    scratch/root becomes the sandbox's root file system, and the same path as scratch/work
    inside it the sandbox's tmpfs and cwd; both are mounted only in the sandbox's namespace.
    Without a memory cgroup the launcher counts the program's memory itself, and the filter
    refuses the memory it could not count.
    """
    root, workdir, job_path = scratch / "root", scratch / "work", scratch / "job"
    root.mkdir()
    job = {
        "solution": solution,
        "tests": tests,
        "nonce": nonce,
        "uid_base": SANDBOX_UID_BASE,
        "root": str(root),
        "root_plan": rootfs.plan(),
        "workdir": str(workdir),
        "isolate_network": limits.network == NetworkMode.isolate,
        "wall_seconds": float(limits.wall_seconds),
        "cpu_seconds": float(limits.cpu_seconds),
        "memory_mb": int(limits.memory_mb),
        "file_size_mb": int(limits.file_size_mb),
        "max_processes": int(limits.max_processes),
        "memory_cgroup": memory is not None,
        "seccomp": syscalls.compiled_filter(memory_counted=memory is not None),
        "syscalls": {name: syscalls.syscall_number(name) for name in LAUNCHER_SYSCALLS},
    }
    fd = os.open(job_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        marshal.dump(job, file)
    return [sys.executable, *PYTHON_FLAGS, str(LAUNCHER), str(job_path)], str(workdir)


def _child_env(workdir: str) -> dict[str, str]:
    """None of the caller's variables (API keys live there); temp files go to the scratch."""
    return {"PATH": CHILD_PATH, "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8"}


def _execute(
    argv: list[str],
    cwd: str,
    env: dict[str, str],
    deadline: float,
    channels: _Channels,
    memory: cgroup.ProgramCgroup | None,
) -> bool:
    """Spawn the launcher, admit it into its memory cgroup, and drain its four pipes;
    True if it overran and was killed."""
    result_r, result_w = os.pipe()
    control_r, control_w = os.pipe()
    admit_r, admit_w = os.pipe()
    try:
        argv = [*argv, str(result_w), str(control_w), str(admit_r)]
        with _spawn(argv, cwd, env, (result_w, control_w, admit_r)) as process:
            # Our copies of the child's ends must go, or the pipes never reach end of file.
            for fd in (result_w, control_w, admit_r):
                os.close(fd)
            result_w = control_w = admit_r = -1
            admit, admit_w = admit_w, -1  # _admit closes it, whether or not it raises
            _admit(process, memory, admit)
            assert process.stdout is not None and process.stderr is not None
            readers = {
                process.stdout.fileno(): channels.stdout.feed,
                process.stderr.fileno(): channels.stderr.feed,
                result_r: channels.records.feed,
                control_r: channels.control.feed,
            }
            return _drain(process, readers, deadline)
    finally:
        for fd in (result_r, result_w, control_r, control_w, admit_r, admit_w):
            if fd >= 0:
                os.close(fd)


def _admit(process: subprocess.Popen, memory: cgroup.ProgramCgroup | None, admit_w: int) -> None:
    """Move the launcher into the program's cgroup while it starts, then let it go on.

    Closing `admit_w` unwritten stops the launcher before it forks anything.
    """
    try:
        if memory is not None:
            memory.admit(process.pid)
        os.write(admit_w, b"1")
    except OSError as exc:
        raise SandboxUnavailable(f"cannot move the sandbox into its memory cgroup: {exc}") from exc
    finally:
        os.close(admit_w)


def _spawn(
    argv: list[str], cwd: str, env: dict[str, str], pass_fds: tuple[int, ...]
) -> subprocess.Popen:
    try:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=pass_fds,
            cwd=cwd,
            env=env,
            start_new_session=True,  # its own process group, killable as a whole
        )
    except OSError as exc:
        # Nothing ran yet: an interpreter this user cannot execute, or no fds left.
        raise SandboxUnavailable(f"cannot start the sandbox launcher: {exc}") from exc


def _drain(
    process: subprocess.Popen, readers: dict[int, Callable[[bytes], None]], deadline: float
) -> bool:
    """Read every pipe to end of file, which comes once every process in the sandbox has
    exited; at the deadline kill the process group, then allow REAP_S for the rest."""
    overran = False
    with selectors.DefaultSelector() as selector:
        for fd, feed in readers.items():
            selector.register(fd, selectors.EVENT_READ, feed)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if overran:
                    break
                overran = True
                _kill_group(process)
                deadline = time.monotonic() + REAP_S
                continue
            for key, _ in selector.select(remaining):
                chunk = os.read(key.fd, READ_CHUNK)
                if chunk:
                    key.data(chunk)
                else:
                    selector.unregister(key.fd)
    return overran


def _kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the launcher's group: launcher and init, whose death takes the namespace.

    Only while the launcher is unreaped: after that its pid, and so the group id, may
    belong to an unrelated process.
    """
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _result(
    channels: _Channels, limits: SandboxLimits, overran: bool, oom_killed: bool, runtime_s: float
) -> ExecutionResult:
    records, stderr = channels.records, channels.stderr.text()
    runner = parse_control(channels.control.text(), oom_killed)
    status, detail = classify(records, runner, limits, overran, _last_line(stderr))
    passed = min(records.passed, records.total)
    return ExecutionResult(
        status=status,
        passed=passed,
        total=records.total,
        pass_fraction=passed / records.total if records.total else 0.0,
        runtime_s=runtime_s,
        stdout=channels.stdout.text(),
        stderr=stderr,
        detail=detail,
        outcomes=records.outcomes[: records.total],
    )


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1][:200] if lines else ""
