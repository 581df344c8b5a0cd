"""The dedup buckets sharded by band over Ray actors decide exactly as one process does."""

from __future__ import annotations

import numpy as np
import pytest

from bench.synthetic_corpus import SyntheticCorpus
from genetic_instruct.dedup import NearDuplicateIndex
from genetic_instruct.dedup.index import BUCKET_CAP

ray = pytest.importorskip("ray")
from genetic_instruct.executors.ray_dedup import RayBucketShards  # noqa: E402  (needs Ray)

pytestmark = pytest.mark.usefixtures("local_ray")


def _decisions(index: NearDuplicateIndex, batches: list[list[str]]) -> list[object]:
    """What the loop asks, batch by batch: the population hit, the batch copy, who is kept."""
    signer = NearDuplicateIndex(workers=1)
    made = []
    for number, texts in enumerate(batches):
        sigs = signer.signatures(texts)
        hits = index.query(sigs)
        fresh = [i for i, hit in enumerate(hits) if hit is None]
        copies = index.within_batch(sigs[fresh])
        keep = [fresh[j] for j, copy in enumerate(copies) if copy is None]
        index.add([f"{number}-{i}" for i in keep], sigs[keep])
        made.append((hits, copies, keep))
    return made


@pytest.mark.parametrize("shards", [2, 4])
def test_sharded_buckets_decide_as_one_process(shards: int) -> None:
    corpus = SyntheticCorpus(2400, dup_share=0.4, seed=3)
    texts = corpus.texts(0, corpus.size)
    batches = [texts[i : i + 600] for i in range(0, len(texts), 600)]
    want = _decisions(NearDuplicateIndex(workers=1), batches)
    assert any(hit is not None for hits, _, _ in want for hit in hits)

    buckets = RayBucketShards(shards, BUCKET_CAP, num_cpus=0)
    try:
        sharded = NearDuplicateIndex(workers=1, buckets=buckets)
        assert _decisions(sharded, batches) == want
        assert len(buckets) == 36 * len(sharded)
        assert all(size > 0 for size in buckets.per_shard_nbytes())
    finally:
        buckets.close()


def test_buckets_elsewhere_are_not_kept_in_a_directory(tmp_path: object) -> None:
    buckets = RayBucketShards(1, BUCKET_CAP, num_cpus=0)
    try:
        with pytest.raises(ValueError, match="directory"):
            NearDuplicateIndex(buckets=buckets, directory=tmp_path)  # type: ignore[arg-type]
    finally:
        buckets.close()
    assert np.dtype(NearDuplicateIndex.signature_dtype) == np.dtype("<u2")
