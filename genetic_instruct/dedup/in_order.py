"""Near-duplicates among items checked and added one at a time, in a fixed order.

A generation's own check (evolution/filters/near_duplicates.py, EarlierOffspring) asks of
each offspring, in offspring order, whether it copies one kept before it, and keeps it if
not: thousands of single-item questions a generation. A NearDuplicateIndex answers each
with a band hashing, a binary search per bucket run and a merge of its runs on every add
(~150 us an item); this holds the same buckets in a dict, so an item costs its band keys'
look-ups and one comparison with the candidates they name (~10 us), and the answers stay
the index's: an item copies a kept one when they share a bucket among that bucket's first
BUCKET_CAP items and their signatures agree in at least ``min_agreeing`` positions.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from genetic_instruct.dedup.index import BUCKET_CAP, NearDuplicateIndex

_FIRST_CAPACITY = 1024


class Sketch(NamedTuple):
    """What the near-duplicate checks know of a text: its MinHash signature and the bucket
    key of each of its bands (NearDuplicateIndex.band_keys), computed once per text."""

    signature: np.ndarray
    keys: tuple[int, ...]


class InOrderIndex:
    """The items added so far, as buckets of their first BUCKET_CAP items by band key."""

    def __init__(self, settings: NearDuplicateIndex) -> None:
        self._min_agreeing = settings.min_agreeing
        # A bucket's first item, and the next ones of the few buckets with more: a list
        # per key would be 36 tracked objects an item for the cycle collector to scan.
        self._first: dict[int, int] = {}
        self._more: dict[int, list[int]] = {}
        self._signatures = np.empty((_FIRST_CAPACITY, settings.num_perm), settings.signature_dtype)
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def copies(self, sketch: Sketch) -> bool:
        """Whether an added item is a near-duplicate of `sketch`."""
        found: set[int] = set()
        for key in sketch.keys:
            first = self._first.get(key)
            if first is not None:
                found.add(first)
                more = self._more.get(key)
                if more:
                    found.update(more)
        if not found:
            return False
        candidates = self._signatures[list(found)]
        agreeing = np.count_nonzero(candidates == sketch.signature, axis=1)
        return bool((agreeing >= self._min_agreeing).any())

    def add(self, sketch: Sketch) -> None:
        if self._size == len(self._signatures):
            grown = np.empty((2 * self._size, self._signatures.shape[1]), self._signatures.dtype)
            grown[: self._size] = self._signatures
            self._signatures = grown
        item = self._size
        self._signatures[item] = sketch.signature
        self._size += 1
        for key in sketch.keys:
            if self._first.setdefault(key, item) != item:
                more = self._more.setdefault(key, [])
                if len(more) < BUCKET_CAP - 1:
                    more.append(item)
