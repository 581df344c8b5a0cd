"""The files a run writes are opened as themselves, never through a symbolic link.

A run directory may be shared, copied from elsewhere or prepared by someone else. A link
planted at `.lock`, `state.sqlite` (or its -wal, -shm) or an exported file would make a run
truncate or overwrite whatever the link points at, with the user's rights. So those names
must be plain files (or absent): a link there stops the command with one line naming it,
and nothing is opened. Descriptors are opened with O_NOFOLLOW as well, so a link that
appears after the check is refused by the kernel, not followed.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from genetic_instruct.errors import InputError


class LinkedFile(InputError):
    """A file the tool writes is a symbolic link (or another name of a file: a hard link)."""


def linked_file(path: Path, what: str) -> LinkedFile:
    """The one line about a link at `path`; `what` says what the file is to the run."""
    try:
        shown = f"a symbolic link to {os.readlink(path)}"
    except OSError:
        shown = "a symbolic link"
    return LinkedFile(
        f"{path}: {shown}; genetic-instruct writes {what} only as a plain file, never "
        "through a link: remove the link"
    )


def refuse_links(paths: Iterable[Path], what: str) -> None:
    """Raise LinkedFile for the first of `paths` that is a symbolic link."""
    for path in paths:
        if path.is_symlink():
            raise linked_file(path, what)


def open_plain(path: Path, flags: int, what: str, mode: int = 0o644) -> int:
    """`os.open` that refuses a symbolic link at `path` (LinkedFile), and a file that is not
    a regular one or has other names (hard links), which writing would change too."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise linked_file(path, what) from None
        raise
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink > 1:
        os.close(fd)
        kind = "not a regular file" if not stat.S_ISREG(info.st_mode) else "a hard link"
        raise LinkedFile(
            f"{path}: {kind}; genetic-instruct writes {what} only as a plain file of its "
            "own: remove it"
        )
    return fd
