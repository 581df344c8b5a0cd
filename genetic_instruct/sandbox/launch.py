"""One sandboxed process tree, from the caller's side: scratch dir, spawn, drain, gather.

Nothing here executes generated code. The only child is _launcher.py in a fresh
interpreter; it reports through two pipes opened here (harness records and init's exit
report), while stdout and stderr are read incrementally into bounded buffers. What runs
inside is the Launch's body: the Python harness (runner.py), or a compiler or a built
program with its harness (compiled.py).
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from genetic_instruct.errors import SandboxUnavailable

from . import cgroup, rootfs, syscalls
from .limits import ExecutionResult, NetworkMode, SandboxLimits
from .verdict import Records, RunnerExit, classify, parse_control

LAUNCHER = Path(__file__).with_name("_launcher.py")
TEMP_PREFIX = "gi-sandbox-"
# Where an exec'd harness finds this run's nonce (in its scratch; it deletes the file).
NONCE_FILE = ".gi-nonce"
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


@dataclass(frozen=True)
class Launch:
    """One sandboxed process tree: what its runner does, in which root, under which limits.

    body: {"kind": "python", "solution", "tests"} runs the Python harness in the runner;
        {"kind": "exec", "argv", "env", "files", "results"} writes `files` (name, bytes,
        mode) into the scratch and executes argv there, with the records channel on fd 3
        when `results`.
    address_space_mb: RLIMIT_AS, where a runtime reserves more address space than it uses
        (a JVM, V8); the memory limit holds either way (cgroup.py). None: memory_mb.
    extra_processes: threads a runtime starts for itself, on top of max_processes.
    collect: names in the scratch copied back afterwards (a build's output), into
        Outcome.collected.
    """

    body: dict
    root_plan: tuple[rootfs.Entry, ...]
    limits: SandboxLimits
    address_space_mb: int | None = None
    extra_processes: int = 0
    collect: tuple[str, ...] = ()


@dataclass
class Outcome:
    """What came back from one launch, before it is classified."""

    limits: SandboxLimits
    channels: _Channels
    overran: bool
    oom_killed: bool
    runtime_s: float
    collected: dict[str, tuple[bytes, int]]  # name (dir/file for a folder) -> (data, mode)
    # An exec'd program's own code may run before its harness reports (C++ static
    # initializers, Go's init): a crash there is the program's, not the sandbox's.
    program_first: bool = False

    @property
    def stderr(self) -> str:
        return self.channels.stderr.text()

    def exit(self) -> RunnerExit | None:
        """How the runner ended; raises SandboxUnavailable if the platform refused."""
        return parse_control(self.channels.control.text(), self.oom_killed)

    def result(self) -> ExecutionResult:
        records, stderr = self.channels.records, self.stderr
        status, detail = classify(
            records, self.exit(), self.limits, self.overran, stderr, self.program_first
        )
        passed = min(records.passed, records.total)
        return ExecutionResult(
            status=status,
            passed=passed,
            total=records.total,
            pass_fraction=passed / records.total if records.total else 0.0,
            runtime_s=self.runtime_s,
            stdout=self.channels.stdout.text(),
            stderr=stderr,
            detail=detail,
            outcomes=records.outcomes,
        )


def launch(spec: Launch) -> Outcome:
    """Run one sandboxed process tree to its end (or its wall clock) and gather its output."""
    limits = spec.limits
    started = time.monotonic()
    channels = _Channels.for_run(secrets.token_hex(16), limits.output_bytes)
    with (
        tempfile.TemporaryDirectory(prefix=TEMP_PREFIX) as scratch,
        cgroup.program_cgroup(limits.memory_mb) as memory,
    ):
        argv, workdir = _prepare(Path(scratch), spec, channels.records.nonce, memory)
        deadline = time.monotonic() + limits.wall_seconds + GRACE_S
        overran = _execute(argv, scratch, _child_env(workdir), deadline, channels, memory)
        oom_killed = memory is not None and memory.oom_kills() > 0
        collected = _collected(Path(scratch) / "out", spec.collect)
    runtime_s = time.monotonic() - started
    program_first = spec.body["kind"] == "exec"
    return Outcome(limits, channels, overran, oom_killed, runtime_s, collected, program_first)


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
    scratch: Path, spec: Launch, nonce: str, memory: cgroup.ProgramCgroup | None
) -> tuple[list[str], str]:
    """Lay out the scratch dir and write the job; return the launcher's argv and workdir.

    scratch/root becomes the sandbox's root file system, and the same path as scratch/work
    inside it the sandbox's tmpfs and cwd; both are mounted only in the sandbox's namespace.
    scratch/out receives what the launcher collects. Without a memory cgroup the launcher
    counts the program's memory itself, and the filter refuses the memory it could not count.
    """
    root, workdir, job_path, out = (scratch / name for name in ("root", "work", "job", "out"))
    root.mkdir()
    out.mkdir()
    limits = spec.limits
    job = {
        **spec.body,
        "nonce": nonce,
        **_nonce_file(spec.body, nonce),
        "uid_base": SANDBOX_UID_BASE,
        "root": str(root),
        "root_plan": spec.root_plan,
        "workdir": str(workdir),
        "out": str(out),
        "collect": list(spec.collect),
        "collect_bytes": int(limits.file_size_mb) * 1024 * 1024,
        "isolate_network": limits.network == NetworkMode.isolate,
        "wall_seconds": float(limits.wall_seconds),
        "cpu_seconds": float(limits.cpu_seconds),
        "memory_mb": int(limits.memory_mb),
        "address_space_mb": int(spec.address_space_mb or limits.memory_mb),
        "file_size_mb": int(limits.file_size_mb),
        "max_processes": int(limits.max_processes) + spec.extra_processes,
        "memory_cgroup": memory is not None,
        "seccomp": syscalls.compiled_filter(memory_counted=memory is not None),
        "syscalls": {name: syscalls.syscall_number(name) for name in LAUNCHER_SYSCALLS},
    }
    fd = os.open(job_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        marshal.dump(job, file)
    return [sys.executable, *PYTHON_FLAGS, str(LAUNCHER), str(job_path)], str(workdir)


def _nonce_file(body: dict, nonce: str) -> dict:
    """An exec'd harness reads the nonce from a file among its own (Python's gets it in the
    job): {"files": ...} with it added, or nothing."""
    if body["kind"] != "exec" or not body["results"]:
        return {}
    return {"files": [*body["files"], (NONCE_FILE, nonce.encode("ascii"), 0o600)]}


def _collected(out: Path, names: tuple[str, ...]) -> dict[str, tuple[bytes, int]]:
    """What the launcher copied out: each file, and each file of a collected folder."""
    found: dict[str, tuple[bytes, int]] = {}
    for name in names:
        path = out / name
        files = sorted(path.iterdir()) if path.is_dir() else [path] if path.is_file() else []
        for file in files:
            key = file.relative_to(out).as_posix()
            found[key] = (file.read_bytes(), 0o700 if os.access(file, os.X_OK) else 0o600)
    return found


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
