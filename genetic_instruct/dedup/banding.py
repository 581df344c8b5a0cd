"""LSH banding: which signature rows go into one bucket key, and the key hashes.

A signature of ``num_perm`` values is cut into ``b`` bands of ``r`` rows. Two texts with
Jaccard similarity ``s`` agree on one row with probability ``s``, on a whole band with
``s**r``, and share at least one bucket (become *candidates*) with probability

    P(s) = 1 - (1 - s**r)**b

Every candidate is then verified on the full signature (estimated Jaccard >= threshold),
so a false positive of the banding costs one cheap comparison, while a false negative
is a near-duplicate lost for good. Hence we do not balance the two areas under the
curve as datasketch does (for t = 0.7 and 128 rows it picks 14 bands of 9 rows, which
misses 56% of the pairs at the threshold itself: P(0.7) = 0.44); we pick the band
size ``r`` that keeps ``P(threshold) >= 0.95`` with ``b = num_perm // r`` bands,
taking the largest such ``r`` because the candidates from unrelated texts,
``~ b * s**r`` per pair at small ``s``, fall steeply with ``r``. For t = 0.7:

    256 rows (default): 36 x 7   P(0.70) = 0.955  P(0.75) = 0.994  P(0.3) = 7.8e-3  P(0.1) = 3.6e-6
    128 rows:           25 x 5   P(0.70) = 0.990  P(0.75) = 0.999  P(0.3) = 0.059   P(0.1) = 2.5e-4

(with 128 rows, 16 x 8 would give P(0.70) = 0.61 and 21 x 6 0.93). The verified
estimate has sampling noise, sd ~ sqrt(J(1 - J) / num_perm) = 0.029 at J = 0.7 with
256 rows (0.040 with 128): pairs that close to the threshold land on either side.
"""

from __future__ import annotations

import numpy as np

from genetic_instruct.dedup.hashing import U64, derive_keys, mix64
from genetic_instruct.dedup.parallel import for_blocks

MIN_CANDIDATE_PROBABILITY = 0.95
_PURPOSE_BANDS = 3
_ROWS_PER_PASS = 1024  # (rows, bands) uint64 temporaries of ~0.3 MB: cache-sized, and
# 10 blocks per batch of 10,000 for the threads (65,536 rows: 1.4x the CPU time)


def candidate_probability(s: float, bands: int, rows: int) -> float:
    """P[two texts of Jaccard similarity ``s`` share a bucket in at least one band]."""
    return 1.0 - (1.0 - s**rows) ** bands


def choose_bands(threshold: float, num_perm: int) -> int:
    """Number of bands for ``threshold``: the largest band size ``r`` (``b = num_perm
    // r``) still making pairs at the threshold candidates with P >= 0.95."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    best = num_perm  # r = 1: every row its own band, P(threshold) highest
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        if candidate_probability(threshold, bands, rows) >= MIN_CANDIDATE_PROBABILITY:
            best = bands
    return best


class Bands:
    """Hashes each band of a signature to one 32-bit bucket key (the top half of a mixed
    64-bit hash), salted per band, so keys of different bands can share one table. Two
    bands meet by chance with probability 2^-32, which only adds a candidate to verify."""

    def __init__(self, *, num_perm: int, bands: int, seed: int, threads: int = 1) -> None:
        if not 1 <= bands <= num_perm:
            raise ValueError(f"bands must be in [1, num_perm={num_perm}], got {bands}")
        self.bands = bands
        self.rows = num_perm // bands
        self.threads = threads
        self._salts = derive_keys(seed, _PURPOSE_BANDS, bands + 1)

    def keys(self, signatures: np.ndarray) -> np.ndarray:
        """``(n, bands)`` uint32 bucket keys of ``(n, num_perm)`` signatures."""
        used = self.bands * self.rows
        out = np.empty((len(signatures), self.bands), np.uint32)

        def hash_rows(start: int, stop: int) -> None:
            part = signatures[start:stop, :used].reshape(stop - start, self.bands, self.rows)
            h = np.broadcast_to(self._salts[: self.bands], (stop - start, self.bands)).copy()
            for row in range(self.rows):
                h ^= part[:, :, row]
                h *= self._salts[-1] | U64(1)  # odd multiplier: a bijection of h
            out[start:stop] = mix64(h) >> U64(32)

        for_blocks(len(signatures), _ROWS_PER_PASS, hash_rows, self.threads)
        return out
