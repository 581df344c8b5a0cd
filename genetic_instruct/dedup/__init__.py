"""Near-duplicate detection with MinHash LSH, vectorized, for populations of 15M texts.

The one name the loop needs is :class:`NearDuplicateIndex`; the modules behind it each
hold one step: :mod:`.shingles` (text to shingle hashes), :mod:`.minhash` (signatures),
:mod:`.banding` (LSH band choice and keys), :mod:`.buckets` (sorted runs of bucket
entries), :mod:`.signature_rows` (signatures on disk), :mod:`.key_list` (packed keys) and
:mod:`.parallel` (blocks of rows on several cores). The labelled corpus that measures
quality and speed is a benchmark's: bench/synthetic_corpus.py.
"""

from genetic_instruct.dedup.index import NearDuplicateIndex

__all__ = ["NearDuplicateIndex"]
