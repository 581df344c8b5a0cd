"""A memory cgroup per sandboxed program: its limit holds for the program as a whole.

RLIMIT_AS bounds one process's address space, so eight processes of 400 MB each held
3.2 GB under memory_mb=512, and memory that is no process's mapping (memfds, tmpfs files,
SysV shared memory) escaped it altogether. A memory cgroup counts all of it, every page the
program's processes fault in wherever it lives, and the kernel's OOM killer acts inside the
cgroup when the sum passes the limit.

The cgroup is made below the caller's own memory cgroup: cgroup v1's memory hierarchy
(`memory.limit_in_bytes`, plus `memory.memsw.limit_in_bytes` where swap is accounted, so
swap is no way around it), as on hosts that still mount v1 (ours do), or a cgroup v2 subtree
that offers the memory controller (`memory.max`, `memory.swap.max`). Root can always make
one; an ordinary user only where the subtree is delegated to it (systemd's user slices on
v2). Where none can be made, `available()` is False and the launcher falls back to counting
the resident memory of the program's processes itself (see _launcher.py), while memfds and
SysV shared memory are refused outright (syscalls.py).

The caller makes the directory, moves the launcher in while it starts (before it forks
anything, so every process of the program is born inside), and removes it afterwards.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

PREFIX = "gi-sandbox-"
REMOVE_TRIES = 50  # x 10 ms: the kernel frees a cgroup a moment after its last process
REMOVE_PAUSE_S = 0.01


@dataclass(frozen=True)
class Hierarchy:
    """Where sandbox cgroups go, and the names of the files that set their limit."""

    parent: Path
    limit_files: tuple[str, ...]  # each written with the limit, in order
    zero_files: tuple[str, ...]  # each written with 0 (no swap)
    events_file: str  # where the kernel counts OOM kills
    oom_kill_key: str


def available() -> bool:
    return _hierarchy() is not None


@contextlib.contextmanager
def program_cgroup(memory_mb: int) -> Iterator[ProgramCgroup | None]:
    """A fresh cgroup limited to `memory_mb`, removed afterwards; None where none can be made."""
    hierarchy = _hierarchy()
    if hierarchy is None:
        yield None
        return
    _remove_left()
    path = hierarchy.parent / f"{PREFIX}{secrets.token_hex(8)}"
    path.mkdir()
    try:
        _limit(path, hierarchy, memory_mb * 1024 * 1024)
        yield ProgramCgroup(path, hierarchy)
    finally:
        _remove(path)


@dataclass(frozen=True)
class ProgramCgroup:
    path: Path
    hierarchy: Hierarchy

    def admit(self, pid: int) -> None:
        """Move process `pid` in; its children are born inside."""
        (self.path / "cgroup.procs").write_text(str(pid))

    def oom_kills(self) -> int:
        """Processes the kernel killed for the limit; read before the cgroup goes."""
        try:
            text = (self.path / self.hierarchy.events_file).read_text()
        except OSError:
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == self.hierarchy.oom_kill_key:
                return int(value)
        return 0


def _limit(path: Path, hierarchy: Hierarchy, limit: int) -> None:
    for name in hierarchy.limit_files:
        (path / name).write_text(str(limit))
    for name in hierarchy.zero_files:
        with contextlib.suppress(OSError):  # no swap accounting: nothing to close off
            (path / name).write_text("0")


def _remove(path: Path) -> None:
    """rmdir, which the kernel refuses (EBUSY) until the last process has fully exited.

    A program killed at its deadline may take longer than REMOVE_TRIES to leave: its PID
    namespace is torn down after the launcher is reaped, more slowly on a loaded machine.
    Such a cgroup is left for a later call to remove rather than wait for, or fail a run.
    """
    for _ in range(REMOVE_TRIES):
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(REMOVE_PAUSE_S)
    with _LEFT_LOCK:
        _LEFT.add(path)


def _remove_left() -> None:
    """One more try at each cgroup an earlier run left busy; those still busy stay listed."""
    with _LEFT_LOCK:
        for path in list(_LEFT):
            try:
                path.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                continue
            _LEFT.discard(path)


# Cgroups whose programs were still leaving; sandboxes run from a thread pool.
_LEFT: set[Path] = set()
_LEFT_LOCK = threading.Lock()
atexit.register(_remove_left)


@functools.cache
def _hierarchy() -> Hierarchy | None:
    """The first usable hierarchy for this process: v1's memory controller, or v2."""
    for found in (_v1(), _v2()):
        if found is not None and _can_make_children(found):
            return found
    return None


def _v1() -> Hierarchy | None:
    place = _own_cgroup(lambda controllers: "memory" in controllers.split(","))
    mount = _mount_point(lambda fstype, options: fstype == "cgroup" and "memory" in options)
    if place is None or mount is None:
        return None
    parent = _join(mount, place)
    # memsw (memory + swap) must be set after the memory limit, never below it.
    swap = "memory.memsw.limit_in_bytes"
    limits = ("memory.limit_in_bytes", *((swap,) if (parent / swap).exists() else ()))
    return Hierarchy(parent, limits, (), "memory.oom_control", "oom_kill")


def _v2() -> Hierarchy | None:
    place = _own_cgroup(lambda controllers: controllers == "")
    mount = _mount_point(lambda fstype, _options: fstype == "cgroup2")
    if place is None or mount is None:
        return None
    return Hierarchy(
        _join(mount, place), ("memory.max",), ("memory.swap.max",), "memory.events", "oom_kill"
    )


def _can_make_children(hierarchy: Hierarchy) -> bool:
    """Whether a child can be made here and limited (v2: only where the parent delegates
    the memory controller to its children)."""
    probe = hierarchy.parent / f"{PREFIX}probe-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        probe.mkdir()
    except OSError:
        return False
    try:
        return all(os.access(probe / name, os.W_OK) for name in hierarchy.limit_files)
    finally:
        _remove(probe)


def _own_cgroup(wanted: Callable[[str], bool]) -> str | None:
    """This process's path in the hierarchy whose controller list `wanted` accepts."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _number, controllers, path = line.split(":", 2)
        if wanted(controllers):
            return path
    return None


def _mount_point(wanted: Callable[[str, str], bool]) -> tuple[Path, str] | None:
    """(mount point, the mount's root within its hierarchy) of the first matching mount."""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields, _, tail = line.partition(" - ")
        parts, rest = fields.split(), tail.split()
        if len(parts) >= 5 and len(rest) >= 3 and wanted(rest[0], rest[2]):
            return Path(parts[4]), parts[3]
    return None


def _join(mount: tuple[Path, str], place: str) -> Path:
    """The directory of `place`, a path relative to the hierarchy's root, under a mount
    of the hierarchy whose own root may be deeper (a container's view)."""
    point, root = mount
    relative = os.path.relpath(place, root)
    return point if relative == "." else point / relative
