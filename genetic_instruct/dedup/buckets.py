"""The LSH buckets: a multimap from 32-bit bucket keys to item ids, in one numpy array.

At the 800k target with 36 bands there are 29 million (key, item) entries. As Python
dicts that is ~3 GB of objects; sorted numpy arrays are compact but need an O(n) merge
per inserted batch. This is an open-addressing hash table with linear probing over one
flat ``uint64`` array, where a whole batch of lookups or inserts advances together, one
vectorized probe step at a time, visiting the table in slot order (a sweep, not random
reads of a table far larger than the CPU caches).

A slot packs a key and ``id + 1`` (0 marks an empty slot): one read tells whether a
slot is taken, by which key and for which item. The home slot of a key is its top
``bits`` bits, so the stored key still says where an entry belongs when the table
grows.

The table grows 4x when it would pass half full, so linear probing needs
(1 + 1/(1 - a)^2) / 2 <= 2.5 probes for a miss on average (Knuth), and a growing index
moves each entry ~1.3 times in all (2 times when doubling); at 800k texts x 36 bands
it has 2^26 slots (537 MB). The ids of one key sit in one run of slots, so a key
keeps about ``max_per_key`` ids at most (later ones are dropped): a batch advances one
slot per step, and a few crowded keys must not cost thousands of steps.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from genetic_instruct.dedup.hashing import U64

_MAX_LOAD = 0.5
_MIN_BITS = 16
_MAX_BITS = 32  # home slots come from the 32 stored bits
_WINDOW = 4  # slots read per lookup step (32 bytes: mostly one cache line)
_STEPS = np.arange(_WINDOW)
_LOW = U64(0xFFFFFFFF)
_CHUNK = 1 << 21  # entries handled per pass: bounds the temporaries

IdsOf = Callable[[np.ndarray], np.ndarray]  # positions of entries in a batch -> their ids


class BucketTable:
    """Multimap ``uint32 key -> item id`` (ids below 2^31); a key holds up to about
    ``max_per_key`` ids."""

    def __init__(self, *, max_per_key: int) -> None:
        self.max_per_key = max_per_key
        self._bits = _MIN_BITS
        self._slots = np.zeros(1 << self._bits, U64)
        self._count = 0

    def __len__(self) -> int:
        return self._count

    @property
    def nbytes(self) -> int:
        return self._slots.nbytes

    def insert(self, keys: np.ndarray, first_id: int) -> None:
        """Add item ``first_id + r`` under every key in row ``r`` of ``keys`` (items x
        keys per item), except to keys already holding ``max_per_key`` ids. Ids follow
        from positions, so a bulk load never gathers them."""
        per_item = keys.shape[1]
        keys = keys.reshape(-1)
        needed = self._count + keys.size
        if needed > _MAX_LOAD * (1 << self._bits):
            self._grow(needed)

        def ids_from(start: int) -> IdsOf:
            """Ids of positions counted from ``start`` in ``keys``."""
            return lambda positions: first_id + (positions + start) // per_item

        if not self._count:
            self._sweep(keys, ids_from(0))
            return
        for start in range(0, keys.size, _CHUNK):
            self._place(keys[start : start + _CHUNK], ids_from(start))

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """All stored pairs matching ``keys``: ``(positions in keys, ids)``. A key's
        pairs sit in the run of occupied slots from its home slot on, which ends at an
        empty slot; each step reads the next ``_WINDOW`` slots of every pending key."""
        mask = (1 << self._bits) - 1
        queries, pending = sort_keys(keys)
        slots = self._home(pending)
        found_queries, found_ids = [], []
        while queries.size:
            stored = self._slots[(slots[:, None] + _STEPS) & mask]
            in_run = np.logical_and.accumulate(stored != 0, axis=1)
            rows, cols = np.nonzero(in_run & ((stored >> U64(32)) == pending[:, None]))
            found_queries.append(queries[rows])
            found_ids.append((stored[rows, cols] & _LOW).astype(np.intp) - 1)
            longer = in_run[:, -1]
            queries, pending, slots = queries[longer], pending[longer], slots[longer] + _WINDOW
        if not found_queries:
            return np.empty(0, np.intp), np.empty(0, np.intp)
        return np.concatenate(found_queries), np.concatenate(found_ids)

    def _home(self, keys: np.ndarray) -> np.ndarray:
        return (keys >> np.uint32(32 - self._bits)).astype(np.intp)

    def _grow(self, needed: int) -> None:
        bits = min(self._bits + 2, _MAX_BITS)
        while needed > _MAX_LOAD * (1 << bits):
            bits += 1
        if bits > _MAX_BITS:
            raise OverflowError(f"{needed} bucket entries exceed the table's {2**_MAX_BITS} slots")
        live = self._slots[self._slots != 0]
        self._bits, self._count = bits, 0
        self._slots = np.zeros(1 << bits, U64)
        ids = (live & _LOW).astype(np.intp) - 1
        self._sweep((live >> U64(32)).astype(np.uint32), ids.__getitem__)

    def _place(self, keys: np.ndarray, ids_of: IdsOf) -> None:
        """Linear probing for a batch, in slot order: each step, every pending pair whose
        slot is free and who is first in line for it takes it; the others move one slot
        on. In slot order "first in line" is a comparison with the previous pair, and a
        step keeps the order (all move by one) unless some wrap past the end. A pair is
        dropped once the slots it passed plus the pairs ahead of it in the batch, all
        of its key, reach ``max_per_key``."""
        mask = (1 << self._bits) - 1
        positions, keys = sort_keys(keys)
        entries = (keys.astype(U64) << U64(32)) | (ids_of(positions) + 1).astype(U64)
        slots = self._home(keys)
        passed = _rank_in_runs(keys)  # pairs of the same key ahead in this batch
        while slots.size:
            stored = self._slots[slots]
            first = np.ones(slots.size, bool)
            first[1:] = slots[1:] != slots[:-1]
            take = first & (stored == 0)
            self._slots[slots[take]] = entries[take]
            self._count += int(np.count_nonzero(take))
            passed += (stored >> U64(32)) == keys
            wait = ~take & (passed < self.max_per_key)
            keys, entries, slots, passed = keys[wait], entries[wait], slots[wait] + 1, passed[wait]
            if slots.size and slots[-1] > mask:
                slots &= mask
                order = np.argsort(slots, kind="stable")
                keys, entries, slots, passed = (
                    keys[order],
                    entries[order],
                    slots[order],
                    passed[order],
                )

    def _sweep(self, keys: np.ndarray, ids_of: IdsOf) -> None:
        """Bulk load into an empty table (a restore, or a resize), without probing: in
        slot order, pair i lands at pos_i = max(home_i, pos_(i-1) + 1), so
        pos = i + running max of (home - i). The cap applies per home slot here (the
        same as per key unless distinct keys share a home); pairs pushed past the
        last slot go through ``_place``, which wraps around."""
        packed = _sorted_packed(keys)
        next_free = 0  # the slot after the last pair placed
        last_home, run = -1, 0  # home of the last pair seen, and how many pairs had it
        for start in range(0, packed.size, _CHUNK):
            chunk_positions, chunk_keys = _unpack(packed[start : start + _CHUNK])
            homes = self._home(chunk_keys)
            rank = _rank_in_runs(homes)
            rank[homes == last_home] += run  # a home run that began in the last pass
            last_home, run = homes[-1], rank[-1] + 1
            kept = np.flatnonzero(rank < self.max_per_key)
            homes, chunk_keys, ids = homes[kept], chunk_keys[kept], ids_of(chunk_positions[kept])
            index = np.arange(homes.size)
            slots = np.maximum(np.maximum.accumulate(homes - index), next_free) + index
            inside = slots < self._slots.size
            entries = (chunk_keys.astype(U64) << U64(32)) | (ids + 1).astype(U64)
            self._slots[slots[inside]] = entries[inside]
            self._count += int(np.count_nonzero(inside))
            if not inside.all():
                self._place(chunk_keys[~inside], ids[~inside].__getitem__)
            next_free = int(slots[-1]) + 1 if slots.size else next_free


def sort_keys(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``keys`` sorted by value (ties by position), and the sorted keys: in
    the table, slot order."""
    return _unpack(_sorted_packed(keys))


def _sorted_packed(keys: np.ndarray) -> np.ndarray:
    """Sorted ``key << 32 | position`` integers: one sort, 4x faster than an argsort,
    and the keys come back without a gather."""
    packed = keys.astype(U64)
    packed <<= U64(32)
    packed |= np.arange(keys.size, dtype=U64)
    packed.sort()
    return packed


def _unpack(packed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (packed & _LOW).astype(np.intp), (packed >> U64(32)).astype(np.uint32)


def _rank_in_runs(values: np.ndarray) -> np.ndarray:
    """For sorted ``values``, how many equal values precede each one."""
    index = np.arange(values.size)
    starts = np.ones(values.size, bool)
    starts[1:] = values[1:] != values[:-1]
    return index - np.maximum.accumulate(np.where(starts, index, 0))
