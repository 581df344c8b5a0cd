"""numpy's SeedSequence, for many entropies at once that differ in one word.

A request's seed is `SeedSequence([run seed, generation, role, index, ...])`'s first state
word (requests.py): one SeedSequence object a request cost 7% of the loop's time at 800k.
Its mixing is a fixed sequence of 32-bit multiplies, shifts and xors whose constants do not
depend on the entropy, so the seeds of a whole block of indexes are one pass of numpy
arithmetic over an array. The algorithm is numpy's (numpy/random/bit_generator.pyx,
pool size 4); tests/test_requests.py checks the words equal SeedSequence's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_MASK = np.uint64(0xFFFFFFFF)
_INIT_A, _MULT_A = 0x43B0D7E5, 0x931E8875
_INIT_B, _MULT_B = 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R = np.uint64(0xCA01F9DD), np.uint64(0x4973F715)
_POOL = 4
_SHIFT = np.uint64(16)


def words(values: Sequence[int]) -> list[int]:
    """The entropy as SeedSequence reads it: each non-negative integer as 32-bit words,
    least significant first (0 is one word)."""
    out: list[int] = []
    for value in values:
        if value < 0:
            raise ValueError(f"entropy must be non-negative, got {value}")
        out.append(value & 0xFFFFFFFF)
        value >>= 32
        while value:
            out.append(value & 0xFFFFFFFF)
            value >>= 32
    return out


def first_words(before: Sequence[int], varying: np.ndarray, after: Sequence[int]) -> np.ndarray:
    """`SeedSequence([*before, v, *after]).generate_state(1)[0]` for each v of `varying`
    (each below 2**32), as uint32."""
    entropy: list[np.ndarray] = [
        *(np.full(varying.shape, w, np.uint64) for w in words(before)),
        varying.astype(np.uint64),
        *(np.full(varying.shape, w, np.uint64) for w in words(after)),
    ]
    h = _INIT_A

    def hashmix(value: np.ndarray) -> np.ndarray:
        nonlocal h
        value = value ^ np.uint64(h)
        h = (h * _MULT_A) & 0xFFFFFFFF
        value = (value * np.uint64(h)) & _MASK
        return value ^ (value >> _SHIFT)

    def mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        result = (_MIX_L * x - _MIX_R * y) & _MASK
        return result ^ (result >> _SHIFT)

    zero = np.zeros(varying.shape, np.uint64)
    pool = [hashmix(entropy[i] if i < len(entropy) else zero) for i in range(_POOL)]
    for source in range(_POOL):
        for target in range(_POOL):
            if source != target:
                pool[target] = mix(pool[target], hashmix(pool[source]))
    for source in range(_POOL, len(entropy)):
        for target in range(_POOL):
            pool[target] = mix(pool[target], hashmix(entropy[source]))
    value = (pool[0] ^ np.uint64(_INIT_B)) * np.uint64((_INIT_B * _MULT_B) & 0xFFFFFFFF) & _MASK
    return (value ^ (value >> _SHIFT)).astype(np.uint32)
