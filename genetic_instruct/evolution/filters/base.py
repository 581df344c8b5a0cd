"""A filter step: keep a candidate, or reject it with a counted reason.

In the spirit of datatrove's BaseFilter (`filter(doc) -> bool | (bool, reason)`, whose run
counts `dropped_{reason}`): adding a check is one class, and `apply`, the same for every
filter, drops and counts into the generation's stats. Filters that must see the whole
batch at once (near-duplicates within it, vectorized checks) implement `reasons`; those
that judge one candidate alone implement `reason`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Sequence

from genetic_instruct.evolution.candidate import Candidate


class Filter(ABC):
    @abstractmethod
    def reasons(self, candidates: Sequence[Candidate]) -> list[str | None]:
        """Per candidate, in order: None to keep it, else the reason it is dropped."""

    def apply(self, candidates: list[Candidate], rejected: Counter[str]) -> list[Candidate]:
        """The candidates kept; each dropped one records why (`Candidate.rejected`) and is
        counted under that reason."""
        if not candidates:
            return []
        kept = []
        for cand, reason in zip(candidates, self.reasons(candidates), strict=True):
            if reason is None:
                kept.append(cand)
            else:
                cand.rejected = reason
                rejected[reason] += 1
        return kept


class CandidateFilter(Filter):
    """A filter that judges each candidate on its own."""

    @abstractmethod
    def reason(self, cand: Candidate) -> str | None:
        """None to keep the candidate, else the reason it is dropped."""

    def reasons(self, candidates: Sequence[Candidate]) -> list[str | None]:
        return [self.reason(cand) for cand in candidates]
