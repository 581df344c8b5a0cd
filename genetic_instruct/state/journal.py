"""Work that is paid for once: answers and sandbox verdicts come from the journal when there.

Before a request goes to an engine, the run's journal is asked for its answer (one written
before a crash, say); each fresh answer is written as soon as it arrives, flushed in small
transactions, so a crash loses only requests still in flight. Sandbox verdicts are kept the
same way: a verdict is not a pure function of its program (a wall-clock limit holds or not
with the machine's load), and the judge's prompt shows it, so a resume that ran the program
again could ask the judge something else than the uninterrupted run did.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable
from typing import Any

from genetic_instruct import faults
from genetic_instruct.llm.base import Completion
from genetic_instruct.state.store import RunStore

FLUSH_EVERY_S = 0.5
FLUSH_EVERY_N = 64  # answers a flush: what a kill can lose when answers come fast


def verdict_key(stage: str, *inputs: Any) -> str:
    """Hash of everything that determines a sandbox verdict (program, tests, limits, ...):
    its journal key. Content-addressed, so equal programs share one verdict."""
    payload = json.dumps([stage, *inputs], sort_keys=True, default=str)
    return hashlib.blake2b(payload.encode("ascii"), digest_size=16).hexdigest()


class Journal:
    """The run's finished requests and sandbox verdicts by journal key, writes batched."""

    def __init__(self, store: RunStore) -> None:
        self.store = store
        self.replayed = 0  # answers taken from the journal instead of an engine
        self._pending: list[tuple[str, str, Completion]] = []  # role, key, answer
        self._pending_verdicts: list[tuple[str, str, Any]] = []  # stage, key, JSON value
        self._last_flush = time.monotonic()
        self._stored: set[str] = set()
        self._stored_verdicts: set[str] = set()

    def reload(self) -> None:
        """Note which keys the journal holds, before a generation asks for any: it is
        emptied at every commit, so this is what an interrupted run left, and asking
        SQLite for each of 60k requests a generation cost more than the rest of the loop.
        """
        self._stored = self.store.journal_keys()
        self._stored_verdicts = self.store.verdict_keys()

    def lookup(self, keys: Iterable[str]) -> dict[str, Completion]:
        """The answers the journal held at the last `reload` among `keys`."""
        found = self.store.journal_lookup({key for key in keys if key in self._stored})
        self.replayed += len(found)
        return found

    def verdict(self, key: str) -> Any:
        """The verdict (as the JSON value recorded) the journal held under `key` at the last
        `reload`, or None."""
        return self.store.verdict_lookup(key) if key in self._stored_verdicts else None

    def record(self, role: str, key: str, completion: Completion) -> None:
        """Keep a fresh answer; it is on disk within FLUSH_EVERY_S or FLUSH_EVERY_N."""
        self._pending.append((role, key, completion))
        faults.point(role)
        self._flush_when_due()

    def record_verdict(self, stage: str, key: str, result: Any) -> None:
        """Keep a fresh verdict (a JSON value), on disk like an answer."""
        self._pending_verdicts.append((stage, key, result))
        self._flush_when_due()

    def _flush_when_due(self) -> None:
        pending = len(self._pending) + len(self._pending_verdicts)
        if pending >= FLUSH_EVERY_N or time.monotonic() - self._last_flush >= FLUSH_EVERY_S:
            self.flush()

    def flush(self) -> None:
        """Verdicts and answers in one transaction: an answer may depend on a verdict (the
        judge's prompt shows it), so no answer is on disk without the verdict it was
        asked about."""
        if self._pending or self._pending_verdicts:
            self.store.journal_write(self._pending, self._pending_verdicts)
            self._pending.clear()
            self._pending_verdicts.clear()
        self._last_flush = time.monotonic()
