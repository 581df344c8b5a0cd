"""A run's durable state in SQLite (WAL): population, request journal, generation marker.

A generation's survivors, their dedup signatures, its statistics and the generation marker
commit in one transaction, so after a crash the database holds either the whole generation
or none of it. Finished LLM requests are journaled as they arrive (keyed by a hash of model,
prompt, sampling parameters and seed), so a restart pays for no finished call twice.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from genetic_instruct.errors import InputError
from genetic_instruct.llm.base import Completion
from genetic_instruct.records import Individual

SCHEMA_VERSION = 1
STATE_FILE = "state.sqlite"

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
CREATE TABLE IF NOT EXISTS generations (
    generation INTEGER PRIMARY KEY,
    stats TEXT NOT NULL
);
"""


class StateError(InputError):
    """The run directory's state cannot be used as it is (corrupt, other version, unwritable)."""


class RunStore:
    """Open with `RunStore(run_dir)`; creates the database on first use."""

    def __init__(self, run_dir: str | Path) -> None:
        self.path = Path(run_dir) / STATE_FILE
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._check_version()
        except sqlite3.DatabaseError as error:
            raise StateError(f"{self.path}: not a usable state database ({error})") from None
        except OSError as error:
            raise StateError(f"{self.path}: cannot open run state ({error})") from None

    def _check_version(self) -> None:
        found = self.get_meta("schema_version")
        if found is None:
            self.set_meta("schema_version", SCHEMA_VERSION)
        elif found != SCHEMA_VERSION:
            raise StateError(
                f"{self.path}: state schema version {found}, this genetic-instruct reads "
                f"{SCHEMA_VERSION}; use a new run_dir or the matching version"
            )

    def close(self) -> None:
        self._db.close()

    # -- meta -------------------------------------------------------------------------
    def get_meta(self, key: str) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def set_meta(self, key: str, value: Any) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value))
        )

    @property
    def generation(self) -> int | None:
        """The last committed generation (0 = seeds), or None for a new run."""
        value = self.get_meta("generation")
        return None if value is None else int(value)

    # -- population ---------------------------------------------------------------------
    def commit_generation(
        self,
        generation: int,
        individuals: Sequence[Individual],
        signatures: np.ndarray,
        stats: dict[str, Any],
    ) -> None:
        """Add survivors and advance the marker atomically; an id stored before is skipped."""
        rows = [
            (ind.id, generation, json.dumps(ind.to_dict(), ensure_ascii=False), sig.tobytes())
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
            self.set_meta("generation", generation)

    def individuals(self) -> list[Individual]:
        rows = self._db.execute("SELECT record FROM individuals ORDER BY seq")
        return [Individual.from_dict(json.loads(record)) for (record,) in rows]

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

    def population_size(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM individuals").fetchone()[0])

    def generation_stats(self) -> list[dict[str, Any]]:
        rows = self._db.execute("SELECT generation, stats FROM generations ORDER BY generation")
        return [{"generation": g, **json.loads(s)} for g, s in rows]

    # -- journal ------------------------------------------------------------------------
    def journal_lookup(self, keys: Iterable[str]) -> dict[str, Completion]:
        found: dict[str, Completion] = {}
        for key in keys:
            row = self._db.execute(
                "SELECT completion FROM journal WHERE key = ?", (key,)
            ).fetchone()
            if row is not None:
                found[key] = Completion(**json.loads(row[0]))
        return found

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
