"""The state file as an SQLite database: where it lies, how it opens, its tables.

A run's state is one SQLite file in WAL mode in the run directory. A run opens it for
writing (creating it and the directory on first use); every other command opens an
existing one read-only, and on read-only media as immutable. SQLite's own failures
(a corrupt file, a read-only or full disk) become one line naming the file (StateError).
What the run keeps in it is store.py's.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from genetic_instruct.errors import InputError
from genetic_instruct.files.plain import refuse_links

LAYOUT = 1  # the version of the tables below; meta SCHEMA_VERSION records a run's
STATE_FILE = "state.sqlite"
LOCK_FILE = ".lock"  # the run's write lock (run/lock.py), beside the state it guards
_SQLITE_FILES = ("", "-wal", "-shm", "-journal")  # the database, and what SQLite puts beside it

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS individuals (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    generation INTEGER NOT NULL,
    record TEXT NOT NULL,
    signature BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS journal (
    key TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    completion TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS verdicts (
    key TEXT PRIMARY KEY,
    stage TEXT NOT NULL,
    result TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS generations (
    generation INTEGER PRIMARY KEY,
    stats TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rejected_answers (
    role TEXT NOT NULL,
    reason TEXT NOT NULL,
    generation INTEGER NOT NULL,
    request INTEGER NOT NULL,
    answer TEXT NOT NULL,
    PRIMARY KEY (role, reason, generation, request)
);
"""

T = TypeVar("T")


class StateError(InputError):
    """The run directory's state cannot be used as it is (corrupt, other version, unwritable)."""


def state_errors(method: Callable[..., T]) -> Callable[..., T]:
    """SQLite failures (corrupt file, read-only or full disk) in a method of an object with
    a `path` become one-line StateErrors."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> T:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as error:
            raise StateError(f"{self.path}: run state unusable ({error})") from None

    return wrapper


def has_state(run_dir: str | Path) -> bool:
    """Whether run_dir holds a state file with content (a 0-byte file is what a process
    killed while creating it leaves: no run yet)."""
    path = Path(run_dir) / STATE_FILE
    return path.is_file() and path.stat().st_size > 0


def require_state(run_dir: str | Path) -> None:
    """Raise StateError unless run_dir holds a run state: commands other than `run` never
    create one (an empty state would read as a valid run of 0 individuals)."""
    if not has_state(run_dir):
        raise StateError(
            f"{Path(run_dir) / STATE_FILE}: no run state here (missing or empty file; "
            "config key run_dir)"
        )


def state_files(run_dir: str | Path) -> list[Path]:
    """The state file and the files SQLite keeps beside it (it opens them by name too)."""
    return [Path(run_dir) / f"{STATE_FILE}{suffix}" for suffix in _SQLITE_FILES]


def not_a_directory(run_dir: Path) -> StateError:
    """What any command says of a run_dir that is a file."""
    return StateError(f"{run_dir}: a file, not a directory (config key run_dir)")


def read_only_run(run_dir: Path) -> StateError:
    """What `run` says of a run directory it cannot write (read-only media, permissions)."""
    return StateError(
        f"{run_dir}: the run directory is read-only; inspect, verify, report "
        "(with report_dir=...) and export (with export.path=...) can still read it"
    )


def open_for_writing(path: Path) -> sqlite3.Connection:
    """The state file at `path`, created with its directory and tables if new."""
    refuse_links(state_files(path.parent), "the run's state")  # SQLite would follow them
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise not_a_directory(path.parent) from None
    except OSError as error:
        raise StateError(
            f"{path.parent}: cannot create run directory ({error.strerror}; config key run_dir)"
        ) from None
    if not os.access(path.parent, os.W_OK):
        raise read_only_run(path.parent)
    try:
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(SCHEMA)
    except sqlite3.DatabaseError as error:
        raise StateError(f"{path}: not a usable state database ({error})") from None
    return db


def open_read_only(path: Path) -> sqlite3.Connection:
    """An existing state file, opened without writing. On read-only media SQLite cannot
    make the WAL index, so the file is opened as immutable there when no WAL file holds
    unmerged commits."""
    refuse_links(state_files(path.parent), "the run's state")  # SQLite would follow them
    require_state(path.parent)
    wal = path.with_name(f"{STATE_FILE}-wal")
    writable = os.access(path.parent, os.W_OK)
    query = "mode=ro" if writable or wal.exists() else "immutable=1"
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?{query}", uri=True, isolation_level=None)
        found = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.DatabaseError as error:
        hint = "" if writable else "; its directory is read-only: copy the run to writable storage"
        raise StateError(f"{path}: not a usable state database ({error}{hint})") from None
    version = None if found is None else json.loads(found[0])
    if version != LAYOUT:
        db.close()
        raise StateError(
            f"{path}: state schema version {version}, this genetic-instruct reads "
            f"{LAYOUT}; use the matching version"
        )
    return db


def has_table(db: sqlite3.Connection, name: str) -> bool:
    found = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).fetchone()
    return found is not None


class Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
