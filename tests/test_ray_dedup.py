"""The dedup buckets sharded by band over Ray actors decide exactly as one process does."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from bench.synthetic_corpus import SyntheticCorpus
from genetic_instruct.config import Config
from genetic_instruct.dedup import NearDuplicateIndex
from genetic_instruct.dedup.index import BUCKET_CAP
from genetic_instruct.errors import ConfigError
from genetic_instruct.run.generations import DEDUP_DIRECTORY
from genetic_instruct.run.job import run
from genetic_instruct.state.store import RunStore

from .conftest import dataset_records, make_config

ray = pytest.importorskip("ray")
from genetic_instruct.executors.ray_dedup import (  # noqa: E402  (needs Ray)
    RayBucketShards,
    ShardLost,
    run_shards,
)

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


def test_a_lost_shard_stops_the_index_instead_of_missing_duplicates() -> None:
    buckets = RayBucketShards(2, BUCKET_CAP, num_cpus=0)
    index = NearDuplicateIndex(workers=1, buckets=buckets)
    sigs = index.signatures(["def add(a, b): return a + b", "print('hello')"])
    index.add(["a", "b"], sigs)
    ray.kill(buckets.actors[1])
    try:
        with pytest.raises(ShardLost, match="running the same command again resumes"):
            index.query(sigs)
    finally:
        buckets.close()


def _run(run_dir: Path, *overrides: str) -> Config:
    """A small scripted run in `run_dir` whose Instructor often copies a parent's task (so
    the population check has near-duplicates to find); its engine logs every request."""
    cfg = make_config(
        "engine=scripted",
        "progress=false",
        "evolution.target_size=1000",
        "evolution.offspring_per_colony=10",
        "models.default.engine_args.copy_rate=0.3",
        "execution.enabled=false",  # what the shards decide comes before any code
        f"run_dir={run_dir}",
        f"+models.default.engine_args.request_log={run_dir}.requests",
        *overrides,
    )
    run(cfg)
    return cfg


def test_a_run_with_sharded_buckets_makes_the_same_dataset_and_resumes(tmp_path: Path) -> None:
    """dedup.ray_shards=2 against the buckets in process, same seed: the same records, also
    after a resume (which rebuilds the shards from the store and asks for nothing again)."""
    whole = _run(tmp_path / "in-process", "evolution.max_generations=3")
    sharded = tmp_path / "sharded"
    _run(sharded, "evolution.max_generations=2", "dedup.ray_shards=2")
    cfg = _run(sharded, "evolution.max_generations=3", "dedup.ray_shards=2")

    assert dataset_records(Path(cfg.export.path)) == dataset_records(Path(whole.export.path))
    store = RunStore(cfg.run_dir)
    try:
        assert store.generation == 3
        rejected = sum((s.rejected for s in store.generation_stats()), Counter())
    finally:
        store.close()
    assert rejected["near_duplicate_population"] > 0  # the shards were asked, and answered
    sent = Path(f"{sharded}.requests").read_text().splitlines()
    assert len(sent) == len(set(sent))  # the resume repeated no request
    assert not (sharded / DEDUP_DIRECTORY).exists()  # nothing of the shards on disk


def test_shards_the_cluster_cannot_place_are_named_by_their_key() -> None:
    cfg = make_config("engine=scripted", "dedup.ray_shards=8", "executor.start_timeout_s=1")
    with pytest.raises(ConfigError, match=r"config key dedup.ray_shards: 8 shard actors"):
        with run_shards(cfg):
            pass
