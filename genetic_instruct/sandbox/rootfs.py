"""What the sandbox's root file system holds: the allow-list, worked out once per process.

The launcher builds a fresh tmpfs root from this plan and pivots into it (see
_launcher.py), so generated code sees these paths and nothing else of the host: the
interpreter, the standard library (its site-packages masked), the shared libraries the
interpreter and the standard library's extension modules link against (found with ldd,
trusted code run on trusted files), the dynamic loader's cache, /dev/null and
/dev/urandom. The scratch directory, /dev/shm and /proc are added by the launcher itself.

Computed here, in the caller, rather than in the launcher: ldd costs a few hundred
milliseconds once, and the launcher, which runs once per program, only replays the plan,
one system call per entry (about 2 ms for the ~100 entries of a typical interpreter).

Each entry is a tuple the launcher acts on, in order, at the same path under the new root:

    ("dir", path)              an empty directory (a parent, or a mount point)
    ("file", path)             an empty file (a mount point)
    ("symlink", path, target)  the same symbolic link as on the host (/lib -> usr/lib)
    ("bind", path)             a read-only bind of the host's file or directory
    ("device", path)           a bind of a host device node (read-write, no suid)
    ("mask", path)             an empty read-only tmpfs over a directory
    ("shm", path), ("proc", path)
                               the launcher's own mounts: a private /dev/shm, and the
                               PID namespace's own /proc

The scratch directory, the program's cwd, keeps its host path (a fresh temporary
directory, so it cannot collide with anything above); the launcher mounts it.
"""

from __future__ import annotations

import functools
import glob
import os
import subprocess
import sys
from collections.abc import Iterable

from genetic_instruct.errors import SandboxUnavailable

Entry = tuple[str, ...]
DEVICES = ("/dev/null", "/dev/urandom")
LOADER_CACHE = "/etc/ld.so.cache"
LDD_TIMEOUT_S = 60


@functools.cache
def plan() -> tuple[Entry, ...]:
    """The root's entries for this interpreter; raises SandboxUnavailable without ldd."""
    stdlib = os.path.dirname(os.__file__)
    executables = [os.path.realpath(sys.executable)]
    executables += sorted(glob.glob(os.path.join(stdlib, "lib-dynload", "*.so")))
    site_packages = os.path.join(os.path.realpath(stdlib), "site-packages")
    return plan_for([sys.executable, stdlib], executables, masks=[site_packages])


def plan_for(
    paths: Iterable[str], executables: Iterable[str] = (), masks: Iterable[str] = ()
) -> tuple[Entry, ...]:
    """A root holding `paths` (files or whole directories), the shared libraries the
    `executables` load, the loader's cache, the devices, /dev/shm and /proc; each of
    `masks` (a directory inside one of those) an empty one there. Paths that do not exist
    are left out. One plan per toolchain: the sandbox's root for a program holds what its
    language needs and nothing else."""
    programs = list(executables)
    libraries = shared_libraries(programs) if programs else []
    entries: dict[Entry, None] = {}
    # The loader cache: how the loader finds libraries outside its default directories.
    for path in filter(os.path.exists, [*paths, *libraries, LOADER_CACHE]):
        _expose(entries, "bind", path)
    for mask in masks:
        if os.path.isdir(mask):
            _add(entries, "mask", mask)
    for device in DEVICES:
        _expose(entries, "device", device)
    for kind, path in (("shm", "/dev/shm"), ("proc", "/proc")):
        _expose(entries, kind, path, directory=True)
    return _inside_binds_left_out(entries)


def _inside_binds_left_out(entries: dict[Entry, None]) -> tuple[Entry, ...]:
    """The entries without those a bound directory already shows: a directory, file, link
    or bind inside a read-only bind could not be made there (and need not be)."""
    bound = [path for kind, path, *_ in entries if kind == "bind" and os.path.isdir(path)]
    bound_dirs = tuple(path.rstrip("/") + "/" for path in bound)
    return tuple(
        entry
        for entry in entries
        if entry[0] in ("mask", "device", "shm", "proc") or not entry[1].startswith(bound_dirs)
    )


def shared_libraries(files: list[str]) -> list[str]:
    """Every shared object the files load, the dynamic loader included, as ldd names them."""
    try:
        done = subprocess.run(
            ["ldd", *files],
            capture_output=True,
            text=True,
            env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"},
            timeout=LDD_TIMEOUT_S,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxUnavailable(f"cannot list the interpreter's shared libraries: {exc}") from exc
    found: dict[str, None] = {}
    for line in done.stdout.splitlines():
        # "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "\t/lib64/ld-linux... (0x...)"
        words = line.split()
        path = words[2] if len(words) == 4 and words[1] == "=>" else words[0] if words else ""
        if path.startswith("/") and os.path.exists(path):
            found[path] = None
    if not found:
        raise SandboxUnavailable(f"ldd listed no shared library: {done.stderr.strip()[:200]}")
    return list(found)


def _expose(entries: dict[Entry, None], kind: str, path: str, directory: bool = False) -> None:
    """Add what `path` needs (symlinks and parents on its way, a mount point), then `kind`."""
    real = _mirror(path, entries)
    _parents(entries, real)
    _add(entries, "dir" if directory or os.path.isdir(real) else "file", real)
    _add(entries, kind, real)


def _mirror(path: str, entries: dict[Entry, None]) -> str:
    """Add the symlinks on the way to `path` (its own included) and return its real path,
    so the path resolves inside the new root exactly as on the host."""
    current = "/"
    for part in path.strip("/").split("/"):
        if part in ("", "."):
            continue
        if part == "..":  # from where the links so far led, as the kernel does (ldd: bin/../lib)
            current = os.path.dirname(current)
            continue
        candidate = os.path.join(current, part)
        if os.path.islink(candidate):
            _parents(entries, candidate)
            _add(entries, "symlink", candidate, os.readlink(candidate))
            current = _mirror(
                os.path.normpath(os.path.join(current, os.readlink(candidate))), entries
            )
        else:
            current = candidate
    return current


def _parents(entries: dict[Entry, None], path: str) -> None:
    parts = path.strip("/").split("/")[:-1]
    for depth in range(1, len(parts) + 1):
        _add(entries, "dir", "/" + "/".join(parts[:depth]))


def _add(entries: dict[Entry, None], *entry: str) -> None:
    entries.setdefault(entry, None)
