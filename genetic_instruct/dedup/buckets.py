"""The LSH buckets: a multimap from 32-bit bucket keys to item ids, in a few sorted arrays.

At 15 million texts with 36 bands there are 540 million (key, item) entries. Each is one
``uint64`` (key in the top half, item id in the bottom), 8 bytes and nothing else: no
empty slots, no per-key objects. An open-addressing hash table, the previous layout,
needed 2-8x that (it was kept at most half full and grew 4x, the step from 1.5 to
3.97 GB at ~940k texts in bench/RESULTS-population.md).

The entries live in *runs*, each a sorted array, oldest first, as in a log-structured
merge tree: a batch of inserts becomes a new run, and a run is merged into the one
before it while that one is less than ``_RUN_RATIO`` times larger. So there are at most
~log4(entries / batch) + 1 runs (6 at 15M texts in batches of 20k), each entry is
rewritten ~4 times per 4x growth, and a merge is linear (a stable sort of two sorted
runs is one merge pass). A lookup is two binary searches per key and run.

Items are inserted with increasing ids, so the runs hold consecutive id ranges and a
key's ids ascend across them: its first ``max_per_key`` ids are found by counting run
by run. Only those are ever returned, which is what bounds a lookup in a crowded
bucket; later entries of a crowded key stay stored (8 bytes each) but are never read.

With a ``directory`` every run is also a file there, named by the ids it holds, written
when the run is made (a new batch's, or a merge's, after which the merged runs' files
go). Runs never change, so a resume loads them instead of sorting every entry again
(at 15M texts a sort of 540M entries is minutes here): ``load`` takes the files that
cover ids 0, 1, ... without a gap, and the caller adds the rest.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import numpy as np

from genetic_instruct.dedup.hashing import U64

_RUN_RATIO = 4
# Per run, one bit per possible top-b-bits key prefix, set where the run has an entry,
# with 2^b >= 8 x entries (1 byte an entry): a lookup binary-searches a run only for the
# keys whose bit is set, ~12% of the keys a run does not hold. Most keys are in no run (a
# text meets few others), and a binary search over a large run misses the CPU caches at
# nearly every step (~25 at 20M entries): without the bits the population check cost
# 5-10x the hash table's per text.
_PREFIX_BITS_PER_ENTRY = 8
_CHUNK = 1 << 22  # entries per pass when the bits are set: bounds the temporaries
_LOW = U64(0xFFFFFFFF)
_SHIFT = U64(32)


class Buckets(Protocol):
    """What the index needs of its buckets: this module's runs, or shards of them
    elsewhere (executors/ray_dedup.py)."""

    max_per_key: int

    def __len__(self) -> int: ...

    @property
    def nbytes(self) -> int: ...

    def insert(self, keys: np.ndarray, first_id: int) -> None: ...

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def clear(self) -> None: ...


class BucketRuns:
    """Multimap ``uint32 key -> item id`` (ids below 2^32 - 1, inserted in increasing order);
    a lookup returns each key's first ``max_per_key`` ids."""

    def __init__(self, *, max_per_key: int, directory: Path | None = None) -> None:
        self.max_per_key = max_per_key
        self._runs: list[np.ndarray] = []
        self._prefixes: list[tuple[np.ndarray, int]] = []  # per run: its prefix bits, b
        self._ids: list[tuple[int, int]] = []  # per run: its first id and the next run's
        self._directory = directory

    def __len__(self) -> int:
        return sum(run.size for run in self._runs)

    @property
    def nbytes(self) -> int:
        return sum(run.nbytes for run in self._runs) + sum(b.nbytes for b, _ in self._prefixes)

    @property
    def runs(self) -> int:
        return len(self._runs)

    def insert(self, keys: np.ndarray, first_id: int) -> None:
        """Add item ``first_id + r`` under every key in row ``r`` of ``keys`` (items x
        keys per item). Ids must exceed every id inserted before."""
        if not keys.size:
            return
        per_item = keys.shape[1]
        run = keys.reshape(-1).astype(U64)
        run <<= _SHIFT
        items = np.arange(keys.size, dtype=U64)
        items //= U64(per_item)
        items += U64(first_id)
        run |= items
        del items
        run.sort()
        self._runs.append(run)
        self._ids.append((first_id, first_id + keys.shape[0]))
        merged_away = []
        while len(self._runs) > 1 and self._runs[-2].size < _RUN_RATIO * self._runs[-1].size:
            newer, newer_ids = self._runs.pop(), self._ids.pop()
            older_ids = self._ids.pop()
            merged_away += [older_ids, newer_ids]
            merged = np.concatenate((self._runs.pop(), newer))
            del newer
            merged.sort(kind="stable")  # two sorted runs: one merge pass
            self._runs.append(merged)
            self._ids.append((older_ids[0], newer_ids[1]))
        del self._prefixes[len(self._runs) - 1 :]
        self._prefixes.append(_prefix_bits(self._runs[-1]))
        if self._directory is not None:
            self._save(self._runs[-1], self._ids[-1])
            for gone in merged_away:
                self._file(gone).unlink(missing_ok=True)

    def load(self, limit: int) -> int:
        """Take the saved runs that cover ids 0 up to at most ``limit`` without a gap
        (the longest such chain), drop the other files; returns the ids covered."""
        assert self._directory is not None and not self._runs
        saved: dict[int, list[int]] = {}
        for path in self._directory.glob("*.npy"):
            first, _, after = path.stem.partition("-")
            saved.setdefault(int(first), []).append(int(after))
        covered, chain = 0, []
        while fitting := [stop for stop in saved.get(covered, []) if stop <= limit]:
            chain.append((covered, max(fitting)))
            covered = max(fitting)
        for start, stops in saved.items():
            for stop in stops:
                if (start, stop) not in chain:
                    self._file((start, stop)).unlink()
        for partial in self._directory.glob("*.partial"):
            partial.unlink()
        for ids in chain:
            self._runs.append(np.load(self._file(ids)))
            self._prefixes.append(_prefix_bits(self._runs[-1]))
            self._ids.append(ids)
        return covered

    def clear(self) -> None:
        """Forget every entry (and its files)."""
        if self._directory is not None:
            for ids in self._ids:
                self._file(ids).unlink(missing_ok=True)
        self._runs, self._prefixes, self._ids = [], [], []

    def _file(self, ids: tuple[int, int]) -> Path:
        assert self._directory is not None
        return self._directory / f"{ids[0]:012d}-{ids[1]:012d}.npy"

    def _save(self, run: np.ndarray, ids: tuple[int, int]) -> None:
        path = self._file(ids)
        partial = path.with_suffix(".partial")
        with open(partial, "wb") as out:
            np.save(out, run)
        os.replace(partial, path)

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """All stored pairs matching ``keys`` (a key's first ``max_per_key`` ids):
        ``(positions in keys, ids)``, positions in ``keys`` flattened."""
        if not self._runs or not keys.size:
            return np.empty(0, np.intp), np.empty(0, np.intp)
        queries, pending = sort_keys(keys.reshape(-1))
        low = pending.astype(U64) << _SHIFT
        # A key's entries lie in [key << 32, key << 32 | 0xFFFFFFFF): no id is 2^32 - 1.
        starts = np.zeros((len(self._runs), pending.size), np.intp)
        counts = np.zeros_like(starts)
        for r, (run, (bits, b)) in enumerate(zip(self._runs, self._prefixes)):
            prefix = low >> U64(64 - b)
            maybe = (bits[prefix >> U64(3)] >> (prefix & U64(7)).astype(np.uint8)) & 1 == 1
            if not maybe.any():
                continue
            held = low[maybe]
            found = run.searchsorted(np.concatenate((held, held | _LOW)))
            starts[r, maybe] = found[: held.size]
            counts[r, maybe] = found[held.size :] - found[: held.size]
        if not counts.any():
            return np.empty(0, np.intp), np.empty(0, np.intp)
        before = np.cumsum(counts, axis=0) - counts  # ids of the key in earlier runs
        counts = np.clip(self.max_per_key - before, 0, counts)
        found_queries, found_ids = [], []
        for r, run in enumerate(self._runs):
            taken = counts[r]
            total = int(taken.sum())
            if not total:
                continue
            which = np.repeat(np.arange(taken.size), taken)
            offsets = np.arange(total) - np.repeat(np.cumsum(taken) - taken, taken)
            found_queries.append(queries[which])
            found_ids.append((run[starts[r][which] + offsets] & _LOW).astype(np.intp))
        if not found_queries:
            return np.empty(0, np.intp), np.empty(0, np.intp)
        return np.concatenate(found_queries), np.concatenate(found_ids)


def _prefix_bits(run: np.ndarray) -> tuple[np.ndarray, int]:
    """The run's prefix bits (see _PREFIX_BITS_PER_ENTRY) and their width b."""
    b = min(32, max(13, int(np.ceil(np.log2(max(run.size, 1) * _PREFIX_BITS_PER_ENTRY)))))
    bits = np.zeros(1 << (b - 3), np.uint8)
    for start in range(0, run.size, _CHUNK):
        prefix = run[start : start + _CHUNK] >> U64(64 - b)
        mask = np.left_shift(np.uint8(1), (prefix & U64(7)).astype(np.uint8))
        np.bitwise_or.at(bits, (prefix >> U64(3)).astype(np.intp), mask)
    return bits, b


def sort_keys(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``keys`` sorted by value (ties by position), and the sorted keys."""
    packed = keys.astype(U64)
    packed <<= _SHIFT
    packed |= np.arange(keys.size, dtype=U64)
    packed.sort()
    return (packed & _LOW).astype(np.intp), (packed >> _SHIFT).astype(np.uint32)
