"""Near-duplicate detection with MinHash LSH, vectorized for a population of ~800k texts.

The one name the loop needs is :class:`NearDuplicateIndex`; the modules behind it each
hold one step: :mod:`.shingles` (text to shingle hashes), :mod:`.minhash` (signatures),
:mod:`.banding` (LSH band choice and keys), :mod:`.buckets` (the hash table),
:mod:`.parallel` (blocks of rows on several cores) and :mod:`.synthetic` (a labelled
corpus to measure quality and speed on).
"""

from genetic_instruct.dedup.index import NearDuplicateIndex

__all__ = ["NearDuplicateIndex"]
