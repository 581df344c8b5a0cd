"""Model calls that are paid for once: answers come from the journal when they are there.

Wraps an Engine for one role. Before a batch goes to the engine, requests already answered
(before a crash, say) are taken from the run's journal; the rest are sent, and each answer
is written to the journal as soon as it arrives, flushed in small transactions.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from genetic_instruct import faults, interrupts
from genetic_instruct.llm.base import ChatRequest, Completion, CompletionCallback, Engine
from genetic_instruct.store import RunStore

FLUSH_EVERY_S = 0.5
FLUSH_EVERY_N = 64


class JournaledCalls:
    """`generate` for one role, answering from the journal first."""

    def __init__(self, engine: Engine, store: RunStore, role: str) -> None:
        self.engine = engine
        self.store = store
        self.role = role
        self.replayed = 0  # answers taken from the journal instead of the engine

    def generate(
        self, requests: Sequence[ChatRequest], on_complete: CompletionCallback | None = None
    ) -> list[Completion]:
        keys = [r.journal_key(self.engine.model_name) for r in requests]
        results: list[Completion | None] = [None] * len(requests)
        for i, completion in self._replay(keys).items():
            results[i] = completion
            if on_complete is not None:
                on_complete(i, completion)
        todo = [i for i, c in enumerate(results) if c is None]
        self.replayed += len(requests) - len(todo)
        pending: list[tuple[str, Completion]] = []
        last_flush = time.monotonic()

        def finished(j: int, completion: Completion) -> None:
            nonlocal last_flush
            i = todo[j]
            results[i] = completion
            pending.append((keys[i], completion))
            faults.point(self.role)
            now = time.monotonic()
            if len(pending) >= FLUSH_EVERY_N or now - last_flush >= FLUSH_EVERY_S:
                self._flush(pending)
                last_flush = now
            if on_complete is not None:
                on_complete(i, completion)
            if interrupts.requested() is not None:
                self._flush(pending)
                interrupts.check()

        interrupts.check()
        try:
            fresh = self.engine.generate([requests[i] for i in todo], finished)
        finally:  # an engine that fails mid-batch (a lost Ray actor, say) keeps what it answered
            self._flush(pending)
        for j, completion in enumerate(fresh):  # engines that do not call back per request
            if results[todo[j]] is None:
                finished(j, completion)
        self._flush(pending)
        return [c if c is not None else Completion("", error="missing") for c in results]

    def _replay(self, keys: Sequence[str]) -> dict[int, Completion]:
        found = self.store.journal_lookup(set(keys))
        return {i: found[k] for i, k in enumerate(keys) if k in found}

    def _flush(self, pending: list[tuple[str, Completion]]) -> None:
        if pending:
            self.store.journal_record(self.role, pending)
            pending.clear()
