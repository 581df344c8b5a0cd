"""Dedup buckets sharded over Ray actors: throughput and memory per shard for 1, 2, 4.

Grows an index of `--size` random signatures a generation (`--per-generation`) at a
time, the loop's way (the population check of the generation's rows, then adding them),
with the buckets in this process and sharded by band over 1, 2 and 4 Ray actors on a
local Ray cluster, and reports the rows checked and added per second and the bucket
bytes each actor holds at the end. The decisions are the same in every case
(tests/test_ray_dedup.py); the driver keeps signatures, verification and decisions.

    .venv/bin/python -m bench.ray_dedup_bench --size 1000000
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import ray

from genetic_instruct.dedup import NearDuplicateIndex
from genetic_instruct.dedup.index import BUCKET_CAP
from genetic_instruct.executors.ray_dedup import RayBucketShards


def grow(index: NearDuplicateIndex, size: int, per_generation: int) -> float:
    """Rows per second through query + add, over the whole growth."""
    rng = np.random.default_rng(11)
    started, n = time.perf_counter(), 0
    while n < size:
        sigs = rng.integers(0, 2**16, (per_generation, index.num_perm), dtype=np.uint16)
        index.query(sigs)
        index.add([f"{i:016x}" for i in range(n, n + per_generation)], sigs)
        n += per_generation
    return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--per-generation", type=int, default=20_000)
    args = parser.parse_args()
    print("| buckets | rows/s (query + add) | bucket bytes per shard at the end |")
    print("| --- | ---: | --- |")
    rate = grow(NearDuplicateIndex(workers=1), args.size, args.per_generation)
    print(f"| this process | {rate:,.0f} | |", flush=True)
    ray.init(address="local", include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    for shards in (1, 2, 4):
        buckets = RayBucketShards(shards, BUCKET_CAP, num_cpus=0)
        rate = grow(NearDuplicateIndex(workers=1, buckets=buckets), args.size, args.per_generation)
        sizes = ", ".join(f"{b / 2**20:,.0f} MiB" for b in buckets.per_shard_nbytes())
        print(f"| {shards} Ray actor(s) | {rate:,.0f} | {sizes} |", flush=True)
        buckets.close()
    ray.shutdown()


if __name__ == "__main__":
    main()
