"""MinHash signatures by one-permutation hashing with optimal densification.

Classic MinHash (datasketch) applies ``num_perm`` hash functions to every shingle:
~46,000 multiply-min operations for a 360-word text, the bulk of its cost. One-permutation
hashing (Li, Owen & Zhang, NIPS 2012) hashes each shingle once: the hash picks one of
``num_perm`` bins and the shingle competes for that bin's minimum only. For two sets,
``P[bin i agrees] = J`` (Jaccard) as for classic MinHash, and the estimate
``mean(sig_a == sig_b)`` has no larger variance (it samples without replacement).

A bin that no shingle fell into (about ``exp(-shingles / num_perm)`` of them: 25% for
360 distinct shingles and 256 bins, most for short texts) is filled by *optimal
densification* (Shrivastava, ICML 2017): empty bin ``i`` copies the value of the first
non-empty bin along a probe sequence fixed per ``(seed, i)``. Two texts then agree on
bin ``i`` exactly when the first probed bin that is non-empty in *either* text holds the
same minimum in both, which again happens with probability ``J``. Densification keeps
the signature usable by banded LSH, which needs every position to be a fair sample.

Each bin keeps the low 16 bits of its minimum (b-bit MinHash, Li & Koenig, WWW 2010):
two different minima then collide with probability 2**-16, which inflates an estimate by
~1.5e-5, while 256 bins of 16 bits take the bytes of 128 bins of 32 bits and halve the
variance of the estimate. Signatures are little-endian ``uint16`` (512 bytes for 256
bins), so stored bytes read back the same on any machine. A text without tokens keeps
every bin at ``2**16 - 1``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from genetic_instruct.config import Normalize
from genetic_instruct.dedup.hashing import derive_keys, to_range
from genetic_instruct.dedup.parallel import blocks_with_helpers
from genetic_instruct.dedup.shingles import Shingler

SIGNATURE_DTYPE = np.dtype("<u2")
_UNSET = np.iinfo(np.uint32).max
_PURPOSE_PROBES = 2
# After this many probes an empty bin falls back to the row's first non-empty bin (a
# fixed continuation of the same sequence, so agreement stays P = J). A text with f
# of 256 bins filled misses all probes with probability (1 - f/256)^32: 28% for f = 10.
_PROBES = 32
Spec = tuple[int, int, int, Normalize, int]  # num_perm, seed, shingle size, normalize, shingle seed
# Texts signed per block, here or in a helper process: ~10 ms of work and 0.7 MB of
# text to send, 128 KB of signatures back. 256 to 1,024 rows sign at the same speed in
# one process (128: 1.5x slower); small blocks keep the tail short, when one side
# still works on its last block and the other has none left.
_BLOCK_ROWS = 256
# Fewer texts than this are signed in the calling process alone: below it the round
# trip to a helper does not pay (measured: see bench/RESULTS-dedup.md).
_MIN_ROWS_FOR_HELPERS = 1024


class MinHasher:
    """Text -> MinHash signature with ``num_perm`` bins, signed by ``workers`` processes:
    this one and ``workers - 1`` helpers (see :mod:`genetic_instruct.dedup.parallel`)."""

    def __init__(self, *, num_perm: int, shingler: Shingler, seed: int, workers: int = 1) -> None:
        if num_perm < 2:
            raise ValueError(f"num_perm must be >= 2, got {num_perm}")
        self.num_perm = num_perm
        self.shingler = shingler
        self.seed = seed
        self.workers = workers
        probes = to_range(derive_keys(seed, _PURPOSE_PROBES, _PROBES * num_perm), num_perm)
        self._probes = probes.astype(np.intp).reshape(_PROBES, num_perm)  # [t][bin]

    @property
    def spec(self) -> Spec:
        """What a helper process needs to build the same hasher."""
        shingler = self.shingler
        return (self.num_perm, self.seed, shingler.size, shingler.normalize, shingler.seed)

    def signatures(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), num_perm)`` signatures, deterministic for a given seed (and the
        same whatever ``workers``: each text's signature depends on that text alone)."""
        out = np.empty((len(texts), self.num_perm), SIGNATURE_DTYPE)
        helpers = self.workers - 1 if len(texts) >= _MIN_ROWS_FOR_HELPERS else 0
        spec = self.spec
        blocks = blocks_with_helpers(
            len(texts),
            _BLOCK_ROWS,
            lambda start, stop: self._block(texts[start:stop]),
            lambda start, stop: (_sign_in_helper, (spec, list(texts[start:stop]))),
            helpers,
        )
        for start, stop, signatures in blocks:
            out[start:stop] = signatures
        return out

    def _block(self, texts: Sequence[str]) -> np.ndarray:
        k = self.num_perm
        minima = np.full((len(texts), k), _UNSET, np.uint32)
        for start, stop, hashes, docs in self.shingler.chunks(texts):
            # The top 32 bits of a shingle's hash pick its bin, the low 32 bits are its value.
            cells = docs * k + to_range(hashes, k).astype(np.intp)
            np.minimum.at(minima[start:stop].reshape(-1), cells, hashes.astype(np.uint32))
        self._densify(minima)
        return minima.astype(SIGNATURE_DTYPE)  # keeps the low 16 bits

    def _densify(self, minima: np.ndarray) -> None:
        """Fill empty bins in place from filled bins of the same row (never from bins
        filled here, which is what keeps P[agree] = J). One probe at a time over all the
        rows: each settles a share f/k of the remaining empty bins of a row with f of k
        bins filled, so few rounds are needed unless texts are short."""
        k = self.num_perm
        flat = minima.reshape(-1)
        filled = flat != _UNSET  # a minimum of exactly 2**32 - 1 reads as empty: harmless
        has_any = filled.reshape(minima.shape).any(axis=1)
        cells = np.flatnonzero(~filled.reshape(minima.shape) & has_any[:, None])
        bins = cells % k
        row_starts = cells - bins
        for probe in self._probes:
            if not cells.size:
                return
            sources = row_starts + probe[bins]
            hit = filled[sources]
            flat[cells[hit]] = flat[sources[hit]]
            miss = ~hit
            cells, bins, row_starts = cells[miss], bins[miss], row_starts[miss]
        first_filled = filled.reshape(minima.shape).argmax(axis=1)
        flat[cells] = flat[row_starts + first_filled[row_starts // k]]


_helper_hashers: dict[Spec, MinHasher] = {}


def _sign_in_helper(spec: Spec, texts: list[str]) -> np.ndarray:
    """A block's signatures in a helper process, by a hasher built once per ``spec``."""
    hasher = _helper_hashers.get(spec)
    if hasher is None:
        num_perm, seed, size, normalize, shingle_seed = spec
        shingler = Shingler(size=size, normalize=normalize, seed=shingle_seed)
        hasher = _helper_hashers[spec] = MinHasher(num_perm=num_perm, shingler=shingler, seed=seed)
    return hasher._block(texts)
