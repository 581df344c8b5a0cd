"""A few raw answers per (role, rejection reason), kept so that a user can see what was
turned away: `instructor_prompt_echo 7012` says how often, not what the model wrote.

The journal holds every answer only until its generation commits; these few are committed
with the generation, in the same transaction, and stay (`inspect --rejected REASON`).
Each generation keeps, per role and reason, the answers of its lowest-numbered requests
so rejected, up to what `rejected_samples` leaves after the generations before. They are
chosen as the counts are: an offspring's rejection is final once no near-copy of an
earlier offspring can override it (filters/near_duplicates.py), so the answers kept, like
the counts, do not depend on the order in which answers arrive. Only answers a role read
and rejected are kept; an offspring dropped by a filter or by the sandbox shows in its
counts. Each answer is cut to SAMPLE_CHARS: its start and its end, so a truncated answer
still shows where it stopped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from genetic_instruct.evolution.filters.near_duplicates import EarlierOffspring
from genetic_instruct.llm.base import Completion, valid_text
from genetic_instruct.state.store import RejectedAnswer

SAMPLE_CHARS = 4_000


@dataclass(frozen=True)
class _Pending:
    role: str
    reason: str
    number: int
    text: str


def bounded(text: str) -> str:
    """The text, or its start and end with how much was left out between them."""
    if len(text) <= SAMPLE_CHARS:
        return text
    half = SAMPLE_CHARS // 2
    return f"{text[:half]}\n[... {len(text) - 2 * half:,} characters left out ...]\n{text[-half:]}"


def answer_text(completion: Completion) -> str:
    """What the model sent, as it can be stored; a failed request's error instead."""
    if completion.error is not None:
        return f"(no answer: {completion.error})"
    return bounded(valid_text(completion.text))


class AnswerSamples:
    """The answers one generation keeps: `keep` per (role, reason) in the run, less the
    answers the generations before kept (`kept`)."""

    def __init__(
        self,
        generation: int,
        keep: int,
        kept: Mapping[tuple[str, str], int],
        gate: EarlierOffspring,
    ) -> None:
        self._generation = generation
        self._keep = keep
        self._room = {key: max(keep - count, 0) for key, count in kept.items()}
        self._gate = gate
        self._kept: dict[tuple[str, str], list[tuple[int, str]]] = {}
        self._pending: list[_Pending] = []  # rejections a near-copy may still override

    def offer(
        self, role: str, reason: str, number: int, completion: Completion, settled: bool
    ) -> None:
        """An answer `role` rejected for `reason`; `number` orders it (the plan for the
        Instructor, the offspring for the other roles). `settled`: no later finding can
        override the rejection (the offspring never reached the check against earlier ones)."""
        if not self._room.get((role, reason), self._keep):
            return
        entry = _Pending(role, reason, number, answer_text(completion))
        if settled:
            self._add(entry)
        else:
            self._pending.append(entry)
        self._settle()

    def kept(self) -> list[RejectedAnswer]:
        """Once every offspring's fate is final: the answers to commit."""
        self._settle()
        return [
            RejectedAnswer(role, reason, self._generation, number, text)
            for (role, reason), entries in sorted(self._kept.items())
            for number, text in entries
        ]

    def _settle(self) -> None:
        """Keep or drop the pending rejections whose offspring's fate is now final."""
        waiting = []
        for entry in self._pending:
            if not self._gate.settled(entry.number):
                waiting.append(entry)
            elif not self._gate.duplicate(entry.number):
                self._add(entry)
        self._pending = waiting

    def _add(self, entry: _Pending) -> None:
        key = (entry.role, entry.reason)
        entries = self._kept.setdefault(key, [])
        entries.append((entry.number, entry.text))
        entries.sort()
        del entries[self._room.get(key, self._keep) :]
