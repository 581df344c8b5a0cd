"""Near-duplicates of the population, and of earlier offspring of the same generation."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from genetic_instruct.dedup import NearDuplicateIndex
from genetic_instruct.dedup.in_order import InOrderIndex, Sketch
from genetic_instruct.evolution.candidate import Candidate
from genetic_instruct.evolution.filters.base import Filter

BATCH_REASON = "near_duplicate_batch"


class NearDuplicates(Filter):
    """MinHash LSH against the population. Kept candidates carry their sketch (signature
    and band keys), for the generation's own check (EarlierOffspring) and for the index
    once they survive."""

    def __init__(
        self,
        index: NearDuplicateIndex,
        is_known: Callable[[str], bool],
        text_of: Callable[[Candidate], str],
    ) -> None:
        self.index = index
        self.is_known = is_known  # an id in the population (the store's, not a copy)
        self.text_of = text_of

    def reasons(self, candidates: Sequence[Candidate]) -> list[str | None]:
        signatures = self.index.signatures([self.text_of(c) for c in candidates])
        keys = self.index.band_keys(signatures)
        hits = self.index.query(signatures, keys)
        reasons: list[str | None] = []
        for cand, signature, row, hit in zip(candidates, signatures, keys.tolist(), hits):
            if hit is not None or self.is_known(cand.id):
                reasons.append("near_duplicate_population")
            else:
                cand.sketch = Sketch(signature, tuple(row))
                reasons.append(None)
        return reasons

    def add(self, ids: list[str], signatures: np.ndarray) -> None:
        """Survivors join the population: later generations are compared with them."""
        if ids:
            self.index.add(ids, signatures)


class EarlierOffspring:
    """Near-copies of an earlier offspring of the same generation, decided in offspring
    order whatever order the answers arrive in, so a seed still fixes the dataset.

    Offspring are numbered 0..size-1 when planned; each reaches this check once: `offer`
    with its sketch, or `skip` when it was dropped before (it competes with no one). The
    answer is that of checking them one by one in number order and keeping each that
    copies no kept one. Offspring n's fate is final once all below n have reached the
    check; until then it goes on unless it copies one already known to be kept, and may
    still be found a copy later (its further answers are then ignored). Answers arrive
    roughly in request order, so that rarely costs a request.
    """

    def __init__(self, kept: InOrderIndex, size: int) -> None:
        self._kept = kept  # empty, with the population's settings
        self._offered: list[Sketch | None] = [None] * size
        self._reached = [False] * size
        self._final = 0  # offspring below this number have their final answer
        self._duplicates: set[int] = set()

    def duplicate(self, n: int) -> bool:
        return n in self._duplicates

    def settled(self, n: int) -> bool:
        """Whether offspring n's answer here is final (every one below it has arrived)."""
        return n < self._final

    def offer(self, n: int, sketch: Sketch) -> None:
        """Offspring n reached the check with this sketch."""
        self._offered[n] = sketch
        if self._kept.copies(sketch):  # copies one known to be kept: final
            self._duplicates.add(n)
        self._reach(n)

    def skip(self, n: int) -> None:
        """Offspring n was dropped before the check."""
        self._reach(n)

    def _reach(self, n: int) -> None:
        """Settle, in number order, every offspring whose predecessors have all arrived."""
        self._reached[n] = True
        while self._final < len(self._reached) and self._reached[self._final]:
            number = self._final
            self._final += 1
            sketch, self._offered[number] = self._offered[number], None
            if sketch is None or number in self._duplicates:
                continue
            if self._kept.copies(sketch):
                self._duplicates.add(number)
            else:
                self._kept.add(sketch)
