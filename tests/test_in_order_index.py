"""The generation's own near-duplicate check answers as the population's index would."""

from __future__ import annotations

import numpy as np

from genetic_instruct.dedup import NearDuplicateIndex
from genetic_instruct.dedup.in_order import InOrderIndex, Sketch


def test_checked_one_by_one_it_answers_as_the_index_holding_the_kept_ones() -> None:
    """Random signatures with near-copies (a few positions changed), exact copies and a
    crowded bucket (100 items sharing one band, so the first 64 are all a lookup sees):
    item by item, 'copies a kept one' is the same from both, and so is what is kept."""
    rng = np.random.default_rng(3)
    index = NearDuplicateIndex(workers=1)
    base = rng.integers(0, 2**16, (300, index.num_perm), dtype=np.uint16)
    base[100:200, : index.rows_per_band] = base[100, : index.rows_per_band]  # one crowded band
    items = [base[i] for i in range(300)]
    for source in rng.integers(0, 300, 200).tolist():
        copy = base[source].copy()
        changed = rng.choice(index.num_perm, int(rng.integers(0, 120)), replace=False)
        copy[changed] = rng.integers(0, 2**16, changed.size, dtype=np.uint16)
        items.append(copy)
    order = rng.permutation(len(items))
    signatures = np.stack([items[i] for i in order])
    keys = index.band_keys(signatures)
    small = InOrderIndex(index)
    found = []
    for n, (signature, row) in enumerate(zip(signatures, keys.tolist())):
        expected = index.query(signature[None, :])[0] is not None
        assert small.copies(Sketch(signature, tuple(row))) == expected, n
        found.append(expected)
        if not expected:
            index.add([str(n)], signature[None, :])
            small.add(Sketch(signature, tuple(row)))
    assert len(small) == len(index) and 0 < found.count(True) < len(found)
