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

A few raw answers per role and rejection reason are kept with the generation that rejected
them (rejected_answers), so that the journal's purge does not take every trace of what a
model wrote with it; `inspect --rejected REASON` prints them.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import orjson

from genetic_instruct import faults
from genetic_instruct.individual import Individual
from genetic_instruct.llm.base import Completion
from genetic_instruct.state.database import (
    LAYOUT,
    STATE_FILE,
    StateError,
    Transaction,
    has_table,
    open_for_writing,
    open_read_only,
    state_errors,
)
from genetic_instruct.state.generation_stats import GenerationStats
from genetic_instruct.state.meta import GENERATION, SCHEMA_VERSION, RunMeta


@dataclass(frozen=True)
class RejectedAnswer:
    """A model's raw answer (cut to a bound, evolution/answer_samples.py), kept because it
    was rejected for `reason`; `request` numbers it within its role and generation."""

    role: str
    reason: str
    generation: int
    request: int
    answer: str


class Lineage(NamedTuple):
    id: str
    origin: str
    method: str | None
    generation: int
    parents: tuple[str, ...]


class RunStore:
    """`RunStore(run_dir)` creates the database on first use (the run);
    `RunStore(run_dir, read_only=True)` only opens an existing one and never writes to it
    (inspect, verify, report; any command on read-only media)."""

    def __init__(self, run_dir: str | Path, *, read_only: bool = False) -> None:
        self.path = Path(run_dir) / STATE_FILE
        self.read_only = read_only
        self.meta = RunMeta(self._read_meta, self._write_meta)
        if read_only:
            self._db = open_read_only(self.path)
            return
        self._db = open_for_writing(self.path)
        self._check_version()

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
    @state_errors
    def _read_meta(self, key: str) -> Any:
        """A meta value as stored (JSON); read by typed key through `self.meta`."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    @state_errors
    def _write_meta(self, key: str, value: Any) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value))
        )

    @property
    def generation(self) -> int | None:
        """The last committed generation (0 = seeds), or None for a new run."""
        return self.meta.get(GENERATION)

    # -- population ---------------------------------------------------------------------
    @state_errors
    def commit_generation(
        self,
        stats: GenerationStats,
        individuals: Sequence[Individual],
        signatures: np.ndarray,
        rejected: Sequence[RejectedAnswer] = (),
    ) -> None:
        """Add the survivors of generation `stats.generation` with its stats and the
        rejected answers it keeps, advance the marker and empty the journal, atomically.

        An id stored before is skipped.
        """
        generation = stats.generation
        rows = [
            (
                ind.id,
                generation,
                orjson.dumps(ind.to_dict(), option=orjson.OPT_SERIALIZE_NUMPY).decode(),
                sig.tobytes(),
            )
            for ind, sig in zip(individuals, signatures, strict=True)
        ]
        with Transaction(self._db):
            self._db.executemany(
                "INSERT OR IGNORE INTO individuals (id, generation, record, signature) "
                "VALUES (?, ?, ?, ?)",
                rows,
            )
            self._db.execute(
                "INSERT OR REPLACE INTO generations (generation, stats) VALUES (?, ?)",
                (generation, json.dumps(stats.to_stored())),
            )
            self._db.executemany(
                "INSERT OR IGNORE INTO rejected_answers "
                "(role, reason, generation, request, answer) VALUES (?, ?, ?, ?, ?)",
                [(a.role, a.reason, a.generation, a.request, a.answer) for a in rejected],
            )
            self.meta.set(GENERATION, generation)
            self._db.execute("DELETE FROM journal")
            self._db.execute("DELETE FROM verdicts")
            faults.point("commit")

    @state_errors
    def population_size(self) -> int:
        row = self._db.execute("SELECT MAX(seq) FROM individuals").fetchone()
        return int(row[0] or 0)

    @state_errors
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

    @state_errors
    def records(self, after_seq: int = 0, upto_seq: int | None = None) -> Iterator[dict[str, Any]]:
        """Stored records as dicts (Individual.to_dict()), for readers that need speed."""
        cursor = self._db.execute(
            "SELECT record FROM individuals WHERE seq > ? AND seq <= ? ORDER BY seq",
            (after_seq, upto_seq if upto_seq is not None else 2**63 - 1),
        )
        for (record,) in cursor:
            yield orjson.loads(record)

    @state_errors
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

    @state_errors
    def languages(self) -> dict[str, int]:
        """Offspring kept per language (seeds left out), most first; a record made before
        records had languages is Python. SQLite reads it from the stored JSON."""
        cursor = self._db.execute(
            "SELECT coalesce(record ->> 'language', 'python'), count(*) FROM individuals "
            "WHERE record ->> 'origin' != 'seed' GROUP BY 1 ORDER BY 2 DESC, 1"
        )
        return {language: count for language, count in cursor}

    @state_errors
    def member_languages(self) -> list[str]:
        """Every individual's language, in insertion order (a record made before records
        had languages is Python); read from the stored JSON, no record parsed here."""
        cursor = self._db.execute(
            "SELECT coalesce(record ->> 'language', 'python') FROM individuals ORDER BY seq"
        )
        return [language for (language,) in cursor]

    @state_errors
    def has_individual(self, ident: str) -> bool:
        """Whether `ident` is in the population (one lookup in the id index)."""
        found = self._db.execute("SELECT 1 FROM individuals WHERE id = ?", (ident,)).fetchone()
        return found is not None

    @state_errors
    def pass_rates(self) -> list[float | None]:
        """Every individual's pass rate over its attempts (None: none measured), in
        insertion order; SQLite reads it from the stored JSON, no record is parsed here."""
        cursor = self._db.execute("SELECT record ->> 'pass_rate' FROM individuals ORDER BY seq")
        return [rate for (rate,) in cursor]

    @state_errors
    def ids(self) -> Iterator[str]:
        """The population's ids in order, streamed (15M of them are ~1 GB as a list)."""
        return (ident for (ident,) in self._db.execute("SELECT id FROM individuals ORDER BY seq"))

    @state_errors
    def signature_batches(
        self, dtype: np.dtype, after: int = 0, size: int = 1 << 16
    ) -> Iterator[tuple[list[str], np.ndarray]]:
        """Stored dedup signatures after the first `after` individuals, ``size`` at a
        time in population order, so the index is rebuilt without re-hashing any text
        or holding every blob at once."""
        cursor = self._db.execute(
            "SELECT id, signature FROM individuals WHERE seq > ? ORDER BY seq", (after,)
        )
        while rows := cursor.fetchmany(size):
            ids = [ident for ident, _ in rows]
            flat = np.frombuffer(b"".join(blob for _, blob in rows), dtype=dtype)
            yield ids, flat.reshape(len(rows), -1)

    @state_errors
    def generation_stats(self) -> list[GenerationStats]:
        rows = self._db.execute("SELECT generation, stats FROM generations ORDER BY generation")
        return [GenerationStats.from_stored(g, json.loads(s)) for g, s in rows]

    # -- rejected answers -------------------------------------------------------------
    @state_errors
    def rejected_answer_counts(self) -> Counter[tuple[str, str]]:
        """(role, reason) -> answers kept; empty for a run made before they were kept."""
        if not has_table(self._db, "rejected_answers"):
            return Counter()
        rows = self._db.execute(
            "SELECT role, reason, COUNT(*) FROM rejected_answers GROUP BY role, reason"
        )
        return Counter({(role, reason): n for role, reason, n in rows})

    @state_errors
    def rejected_answers(self, reason: str) -> list[RejectedAnswer]:
        """The answers kept for `reason`, in the order the run rejected them."""
        if not has_table(self._db, "rejected_answers"):
            return []
        rows = self._db.execute(
            "SELECT role, reason, generation, request, answer FROM rejected_answers "
            "WHERE reason = ? ORDER BY generation, role, request",
            (reason,),
        )
        return [RejectedAnswer(*row) for row in rows]

    # -- journal ------------------------------------------------------------------------
    @state_errors
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

    @state_errors
    def journal_write(
        self,
        answers: Sequence[tuple[str, str, Completion]] = (),
        verdicts: Sequence[tuple[str, str, Any]] = (),
    ) -> None:
        """Persist finished requests, (role, key, answer) each, and sandbox verdicts,
        (stage, key, a JSON value) each, in one transaction: one commit a flush, where one
        per role cost more than the rest of the journal. Failed requests are not
        journaled, so a resume retries them. Verdicts are ASCII JSON, so text a program
        printed (lone surrogates included) is stored as it came."""
        with Transaction(self._db):
            self._db.executemany(
                "INSERT OR IGNORE INTO verdicts (key, stage, result) VALUES (?, ?, ?)",
                [(key, stage, json.dumps(result)) for stage, key, result in verdicts],
            )
            self._db.executemany(
                "INSERT OR IGNORE INTO journal (key, role, completion) VALUES (?, ?, ?)",
                [
                    (key, role, orjson.dumps(c.to_dict()).decode())
                    for role, key, c in answers
                    if c.error is None
                ],
            )
            faults.point("journal")

    @state_errors
    def journal_keys(self) -> set[str]:
        return {key for (key,) in self._db.execute("SELECT key FROM journal")}

    @state_errors
    def verdict_lookup(self, key: str) -> Any:
        """A journaled sandbox verdict, as the JSON value it was recorded as; None if absent."""
        row = self._db.execute("SELECT result FROM verdicts WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    @state_errors
    def verdict_keys(self) -> set[str]:
        return {key for (key,) in self._db.execute("SELECT key FROM verdicts")}

    # -- integrity ------------------------------------------------------------------------
    @state_errors
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
        if has_table(self._db, "verdicts"):  # a run written before verdicts were journaled
            for key, result in self._db.execute("SELECT key, result FROM verdicts"):
                try:
                    json.loads(result)
                except ValueError:
                    problems.append(f"journaled verdict {key}: unreadable")
        return problems
