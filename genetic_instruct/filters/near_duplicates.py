"""Near-duplicates of the population or of earlier candidates in the same batch."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np

from genetic_instruct.candidate import Candidate
from genetic_instruct.dedup import NearDuplicateIndex
from genetic_instruct.filters.base import Filter
from genetic_instruct.records import content_id


class NearDuplicates(Filter):
    """MinHash LSH against the population, then within the batch in its (deterministic)
    order. Kept candidates carry their signature, for the index once they survive."""

    def __init__(
        self,
        index: NearDuplicateIndex,
        known_ids: Iterable[str],
        text_of: Callable[[Candidate], str],
    ) -> None:
        self.index = index
        self.known_ids = set(known_ids)
        self.text_of = text_of

    def reasons(self, candidates: Sequence[Candidate]) -> list[str | None]:
        signatures = self.index.signatures([self.text_of(c) for c in candidates])
        reasons: list[str | None] = [
            "near_duplicate_population"
            if hit is not None or content_id(cand.instruction) in self.known_ids
            else None
            for cand, hit in zip(candidates, self.index.query(signatures))
        ]
        # Only rows the population let through compete within the batch, so no row is
        # dropped for resembling one that was itself dropped.
        fresh = [i for i, reason in enumerate(reasons) if reason is None]
        for i, batch_hit in zip(fresh, self.index.within_batch(signatures[fresh])):
            if batch_hit is not None:
                reasons[i] = "near_duplicate_batch"
            else:
                candidates[i].signature = signatures[i]
        return reasons

    def add(self, ids: list[str], signatures: np.ndarray) -> None:
        """Survivors join the population: later batches are compared with them."""
        if ids:
            self.index.add(ids, signatures)
        self.known_ids.update(ids)
