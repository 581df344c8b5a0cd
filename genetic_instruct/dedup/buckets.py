"""The LSH buckets: a multimap from 64-bit bucket keys to item ids, in flat numpy arrays.

At the 800k target with 25 bands there are 20 million (key, item) entries. As Python
dicts that is ~2 GB of objects; sorted numpy arrays are compact but need an O(n) merge
per inserted batch. This is an open-addressing hash table with linear probing over two
flat arrays (uint64 keys, int32 ids; 12 bytes a slot), where a whole batch of lookups or
inserts advances together, one vectorized probe step at a time.

The table at least doubles when it would pass half full, so linear probing needs
(1 + 1/(1 - a)^2) / 2 <= 2.5 probes for a miss on average (Knuth); at 800k texts x 36
bands it has 2^26 slots (805 MB). The ids of one key sit in one run of slots, so a key
keeps at most ``max_per_key`` ids (later ones are dropped): a batch advances one slot
per step, and a few crowded keys must not cost thousands of steps.
"""

from __future__ import annotations

import numpy as np

from genetic_instruct.dedup.hashing import U64

_MAX_LOAD = 0.5
_MIN_BITS = 16
_WINDOW = 4  # slots read per lookup step: 4 keys are 32 bytes, mostly one cache line
_STEPS = np.arange(_WINDOW)
_EMPTY = -1
_CHUNK = 1 << 21  # entries placed per pass when rebuilding: bounds the temporaries


class BucketTable:
    """Multimap ``uint64 key -> int32 item id``; a key holds up to ``max_per_key`` ids."""

    def __init__(self, *, max_per_key: int) -> None:
        self.max_per_key = max_per_key
        self._bits = _MIN_BITS
        self._keys = np.zeros(1 << self._bits, U64)
        self._ids = np.full(1 << self._bits, _EMPTY, np.int32)
        self._count = 0

    def __len__(self) -> int:
        return self._count

    @property
    def nbytes(self) -> int:
        return self._keys.nbytes + self._ids.nbytes

    def insert(self, keys: np.ndarray, ids: np.ndarray) -> None:
        """Add the pairs ``(keys[i], ids[i])`` (but no id to a key holding ``max_per_key``)."""
        needed = self._count + keys.size
        if needed > _MAX_LOAD * (1 << self._bits):
            bits = self._bits + 1
            while needed > _MAX_LOAD * (1 << bits):
                bits += 1
            self._resize(bits)
        self._place_all(keys, ids)

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """All stored pairs matching ``keys``: ``(positions in keys, ids)``. A key's
        pairs sit in the run of occupied slots from its home slot on, which ends at an
        empty slot; each step reads the next ``_WINDOW`` slots of every pending key."""
        mask = (1 << self._bits) - 1
        queries, slots = self._by_slot(keys)
        pending = keys[queries]
        found_queries, found_ids = [], []
        while queries.size:
            window = (slots[:, None] + _STEPS) & mask
            ids = self._ids[window]
            in_run = np.logical_and.accumulate(ids != _EMPTY, axis=1)
            rows, cols = np.nonzero(in_run & (self._keys[window] == pending[:, None]))
            found_queries.append(queries[rows])
            found_ids.append(ids[rows, cols])
            longer = in_run[:, -1]
            queries, pending, slots = queries[longer], pending[longer], slots[longer] + _WINDOW
        if not found_queries:
            return np.empty(0, np.intp), np.empty(0, np.int32)
        return np.concatenate(found_queries), np.concatenate(found_ids)

    def _by_slot(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions of ``keys`` ordered by home slot, and those slots. Visiting the
        table in slot order turns random reads of a table far larger than the CPU
        caches into a sweep (measured 3-4x faster per probe step); sorting packed
        (slot, position) integers is 4x faster than an argsort."""
        slots = (keys >> U64(64 - self._bits)) << U64(32)
        packed = np.sort(slots | np.arange(keys.size, dtype=U64))
        return (packed & U64(0xFFFFFFFF)).astype(np.intp), (packed >> U64(32)).astype(np.intp)

    def _place_all(self, keys: np.ndarray, ids: np.ndarray) -> None:
        for start in range(0, keys.size, _CHUNK):
            self._count += self._place(keys[start : start + _CHUNK], ids[start : start + _CHUNK])

    def _place(self, keys: np.ndarray, ids: np.ndarray) -> int:
        """Linear probing for a batch, in slot order: each step, every pending pair whose
        slot is free and who is first in line for it takes it; the others move one slot
        on. In slot order "first in line" is a comparison with the previous pair, and a
        step keeps the order (all move by one) unless some wrap past the end. Returns
        the number of pairs placed."""
        mask = (1 << self._bits) - 1
        order, slots = self._by_slot(keys)
        keys, ids = keys[order], ids[order]
        passed = np.zeros(keys.size, np.int32)  # slots passed that hold the same key
        placed = 0
        while slots.size:
            first = np.ones(slots.size, bool)
            first[1:] = slots[1:] != slots[:-1]
            take = first & (self._ids[slots] == _EMPTY)
            self._keys[slots[take]] = keys[take]
            self._ids[slots[take]] = ids[take]
            placed += int(np.count_nonzero(take))
            passed += self._keys[slots] == keys  # after placing: a winner counts for the rest
            wait = ~take & (passed < self.max_per_key)
            keys, ids, slots, passed = keys[wait], ids[wait], slots[wait] + 1, passed[wait]
            if slots.size and slots[-1] > mask:
                slots &= mask
                order = np.argsort(slots, kind="stable")
                keys, ids, slots, passed = keys[order], ids[order], slots[order], passed[order]
        return placed

    def _resize(self, bits: int) -> None:
        live = np.flatnonzero(self._ids != _EMPTY)
        keys, ids = self._keys[live], self._ids[live]
        del live
        self._bits = bits
        self._keys = np.zeros(1 << bits, U64)
        self._ids = np.full(1 << bits, _EMPTY, np.int32)
        self._count = 0
        self._place_all(keys, ids)
