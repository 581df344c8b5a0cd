"""A run's durable state in SQLite (WAL): population, request journal, generation marker.

A generation's survivors, their dedup signatures, its statistics and the generation marker
commit in one transaction, so after a crash the database holds either the whole generation
or none of it. Finished LLM requests are journaled as they arrive (keyed by a hash of model,
prompt, sampling parameters and seed), so a restart pays for no finished call twice. So are
sandbox verdicts (keyed by a hash of program, tests and limits): a wall-clock limit need not
repeat on a loaded machine, and the judge's prompt shows the verdict, so a resume replays it
rather than running the program again. The journal only serves the generation in flight
(request seeds include the generation), so a commit empties it: at 800k it would otherwise
hold gigabytes of answers no run asks again.

Individuals are numbered 1..N in insertion order (`seq`, SQLite's rowid; rows are never
deleted), so the population can be sampled by position without holding it in memory.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import numpy as np
import orjson

from genetic_instruct import faults
from genetic_instruct.errors import InputError
from genetic_instruct.files.plain import refuse_links
from genetic_instruct.individual import Individual
from genetic_instruct.llm.base import Completion
from genetic_instruct.state.meta import GENERATION, SCHEMA_VERSION, RunMeta

LAYOUT = 1  # the version of the tables below; meta SCHEMA_VERSION records a run's
STATE_FILE = "state.sqlite"
LOCK_FILE = ".lock"  # the run's write lock (run/lock.py), beside the state it guards
_SQLITE_FILES = ("", "-wal", "-shm", "-journal")  # the database, and what SQLite puts beside it

_SCHEMA = """
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
"""

T = TypeVar("T")


class Lineage(NamedTuple):
    id: str
    origin: str
    method: str | None
    generation: int
    parents: tuple[str, ...]


class StateError(InputError):
    """The run directory's state cannot be used as it is (corrupt, other version, unwritable)."""


def _state_errors(method: Callable[..., T]) -> Callable[..., T]:
    """SQLite failures (corrupt file, read-only or full disk) become one-line StateErrors."""

    @functools.wraps(method)
    def wrapper(self: RunStore, *args: Any, **kwargs: Any) -> T:
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


class RunStore:
    """`RunStore(run_dir)` creates the database on first use (the run);
    `RunStore(run_dir, read_only=True)` only opens an existing one and never writes to it
    (inspect, verify, report; any command on read-only media)."""

    def __init__(self, run_dir: str | Path, *, read_only: bool = False) -> None:
        self.path = Path(run_dir) / STATE_FILE
        self.read_only = read_only
        self.meta = RunMeta(self._read_meta, self._write_meta)
        refuse_links(state_files(run_dir), "the run's state")  # SQLite would follow them
        if read_only:
            self._db = self._open_read_only()
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise not_a_directory(self.path.parent) from None
        except OSError as error:
            raise StateError(
                f"{self.path.parent}: cannot create run directory ({error.strerror}; "
                "config key run_dir)"
            ) from None
        if not os.access(self.path.parent, os.W_OK):
            raise read_only_run(self.path.parent)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as error:
            raise StateError(f"{self.path}: not a usable state database ({error})") from None
        self._check_version()

    def _open_read_only(self) -> sqlite3.Connection:
        """Open without writing. On read-only media SQLite cannot make the WAL index, so
        the file is opened as immutable there when no WAL file holds unmerged commits."""
        require_state(self.path.parent)
        wal = self.path.with_name(f"{STATE_FILE}-wal")
        writable = os.access(self.path.parent, os.W_OK)
        query = "mode=ro" if writable or wal.exists() else "immutable=1"
        try:
            db = sqlite3.connect(
                f"{self.path.resolve().as_uri()}?{query}", uri=True, isolation_level=None
            )
            found = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.DatabaseError as error:
            hint = (
                "" if writable else "; its directory is read-only: copy the run to writable storage"
            )
            raise StateError(f"{self.path}: not a usable state database ({error}{hint})") from None
        version = None if found is None else json.loads(found[0])
        if version != LAYOUT:
            db.close()
            raise StateError(
                f"{self.path}: state schema version {version}, this genetic-instruct reads "
                f"{LAYOUT}; use the matching version"
            )
        return db

    def _check_version(self) -> None:
        found = self.meta.get(SCHEMA_VERSION)
        if found is None:
            self.meta.set(SCHEMA_VERSION, LAYOUT)
        elif found != LAYOUT:
            raise StateError(
                f"{self.path}: state schema version {found}, this genetic-instruct reads "
                f"{LAYOUT}; use a new run_dir or the matching version"
            )

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Closed on the way out, whether the block finished or raised."""
        self.close()

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads in the block see one committed state, whatever a writer in another
        process commits meanwhile (a WAL read transaction); for read-only commands."""
        self._db.execute("BEGIN")
        try:
            yield
        finally:
            self._db.execute("COMMIT")

    # -- meta -------------------------------------------------------------------------
    @_state_errors
    def _read_meta(self, key: str) -> Any:
        """A meta value as stored (JSON); read by typed key through `self.meta`."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    @_state_errors
    def _write_meta(self, key: str, value: Any) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value))
        )

    @property
    def generation(self) -> int | None:
        """The last committed generation (0 = seeds), or None for a new run."""
        return self.meta.get(GENERATION)

    # -- population ---------------------------------------------------------------------
    @_state_errors
    def commit_generation(
        self,
        generation: int,
        individuals: Sequence[Individual],
        signatures: np.ndarray,
        stats: dict[str, Any],
    ) -> None:
        """Add survivors, advance the marker and empty the journal, atomically.

        An id stored before is skipped.
        """
        rows = [
            (
                ind.id,
                generation,
                orjson.dumps(ind.to_dict(), option=orjson.OPT_SERIALIZE_NUMPY).decode(),
                sig.tobytes(),
            )
            for ind, sig in zip(individuals, signatures, strict=True)
        ]
        with self._transaction():
            self._db.executemany(
                "INSERT OR IGNORE INTO individuals (id, generation, record, signature) "
                "VALUES (?, ?, ?, ?)",
                rows,
            )
            self._db.execute(
                "INSERT OR REPLACE INTO generations (generation, stats) VALUES (?, ?)",
                (generation, json.dumps(stats)),
            )
            self.meta.set(GENERATION, generation)
            self._db.execute("DELETE FROM journal")
            self._db.execute("DELETE FROM verdicts")
            faults.point("commit")

    @_state_errors
    def population_size(self) -> int:
        row = self._db.execute("SELECT MAX(seq) FROM individuals").fetchone()
        return int(row[0] or 0)

    @_state_errors
    def individual_at(self, position: int) -> Individual:
        """The individual at 0-based insertion position (seq = position + 1)."""
        row = self._db.execute(
            "SELECT record FROM individuals WHERE seq = ?", (position + 1,)
        ).fetchone()
        if row is None:
            raise IndexError(position)
        return Individual.from_dict(orjson.loads(row[0]))

    def individuals(self, after_seq: int = 0) -> Iterator[Individual]:
        """Stream individuals in insertion order, from position `after_seq` on."""
        for record in self.records(after_seq):
            yield Individual.from_dict(record)

    @_state_errors
    def records(self, after_seq: int = 0, upto_seq: int | None = None) -> Iterator[dict[str, Any]]:
        """Stored records as dicts (Individual.to_dict()), for readers that need speed."""
        cursor = self._db.execute(
            "SELECT record FROM individuals WHERE seq > ? AND seq <= ? ORDER BY seq",
            (after_seq, upto_seq if upto_seq is not None else 2**63 - 1),
        )
        for (record,) in cursor:
            yield orjson.loads(record)

    @_state_errors
    def lineages(self) -> Iterator[Lineage]:
        """Every individual's lineage fields in insertion order, read without the texts.

        SQLite extracts the fields from the stored JSON, so a report over 800k records does
        not parse megabytes of instructions and solutions in Python.
        """
        cursor = self._db.execute(
            "SELECT id, record ->> 'origin', record ->> 'method', generation, "
            "record -> 'parents' FROM individuals ORDER BY seq"
        )
        for ident, origin, method, generation, parents in cursor:
            yield Lineage(ident, origin, method, generation, tuple(orjson.loads(parents)))

    @_state_errors
    def ids(self) -> list[str]:
        return [ident for (ident,) in self._db.execute("SELECT id FROM individuals ORDER BY seq")]

    @_state_errors
    def signatures(self, dtype: np.dtype) -> tuple[list[str], np.ndarray]:
        """Stored dedup signatures, so the index is rebuilt without re-hashing any text."""
        ids: list[str] = []
        blobs: list[bytes] = []
        for ident, blob in self._db.execute("SELECT id, signature FROM individuals ORDER BY seq"):
            ids.append(ident)
            blobs.append(blob)
        if not blobs:
            return ids, np.zeros((0, 0), dtype=dtype)
        flat = np.frombuffer(b"".join(blobs), dtype=dtype)
        return ids, flat.reshape(len(blobs), -1)

    @_state_errors
    def generation_stats(self) -> list[dict[str, Any]]:
        rows = self._db.execute("SELECT generation, stats FROM generations ORDER BY generation")
        return [{"generation": g, **json.loads(s)} for g, s in rows]

    # -- journal ------------------------------------------------------------------------
    @_state_errors
    def journal_lookup(self, keys: Iterable[str]) -> dict[str, Completion]:
        found: dict[str, Completion] = {}
        for key in keys:
            row = self._db.execute(
                "SELECT completion FROM journal WHERE key = ?", (key,)
            ).fetchone()
            completion = Completion.from_stored(json.loads(row[0])) if row else None
            if completion is not None:
                found[key] = completion
        return found

    @_state_errors
    def journal_record(self, role: str, entries: Sequence[tuple[str, Completion]]) -> None:
        """Persist finished requests; failed ones are not journaled, so a resume retries them."""
        rows = [
            (key, role, json.dumps(c.to_dict(), ensure_ascii=False))
            for key, c in entries
            if c.error is None
        ]
        with self._transaction():
            self._db.executemany(
                "INSERT OR IGNORE INTO journal (key, role, completion) VALUES (?, ?, ?)", rows
            )
            faults.point("journal")

    @_state_errors
    def journal_keys(self) -> set[str]:
        return {key for (key,) in self._db.execute("SELECT key FROM journal")}

    @_state_errors
    def verdict_lookup(self, key: str) -> Any:
        """A journaled sandbox verdict, as the JSON value it was recorded as; None if absent."""
        row = self._db.execute("SELECT result FROM verdicts WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    @_state_errors
    def verdict_record(self, entries: Sequence[tuple[str, str, Any]]) -> None:
        """Persist sandbox verdicts: (stage, key, a JSON value) each. ASCII JSON, so text a
        program printed (lone surrogates included) is stored as it came."""
        rows = [(key, stage, json.dumps(result)) for stage, key, result in entries]
        with self._transaction():
            self._db.executemany(
                "INSERT OR IGNORE INTO verdicts (key, stage, result) VALUES (?, ?, ?)", rows
            )
            faults.point("journal")

    @_state_errors
    def verdict_keys(self) -> set[str]:
        return {key for (key,) in self._db.execute("SELECT key FROM verdicts")}

    # -- integrity ------------------------------------------------------------------------
    @_state_errors
    def integrity_problems(self) -> list[str]:
        """What `verify` reports: SQLite's own check, then our invariants."""
        problems = [
            f"sqlite: {msg}" for (msg,) in self._db.execute("PRAGMA integrity_check") if msg != "ok"
        ]
        count, top = self._db.execute("SELECT COUNT(*), MAX(seq) FROM individuals").fetchone()
        if count != (top or 0):
            problems.append(f"population positions have gaps: {count} rows, last seq {top}")
        ids: set[str] = set()
        widths: set[int] = set()
        for seq, ident, record, signature in self._db.execute(
            "SELECT seq, id, record, signature FROM individuals ORDER BY seq"
        ):
            data = json.loads(record)
            if data.get("id") != ident:
                problems.append(f"seq {seq}: record id {data.get('id')!r} != row id {ident!r}")
            missing = [p for p in data.get("parents", ()) if p not in ids]
            if missing:
                problems.append(f"{ident}: parents not stored before it: {missing}")
            ids.add(ident)
            widths.add(len(signature))
        if len(widths) > 1:
            problems.append(f"signatures of different sizes: {sorted(widths)}")
        marker = self.generation
        (latest,) = self._db.execute("SELECT MAX(generation) FROM individuals").fetchone()
        if latest is not None and marker is not None and latest > marker:
            problems.append(f"individuals of generation {latest} beyond the marker {marker}")
        for key, completion in self._db.execute("SELECT key, completion FROM journal"):
            try:
                Completion(**json.loads(completion))
            except (TypeError, ValueError):
                problems.append(f"journal entry {key}: unreadable completion")
        if self._has_table("verdicts"):  # a run written before verdicts were journaled
            for key, result in self._db.execute("SELECT key, result FROM verdicts"):
                try:
                    json.loads(result)
                except ValueError:
                    problems.append(f"journaled verdict {key}: unreadable")
        return problems

    def _has_table(self, name: str) -> bool:
        found = self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()
        return found is not None

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
