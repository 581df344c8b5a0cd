"""The population's unit: an Individual (a coding task with its solution) and its lineage.

Ids are content hashes of the normalized instruction, so the same task found twice (in two
colonies, or again after a resume) gets the same id and can never be stored twice.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

_SPACE = re.compile(r"\s+")


def content_id(instruction: str) -> str:
    """Stable id of a task: blake2b of its whitespace-folded text (16 hex characters)."""
    folded = _SPACE.sub(" ", instruction).strip()
    return hashlib.blake2b(folded.encode("utf-8"), digest_size=8).hexdigest()


def text_hash(text: str) -> str:
    """Short stable hash, used for prompt templates in lineage."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=6).hexdigest()


@dataclass(frozen=True)
class Individual:
    """One member of the population, with everything needed to trace how it was made."""

    id: str
    instruction: str
    solution: str
    origin: str  # "seed" | "crossover" | "mutation"
    generation: int
    tests: str | None = None
    method: str | None = None  # evolution method for mutations
    parents: tuple[str, ...] = ()
    colony: int | None = None
    models: dict[str, str] = field(default_factory=dict)  # role -> model
    prompt_hashes: dict[str, str] = field(default_factory=dict)  # role -> template hash
    scores: dict[str, float] = field(default_factory=dict)  # judge criteria
    fitness: float | None = None
    rationale: str | None = None
    topic: str | None = None
    # Sandbox outcome: status, passed, total, pass_fraction, runtime_s, mutation_score,
    # mutants, killed (the last three None where not mutation-tested); None: not executed
    execution: dict[str, Any] | None = None
    # The solutions tried (execution.attempts), each run against the tests; None: not
    # executed. difficulty: easy | medium | hard | unsolved, None from a single attempt.
    attempts: int | None = None
    passed_attempts: int | None = None
    pass_rate: float | None = None
    difficulty: str | None = None
    attempt_verdicts: dict[str, int] | None = None  # verdict -> attempts
    suspect_tests: list[str] | None = None  # asserts the independent attempts voted out
    reasoning: str | None = None  # the solution's reasoning (export.reasoning=true)
    language: str = "python"  # what the solution and its tests are written in (languages.py)

    def to_dict(self) -> dict[str, Any]:
        """The stored record: a new dict of the fields, whose dicts and lists are the
        individual's own (records are written and read, never edited; a deep copy, as
        dataclasses.asdict makes, cost 150 us a survivor at its commit)."""
        data = {name: getattr(self, name) for name in _FIELD_NAMES}
        data["parents"] = list(self.parents)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Individual:
        values = {k: v for k, v in data.items() if k in _FIELD_NAMES}
        values["parents"] = tuple(values.get("parents", ()))
        return cls(**values)


_FIELD_NAMES = tuple(f.name for f in dataclasses.fields(Individual))
