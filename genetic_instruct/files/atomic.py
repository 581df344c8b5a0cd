"""Files that appear whole or not at all: written to a temporary file beside the target,
flushed to disk, then renamed over it (a rename within one directory is atomic on POSIX).

A write that ends any other way removes its temporary file (console/interrupts.py turns SIGTERM
into an exception for the commands that write files, so that holds for it too). Only a
process that dies at once (SIGKILL, the OOM killer, a power cut) leaves one, and the next
write of the same target sweeps it: temporary files are named
`.<name>.genetic-instruct-tmp-<random>` and held under an flock(2) lock while their writer
lives, so a sweep removes only ours, and none that a live writer still holds. Earlier
versions named them `.<name>-<random>` (mkstemp's 8 characters): those are swept as well,
but only where nothing else could have made them: private to us (mode 0600, as mkstemp
leaves them) and holding what our files hold (ownership.is_ours).
"""

from __future__ import annotations

import fcntl
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from genetic_instruct.files.ownership import is_ours

TMP_TAG = ".genetic-instruct-tmp-"
_MKSTEMP_NAME = "[a-z0-9_]{8}"  # tempfile's random part


@contextmanager
def atomic_file(path: str | Path) -> Iterator[IO[bytes]]:
    """A binary file that replaces ``path`` when the block ends without an exception;
    after one, the temporary file is removed and ``path`` is left as it was."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_debris(target)
    with temp_beside(target) as (fd, tmp):
        with os.fdopen(fd, "wb", closefd=False) as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; datasets and reports are shared
        os.replace(tmp, target)


@contextmanager
def temp_beside(target: Path) -> Iterator[tuple[int, str]]:
    """A new temporary file for `target`, in its folder: (descriptor, path). It is locked
    while the block runs and removed after it, unless the block renamed it into place."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}{TMP_TAG}", dir=target.parent)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # tells a sweep that its writer is alive
        yield fd, tmp
    finally:
        os.close(fd)
        Path(tmp).unlink(missing_ok=True)


def sweep_debris(target: Path) -> None:
    """Remove the temporary files that writers of `target` killed outright left beside it."""
    ours = f".{target.name}{TMP_TAG}"
    legacy = re.compile(re.escape(f".{target.name}-") + f"(part-)?{_MKSTEMP_NAME}")
    try:
        names = os.listdir(target.parent)
    except OSError:  # no folder yet, or not ours to list: nothing of ours there
        return
    for name in names:
        if name.startswith(ours) or legacy.fullmatch(name):
            _remove_if_abandoned(target.parent / name, legacy=not name.startswith(ours))


def _remove_if_abandoned(path: Path, legacy: bool) -> None:
    """Remove `path` if it is a plain file of this user that no live writer holds (and,
    for an old version's name, private and recognisably ours)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
            return
        if legacy and (stat.S_IMODE(info.st_mode) != 0o600 or not is_ours(path)):
            return
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError: its writer lives
        path.unlink()
    except OSError:
        return
    finally:
        os.close(fd)
