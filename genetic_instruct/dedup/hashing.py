"""Stable 64-bit mixing shared by shingling, MinHash and banding.

Everything here is plain integer arithmetic on numpy ``uint64`` arrays (wrapping
multiplication), so a text hashes to the same value in every process, on every machine
and numpy version. Python's ``hash()`` is salted per process and must never be used for
anything that is stored or compared across runs.
"""

from __future__ import annotations

import numpy as np

U64 = np.uint64
_GOLDEN = U64(0x9E3779B97F4A7C15)  # 2^64 / phi: the usual odd constant for Weyl sequences


def mix64(h: np.ndarray) -> np.ndarray:
    """The splitmix64 finalizer, in place: every input bit flips each output bit with
    probability ~1/2, which turns cheap linear combinations into well-spread hashes."""
    h ^= h >> U64(30)
    h *= U64(0xBF58476D1CE4E5B9)
    h ^= h >> U64(27)
    h *= U64(0x94D049BB133111EB)
    h ^= h >> U64(31)
    return h


def derive_keys(seed: int, purpose: int, count: int) -> np.ndarray:
    """``count`` independent 64-bit keys for one ``purpose`` (a small constant per use
    site), so that different stages seeded with the same ``seed`` stay uncorrelated."""
    base = np.arange(1, count + 1, dtype=U64) * _GOLDEN
    base ^= U64((seed * 0x100000001B3 + purpose) & 0xFFFFFFFFFFFFFFFF)
    return mix64(mix64(base))


def to_range(h: np.ndarray, n: int) -> np.ndarray:
    """Map uniform 64-bit hashes onto ``[0, n)`` by multiply-shift on their top 32 bits
    (bias below n / 2^32, unlike a modulo of a small range); for a power of two that is
    just the top bits."""
    if n & (n - 1) == 0:
        return h >> U64(64 - (n.bit_length() - 1))
    return ((h >> U64(32)) * U64(n)) >> U64(32)
