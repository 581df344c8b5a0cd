"""One writer per run directory: an exclusive lock that dies with its holder.

Two writers on one run directory (a second terminal, a sweep started again, a Slurm
requeue while the preempted job lingers) would interleave their generations in one
state. So every command that writes the state holds this lock first, and a second one is
refused with a line naming the holder.

The lock is a POSIX record lock (fcntl F_SETLK) on `run_dir/.lock`, not a lock file's
existence: the kernel drops it when its process ends, however it ends (SIGKILL, the OOM
killer), so there is never a stale lock to remove by hand. Record locks rather than
flock(2), because forked children (engine workers) do not inherit them, so the lock never
outlives its holder in an orphan, and because NFS, Lustre (mounted with `flock`) and GPFS
carry record locks between hosts. The file also holds the holder's description (host,
pid, start time, command) for the refusal message; it is rewritten by each holder and
means nothing while no one holds the lock. Since each holder truncates it, it is opened
as a plain file only, never through a link (files/plain.py).

A record lock is per process and is dropped when the process closes *any* descriptor of
the file, so this module is the only code that opens it, and takes it once per process
and run directory however often `exclusive` is nested (the CLI holds it around Hydra's
job, run/job.py again inside).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shlex
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from genetic_instruct.errors import InputError
from genetic_instruct.files.plain import open_plain
from genetic_instruct.state.database import LOCK_FILE, not_a_directory, read_only_run

_BUSY = (errno.EAGAIN, errno.EACCES)  # what F_SETLK gives when someone else holds it


class RunBusy(InputError):
    """Another process writes this run directory."""


@dataclass
class _Held:
    fd: int
    depth: int = 1


_held: dict[Path, _Held] = {}  # run directories this process holds


@contextmanager
def exclusive(run_dir: str | Path) -> Iterator[None]:
    """Hold the run's write lock for the block; RunBusy, naming the holder, if taken."""
    key = Path(run_dir).resolve()
    if key in _held:
        _held[key].depth += 1
    else:
        _held[key] = _Held(_acquire(key))
    try:
        yield
    finally:
        _held[key].depth -= 1
        if not _held[key].depth:
            os.close(_held.pop(key).fd)  # closing drops the record lock


def _acquire(run_dir: Path) -> int:
    """The locked descriptor, with this process's description written in it."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        fd = open_plain(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, "the run's lock")
    except OSError as error:
        if error.errno in (errno.EEXIST, errno.ENOTDIR):
            raise not_a_directory(run_dir) from None
        if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise read_only_run(run_dir) from None
        raise InputError(f"{run_dir}: cannot lock the run directory ({error.strerror})") from None
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        holder = _describe(fd)
        os.close(fd)
        if error.errno in _BUSY:
            raise RunBusy(
                f"{run_dir}: another process writes this run ({holder}); wait for it to "
                f"end or stop it, or use another run_dir"
            ) from None
        raise InputError(
            f"{run_dir}: its file system gives no locks ({error.strerror}); on Lustre mount "
            f"it with -o flock, or put run_dir on a local disk"
        ) from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(_me()).encode(), 0)
    except OSError as error:
        os.close(fd)
        raise InputError(f"{run_dir}: cannot lock the run directory ({error.strerror})") from None
    return fd


def _me() -> dict[str, object]:
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": shlex.join(sys.argv),
    }


def _describe(fd: int) -> str:
    """The holder's description, as one phrase; it may be mid-write or from an old holder."""
    try:
        holder = json.loads(os.pread(fd, 65536, 0))
        return (
            f"host {holder['host']}, pid {holder['pid']}, started {holder['started']}, "
            f"command: {holder['command']}"
        )
    except (OSError, ValueError, KeyError, TypeError):
        return "it has not said who it is yet"
