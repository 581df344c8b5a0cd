"""Near-duplicate detection with MinHash LSH, vectorized for a population of ~800k texts.

The one name the loop needs is :class:`NearDuplicateIndex`; the modules behind it each
hold one step: :mod:`.shingles` (text to shingle hashes), :mod:`.minhash` (signatures),
:mod:`.banding` (LSH band choice and keys), :mod:`.buckets` (the hash table) and
:mod:`.parallel` (blocks of rows on several cores). The labelled corpus that measures
quality and speed is a benchmark's: bench/synthetic_corpus.py.
"""

from genetic_instruct.dedup.index import NearDuplicateIndex

__all__ = ["NearDuplicateIndex"]
