"""Offspring that overlap a benchmark problem (n-grams or MinHash) are dropped."""

from __future__ import annotations

from collections.abc import Sequence

from genetic_instruct.dedup.decontamination import ContaminationChecker
from genetic_instruct.evolution.candidate import Candidate
from genetic_instruct.evolution.filters.base import Filter


class Contamination(Filter):
    def __init__(self, checker: ContaminationChecker) -> None:
        self.checker = checker

    def reasons(self, candidates: Sequence[Candidate]) -> list[str | None]:
        hits = self.checker.check([c.instruction for c in candidates])
        return [None if hit is None else "contaminated" for hit in hits]
