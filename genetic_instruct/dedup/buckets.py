"""The LSH buckets: a multimap from 64-bit bucket keys to item ids, in flat numpy arrays.

At the 800k target with 36 bands there are 29 million (key, item) entries. As Python
dicts that is ~3 GB of objects; sorted numpy arrays are compact but need an O(n) merge
per inserted batch. This is an open-addressing hash table with linear probing over two
flat arrays, where a whole batch of lookups or inserts advances together, one vectorized
probe step at a time, visiting the table in slot order (a sweep, not random reads of a
table far larger than the CPU caches).

A slot holds the top 32 bits of a key and an int32 id: 8 bytes. The home slot of a key
is its top ``bits`` bits, so the stored 32 bits still say where an entry belongs when
the table grows; two keys agreeing on 32 bits (2^-32 per comparison) only add a
candidate, which the index verifies anyway.

The table at least doubles when it would pass half full, so linear probing needs
(1 + 1/(1 - a)^2) / 2 <= 2.5 probes for a miss on average (Knuth); at 800k texts x 36
bands it has 2^26 slots (537 MB). The ids of one key sit in one run of slots, so a key
keeps at most ``max_per_key`` ids (later ones are dropped): a batch advances one slot
per step, and a few crowded keys must not cost thousands of steps.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from genetic_instruct.dedup.hashing import U64

_MAX_LOAD = 0.5
_MIN_BITS = 16
_MAX_BITS = 32  # home slots come from the 32 stored bits
_WINDOW = 4  # slots read per lookup step (16 bytes of keys: mostly one cache line)
_STEPS = np.arange(_WINDOW)
_EMPTY = -1
_CHUNK = 1 << 21  # entries handled per pass: bounds the temporaries

IdsOf = Callable[[np.ndarray], np.ndarray]  # positions of entries in a batch -> their int32 ids


class BucketTable:
    """Multimap ``uint64 key -> int32 item id``; a key holds up to ``max_per_key`` ids."""

    def __init__(self, *, max_per_key: int) -> None:
        self.max_per_key = max_per_key
        self._bits = _MIN_BITS
        self._tops = np.zeros(1 << self._bits, np.uint32)
        self._ids = np.full(1 << self._bits, _EMPTY, np.int32)
        self._count = 0

    def __len__(self) -> int:
        return self._count

    @property
    def nbytes(self) -> int:
        return self._tops.nbytes + self._ids.nbytes

    def insert(self, keys: np.ndarray, first_id: int) -> None:
        """Add item ``first_id + r`` under every key in row ``r`` of ``keys`` (items x
        keys per item), except to keys already holding ``max_per_key`` ids. Ids follow
        from positions, so a bulk load never gathers them."""
        per_item = keys.shape[1]
        tops = top32(keys.reshape(-1))
        needed = self._count + tops.size
        if needed > _MAX_LOAD * (1 << self._bits):
            self._grow(needed)

        def ids_of(positions: np.ndarray) -> np.ndarray:
            return (first_id + positions // per_item).astype(np.int32)

        if not self._count:
            self._sweep(tops, ids_of)
            return
        for start in range(0, tops.size, _CHUNK):
            self._place(tops[start : start + _CHUNK], lambda p, start=start: ids_of(p + start))

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """All stored pairs matching ``keys``: ``(positions in keys, ids)``. A key's
        pairs sit in the run of occupied slots from its home slot on, which ends at an
        empty slot; each step reads the next ``_WINDOW`` slots of every pending key."""
        mask = (1 << self._bits) - 1
        queries, pending = sort_tops(top32(keys))
        slots = self._home(pending)
        found_queries, found_ids = [], []
        while queries.size:
            window = (slots[:, None] + _STEPS) & mask
            ids = self._ids[window]
            in_run = np.logical_and.accumulate(ids != _EMPTY, axis=1)
            rows, cols = np.nonzero(in_run & (self._tops[window] == pending[:, None]))
            found_queries.append(queries[rows])
            found_ids.append(ids[rows, cols])
            longer = in_run[:, -1]
            queries, pending, slots = queries[longer], pending[longer], slots[longer] + _WINDOW
        if not found_queries:
            return np.empty(0, np.intp), np.empty(0, np.int32)
        return np.concatenate(found_queries), np.concatenate(found_ids)

    def _home(self, tops: np.ndarray) -> np.ndarray:
        return (tops >> np.uint32(32 - self._bits)).astype(np.intp)

    def _grow(self, needed: int) -> None:
        bits = self._bits + 1
        while needed > _MAX_LOAD * (1 << bits):
            bits += 1
        if bits > _MAX_BITS:
            raise OverflowError(f"{needed} bucket entries exceed the table's {2**_MAX_BITS} slots")
        live = np.flatnonzero(self._ids != _EMPTY)
        tops, ids = self._tops[live], self._ids[live]
        del live
        self._bits, self._count = bits, 0
        self._tops = np.zeros(1 << bits, np.uint32)
        self._ids = np.full(1 << bits, _EMPTY, np.int32)
        self._sweep(tops, ids.__getitem__)

    def _place(self, tops: np.ndarray, ids_of: IdsOf) -> None:
        """Linear probing for a batch, in slot order: each step, every pending pair whose
        slot is free and who is first in line for it takes it; the others move one slot
        on. In slot order "first in line" is a comparison with the previous pair, and a
        step keeps the order (all move by one) unless some wrap past the end."""
        mask = (1 << self._bits) - 1
        positions, tops = sort_tops(tops)
        ids, slots = ids_of(positions), self._home(tops)
        passed = np.zeros(tops.size, np.int32)  # slots passed that hold the same key
        while slots.size:
            first = np.ones(slots.size, bool)
            first[1:] = slots[1:] != slots[:-1]
            take = first & (self._ids[slots] == _EMPTY)
            self._tops[slots[take]] = tops[take]
            self._ids[slots[take]] = ids[take]
            self._count += int(np.count_nonzero(take))
            passed += self._tops[slots] == tops  # after placing: a winner counts for the rest
            wait = ~take & (passed < self.max_per_key)
            tops, ids, slots, passed = tops[wait], ids[wait], slots[wait] + 1, passed[wait]
            if slots.size and slots[-1] > mask:
                slots &= mask
                order = np.argsort(slots, kind="stable")
                tops, ids, slots, passed = tops[order], ids[order], slots[order], passed[order]

    def _sweep(self, tops: np.ndarray, ids_of: IdsOf) -> None:
        """Bulk load into an empty table (a restore, or a resize), without probing: in
        slot order, pair i lands at pos_i = max(home_i, pos_(i-1) + 1), so
        pos = i + running max of (home - i). The cap applies per home slot here (the
        same as per key unless distinct keys share a home); pairs pushed past the
        last slot go through ``_place``, which wraps around."""
        positions, tops = sort_tops(tops)
        next_free = 0  # the slot after the last pair placed
        last_home, run = -1, 0  # home of the last pair seen, and how many pairs had it
        for start in range(0, tops.size, _CHUNK):
            chunk_positions, chunk_tops = (
                positions[start : start + _CHUNK],
                tops[start : start + _CHUNK],
            )
            homes = self._home(chunk_tops)
            index = np.arange(homes.size)
            new_home = np.ones(homes.size, bool)
            new_home[1:] = homes[1:] != homes[:-1]
            rank = index - np.maximum.accumulate(np.where(new_home, index, 0))
            rank[homes == last_home] += run  # a home run that began in the last pass
            last_home, run = homes[-1], rank[-1] + 1
            kept = np.flatnonzero(rank < self.max_per_key)
            homes, chunk_tops, ids = homes[kept], chunk_tops[kept], ids_of(chunk_positions[kept])
            index = np.arange(homes.size)
            slots = np.maximum(np.maximum.accumulate(homes - index), next_free) + index
            inside = slots < self._tops.size
            self._tops[slots[inside]] = chunk_tops[inside]
            self._ids[slots[inside]] = ids[inside]
            self._count += int(np.count_nonzero(inside))
            if not inside.all():
                self._place(chunk_tops[~inside], ids[~inside].__getitem__)
            next_free = int(slots[-1]) + 1 if slots.size else next_free


def top32(keys: np.ndarray) -> np.ndarray:
    """The top 32 bits of 64-bit keys: what the table stores and compares."""
    return (keys >> U64(32)).astype(np.uint32)


def sort_tops(tops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``tops`` sorted by value (ties by position), and the sorted values:
    in the table, slot order. One sort of packed ``top << 32 | position`` integers is
    4x faster than an argsort, and returns the values without a gather."""
    packed = tops.astype(U64)
    packed <<= U64(32)
    packed |= np.arange(tops.size, dtype=U64)
    packed.sort()
    return (packed & U64(0xFFFFFFFF)).astype(np.intp), (packed >> U64(32)).astype(np.uint32)
