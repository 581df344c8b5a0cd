"""The near-duplicate index the evolution loop checks every generation against.

Per generation the loop calls, on a batch of new instructions::

    sigs = index.signatures(texts)
    hits = index.query(sigs)                   # vs the whole population
    fresh = [i for i, hit in enumerate(hits) if hit is None]
    copies = index.within_batch(sigs[fresh])   # vs earlier rows of the batch
    keep = [fresh[j] for j, c in enumerate(copies) if c is None]
    ...                                        # code, judge, then for the survivors:
    index.add(keys, sigs[survivors])

and stores ``sigs[i].tobytes()`` with each record, so that a resumed run rebuilds the
index with one ``add`` of the stored signatures and never re-hashes text.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from genetic_instruct.config import Normalize
from genetic_instruct.dedup.banding import Bands, choose_bands
from genetic_instruct.dedup.buckets import BucketRuns, Buckets, sort_keys
from genetic_instruct.dedup.key_list import KeyList
from genetic_instruct.dedup.minhash import SIGNATURE_DTYPE, MinHasher
from genetic_instruct.dedup.parallel import available_cores
from genetic_instruct.dedup.shingles import Shingler
from genetic_instruct.dedup.signature_rows import SignatureRows

# A bucket keeps its first 64 items, and within a batch a row is compared with the
# first 64 earlier rows of each of its buckets. A pair at the threshold shares ~3 of
# 36 buckets (36 x 0.7^7), more the closer it is, so a text still meets its
# near-duplicates through its other buckets; without the cap a crowded bucket costs
# O(size) probe steps per lookup and O(size^2) comparisons within a batch.
BUCKET_CAP = 64
_PAIRS_PER_PASS = 8192  # (pairs, num_perm) comparison temporaries of ~10 MB
_ITEMS_PER_ADD = 1 << 20  # a restore adds this many at a time: bounds the temporaries


class NearDuplicateIndex:
    """MinHash LSH index answering "is there an item with Jaccard similarity >=
    ``threshold`` to this text?", for texts seen as sets of ``shingle_size``-token
    shingles after ``normalize`` (see :mod:`genetic_instruct.dedup.shingles`).

    ``num_perm`` bins of 16 bits each (see :mod:`genetic_instruct.dedup.minhash`): the
    default 256 gives recall ~0.95 and precision ~0.96 against exact Jaccard on the
    labelled corpus of `bench/synthetic_corpus.py`, where 128 gives ~0.94
    and ~0.93. ``bands=None`` chooses the banding for the threshold (see
    :mod:`genetic_instruct.dedup.banding`); every LSH candidate is verified on the full
    signature, so answers are items whose *estimated* Jaccard is >= ``threshold``.
    ``workers`` (default: the cores this process may use) is how many cores sign a
    large batch: this process and ``workers - 1`` helper processes, started with
    ``spawn`` on the first batch of >= 1,024 texts and kept for the life of the process
    (threads would share one GIL, which shingling mostly holds: see
    :mod:`genetic_instruct.dedup.parallel`); band keys, numpy-bound, use as many
    threads. ``workers=1`` starts no process and no thread. Signatures are the same for
    any number.

    What it holds per item is ~320 bytes of memory whatever the size (36 bucket entries
    of 8 bytes and the packed key; see :mod:`genetic_instruct.dedup.buckets`); the
    signatures themselves are read from a file (see
    :mod:`genetic_instruct.dedup.signature_rows`). With a ``directory``, signatures,
    keys and bucket runs are kept there as they are added, and a new index on the same
    directory starts with what it finds there complete (``len`` says how many items):
    the rest is the caller's to add again. Without, it lives as long as the object.
    ``buckets`` holds the LSH buckets elsewhere (shards on Ray actors:
    executors/ray_dedup.py), empty, with a ``max_per_key`` of :data:`BUCKET_CAP`; the
    answers are the same.
    """

    signature_dtype: np.dtype = SIGNATURE_DTYPE

    def __init__(
        self,
        *,
        threshold: float = 0.7,
        num_perm: int = 256,
        bands: int | None = None,
        shingle_size: int = 3,
        normalize: Normalize | str = Normalize.code,
        seed: int = 1,
        workers: int | None = None,
        directory: Path | None = None,
        buckets: Buckets | None = None,
    ) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold}")
        self.threshold = threshold
        self.num_perm = num_perm
        shingler = Shingler(size=shingle_size, normalize=normalize, seed=seed)
        workers = workers or available_cores()
        self._hasher = MinHasher(num_perm=num_perm, shingler=shingler, seed=seed, workers=workers)
        self._bands = Bands(
            num_perm=num_perm,
            bands=bands or choose_bands(threshold, num_perm),
            seed=seed,
            threads=workers,
        )
        # Estimated Jaccard = agreeing rows / num_perm; compare counts, not floats.
        self._min_agreeing = math.ceil(threshold * num_perm - 1e-9)
        if buckets is not None and directory is not None:
            raise ValueError("buckets kept elsewhere are not kept in a directory")
        runs = None
        if directory is not None:
            runs = directory / "buckets"
            _start_over_unless(directory, self._settings(shingle_size, normalize, seed))
            runs.mkdir(parents=True, exist_ok=True)
        self._table: Buckets = (
            buckets if buckets is not None else BucketRuns(max_per_key=BUCKET_CAP, directory=runs)
        )
        self._keys = KeyList(directory)
        self._signatures = SignatureRows(
            num_perm, SIGNATURE_DTYPE, directory and directory / "signatures.u16"
        )
        if isinstance(self._table, BucketRuns) and directory is not None:
            covered = self._table.load(min(len(self._keys), len(self._signatures)))
            self._keys.truncate(covered)
            self._signatures.truncate(covered)

    def _settings(self, shingle_size: int, normalize: Normalize | str, seed: int) -> str:
        """What the stored signatures and bucket keys depend on."""
        return json.dumps(
            {
                "format": 1,
                "num_perm": self.num_perm,
                "bands": self.bands,
                "shingle_size": shingle_size,
                "normalize": str(normalize),
                "seed": seed,
            }
        )

    @property
    def bands(self) -> int:
        return self._bands.bands

    @property
    def rows_per_band(self) -> int:
        return self._bands.rows

    @property
    def min_agreeing(self) -> int:
        """Equal signature positions (of num_perm) that make two items near-duplicates."""
        return self._min_agreeing

    @property
    def nbytes(self) -> int:
        """Bytes of memory held (buckets and keys), for reports."""
        return self._table.nbytes + self._keys.nbytes

    def memory(self) -> dict[str, int]:
        """Bytes of memory held per part, for benchmarks (the signatures are on disk)."""
        return {"buckets": self._table.nbytes, "signatures": 0, "ids": self._keys.nbytes}

    def __len__(self) -> int:
        return len(self._keys)

    def key(self, item: int) -> str:
        return self._keys[item]

    def clear(self) -> None:
        """Forget every item (and, with a directory, its files)."""
        self._table.clear()
        self._keys.truncate(0)
        self._signatures.truncate(0)

    def signatures(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), num_perm)`` MinHash signatures, the same in every process."""
        return self._hasher.signatures(texts)

    def band_keys(self, signatures: np.ndarray) -> np.ndarray:
        """``(n, bands)`` bucket keys of ``(n, num_perm)`` signatures."""
        return self._bands.keys(self._as_signatures(signatures))

    def query(self, signatures: np.ndarray, keys: np.ndarray | None = None) -> list[str | None]:
        """Per row, the key of the indexed item most similar to it among those with
        estimated Jaccard >= threshold, or None. `keys`: the rows' band_keys, when the
        caller has them already."""
        sigs = self._as_signatures(signatures)
        result: list[str | None] = [None] * len(sigs)
        if not len(self) or not len(sigs):
            return result
        positions, items = self._table.lookup(self._bands.keys(sigs) if keys is None else keys)
        rows, items = _unique_pairs(positions // self.bands, items)
        candidates = self._signatures.rows(items)
        agreeing = _agreeing(sigs, rows, candidates, np.arange(items.size))
        close = agreeing >= self._min_agreeing
        rows, items, agreeing = rows[close], items[close], agreeing[close]
        best = np.lexsort((-agreeing, rows))  # per row, most agreeing first
        rows, items = rows[best], items[best]
        first = np.ones(rows.size, bool)
        first[1:] = rows[1:] != rows[:-1]
        for row, item in zip(rows[first].tolist(), items[first].tolist()):
            result[row] = self._keys[item]
        return result

    def within_batch(self, signatures: np.ndarray) -> list[int | None]:
        """Per row, the position of an earlier row of this batch that it near-duplicates,
        or None. The answer equals checking the rows one by one and keeping each row
        that matched no kept row: a row is only ever reported against a row that is
        itself None, so chains A ~ B ~ C keep C when C is not close to A. (Pass only
        the rows that ``query`` let through, so rows dropped there do not count.)"""
        sigs = self._as_signatures(signatures)
        rows, earlier = self._bucket_mates(sigs)
        agreeing = _agreeing(sigs, rows, sigs, earlier)
        close = agreeing >= self._min_agreeing
        rows, earlier = rows[close], earlier[close]
        order = np.lexsort((earlier, rows))
        result: list[int | None] = [None] * len(sigs)
        for row, other in zip(rows[order].tolist(), earlier[order].tolist()):
            if result[row] is None and result[other] is None:
                result[row] = other
        return result

    def add(self, keys: Sequence[str], signatures: np.ndarray) -> None:
        """Index ``signatures`` under ``keys``. Also the restore path (stored signature
        bytes, ``np.frombuffer(blob, dtype=signature_dtype)``, a batch at a time), which
        never re-hashes text."""
        sigs = self._as_signatures(signatures)
        if len(keys) != len(sigs):
            raise ValueError(f"{len(keys)} keys for {len(sigs)} signatures")
        for start in range(0, len(sigs), _ITEMS_PER_ADD):
            part = sigs[start : start + _ITEMS_PER_ADD]
            first_id = len(self._keys)
            self._signatures.append(part)
            self._keys.extend(keys[start : start + _ITEMS_PER_ADD])
            self._table.insert(self._bands.keys(part), first_id=first_id)

    def _as_signatures(self, signatures: np.ndarray) -> np.ndarray:
        sigs = np.asarray(signatures)
        if sigs.dtype != SIGNATURE_DTYPE:
            raise TypeError(f"signatures must have dtype {SIGNATURE_DTYPE}, got {sigs.dtype}")
        if sigs.ndim == 1 and sigs.size % self.num_perm == 0:
            sigs = sigs.reshape(-1, self.num_perm)
        if sigs.ndim != 2 or sigs.shape[1] != self.num_perm:
            raise ValueError(f"signatures must have shape (n, {self.num_perm}), got {sigs.shape}")
        return sigs

    def _bucket_mates(self, sigs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Unique pairs (row, earlier row) of the batch that share a bucket."""
        order, keys = sort_keys(self._bands.keys(sigs).ravel())  # rows ascend in a bucket
        rows = order // self.bands
        starts_bucket = np.ones(keys.size, bool)
        starts_bucket[1:] = keys[1:] != keys[:-1]
        bucket_start = np.maximum.accumulate(np.where(starts_bucket, np.arange(keys.size), 0))
        later = np.flatnonzero(~starts_bucket)
        pairs_rows, pairs_earlier = [], []
        for offset in range(BUCKET_CAP):
            mate = bucket_start[later] + offset
            before = mate < later
            later, mate = later[before], mate[before]
            if not later.size:
                break
            pairs_rows.append(rows[later])
            pairs_earlier.append(rows[mate])
        if not pairs_rows:
            return np.empty(0, np.intp), np.empty(0, np.intp)
        return _unique_pairs(np.concatenate(pairs_rows), np.concatenate(pairs_earlier))


def _start_over_unless(directory: Path, settings: str) -> None:
    """Empty ``directory`` unless it holds an index made with these ``settings``."""
    written = directory / "settings.json"
    if written.exists() and written.read_text() != settings:
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written.write_text(settings)


def _agreeing(a: np.ndarray, a_rows: np.ndarray, b: np.ndarray, b_rows: np.ndarray) -> np.ndarray:
    """Number of equal signature positions of each pair ``(a[a_rows[i]], b[b_rows[i]])``."""
    out = np.empty(a_rows.size, np.int64)
    for start in range(0, a_rows.size, _PAIRS_PER_PASS):
        stop = start + _PAIRS_PER_PASS
        out[start:stop] = np.count_nonzero(a[a_rows[start:stop]] == b[b_rows[start:stop]], axis=1)
    return out


def _unique_pairs(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct ``(left[i], right[i])`` pairs (a pair found in several bands counts once)."""
    if not left.size:
        return left.astype(np.intp), right.astype(np.intp)
    packed = np.unique((left.astype(np.int64) << 32) | right.astype(np.int64))
    return (packed >> 32).astype(np.intp), (packed & 0xFFFFFFFF).astype(np.intp)
