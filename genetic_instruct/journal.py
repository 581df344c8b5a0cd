"""Model calls that are paid for once: answers come from the journal when they are there.

Before a request goes to an engine, the run's journal is asked for its answer (one written
before a crash, say); each fresh answer is written as soon as it arrives, flushed in small
transactions, so a crash loses only requests still in flight.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from genetic_instruct import faults
from genetic_instruct.llm.base import Completion
from genetic_instruct.store import RunStore

FLUSH_EVERY_S = 0.5
FLUSH_EVERY_N = 64


class Journal:
    """The run's finished requests by journal key, with writes batched."""

    def __init__(self, store: RunStore) -> None:
        self.store = store
        self.replayed = 0  # answers taken from the journal instead of an engine
        self._pending: list[tuple[str, str, Completion]] = []  # role, key, answer
        self._last_flush = time.monotonic()
        self._stored: set[str] = set()

    def reload(self) -> None:
        """Note which keys the journal holds, before a generation asks for any: it is
        emptied at every commit, so this is what an interrupted run left, and asking
        SQLite for each of 60k requests a generation cost more than the rest of the loop.
        """
        self._stored = self.store.journal_keys()

    def lookup(self, keys: Iterable[str]) -> dict[str, Completion]:
        """The answers the journal held at the last `reload` among `keys`."""
        found = self.store.journal_lookup({key for key in keys if key in self._stored})
        self.replayed += len(found)
        return found

    def record(self, role: str, key: str, completion: Completion) -> None:
        """Keep a fresh answer; it is on disk within FLUSH_EVERY_S or FLUSH_EVERY_N."""
        self._pending.append((role, key, completion))
        faults.point(role)
        now = time.monotonic()
        if len(self._pending) >= FLUSH_EVERY_N or now - self._last_flush >= FLUSH_EVERY_S:
            self.flush()

    def flush(self) -> None:
        by_role: dict[str, list[tuple[str, Completion]]] = {}
        for role, key, completion in self._pending:
            by_role.setdefault(role, []).append((key, completion))
        for role, entries in by_role.items():
            self.store.journal_record(role, entries)
        self._pending.clear()
        self._last_flush = time.monotonic()
