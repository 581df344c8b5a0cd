"""Dedup buckets sharded over Ray actors: throughput and memory per shard for 1, 2, 4.

Grows an index of `--size` random signatures a generation (`--per-generation`) at a
time, the loop's way (the population check of the generation's rows, then adding them),
with the buckets in this process and sharded by band over 1, 2 and 4 Ray actors on a
local Ray cluster, and reports the rows checked and added per second and the bucket
bytes each actor holds at the end. The decisions are the same in every case
(tests/test_ray_dedup.py); the driver keeps signatures, verification and decisions.
Then it times what a run's start does with dedup.ray_shards: a new index, its shards
rebuilt from all `--size` signatures in the store's batches (in process, the same
rebuild is what a run does when run_dir/dedup-index is missing; a resume loads it).

    .venv/bin/python -m bench.ray_dedup_bench --size 1000000
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator

import numpy as np
import ray

from genetic_instruct.dedup import NearDuplicateIndex
from genetic_instruct.dedup.index import BUCKET_CAP
from genetic_instruct.executors.ray_dedup import RayBucketShards

RESTORE_BATCH = 1 << 16  # the rows RunStore.signature_batches yields at a time


def signatures(size: int, batch: int, num_perm: int) -> Iterator[tuple[list[str], np.ndarray]]:
    """The same `size` random signatures (ids, rows) every time, `batch` at a time."""
    rng = np.random.default_rng(11)
    for n in range(0, size, batch):
        sigs = rng.integers(0, 2**16, (min(batch, size - n), num_perm), dtype=np.uint16)
        yield [f"{i:016x}" for i in range(n, n + len(sigs))], sigs


def grow(index: NearDuplicateIndex, size: int, per_generation: int) -> float:
    """Rows per second through query + add, over the whole growth."""
    started = time.perf_counter()
    for ids, sigs in signatures(size, per_generation, index.num_perm):
        index.query(sigs)
        index.add(ids, sigs)
    return size / (time.perf_counter() - started)


def rebuild(index: NearDuplicateIndex, size: int) -> float:
    """Seconds to add `size` signatures in the store's batches (their making not counted)."""
    seconds = 0.0
    for ids, sigs in signatures(size, RESTORE_BATCH, index.num_perm):
        started = time.perf_counter()
        index.add(ids, sigs)
        seconds += time.perf_counter() - started
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--per-generation", type=int, default=20_000)
    args = parser.parse_args()
    print("| buckets | rows/s (query + add) | bucket bytes per shard at the end | rebuild |")
    print("| --- | ---: | --- | ---: |")
    rate = grow(NearDuplicateIndex(workers=1), args.size, args.per_generation)
    seconds = rebuild(NearDuplicateIndex(workers=1), args.size)
    print(f"| this process | {rate:,.0f} | | {seconds:.1f} s |", flush=True)
    ray.init(address="local", include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    for shards in (1, 2, 4):
        buckets = RayBucketShards(shards, BUCKET_CAP, num_cpus=0)
        rate = grow(NearDuplicateIndex(workers=1, buckets=buckets), args.size, args.per_generation)
        sizes = ", ".join(f"{b / 2**20:,.0f} MiB" for b in buckets.per_shard_nbytes())
        buckets.close()
        buckets = RayBucketShards(shards, BUCKET_CAP, num_cpus=0)
        seconds = rebuild(NearDuplicateIndex(workers=1, buckets=buckets), args.size)
        buckets.close()
        print(f"| {shards} Ray actor(s) | {rate:,.0f} | {sizes} | {seconds:.1f} s |", flush=True)
    ray.shutdown()


if __name__ == "__main__":
    main()
