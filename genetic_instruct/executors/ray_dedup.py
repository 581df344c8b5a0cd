"""The dedup index's LSH buckets sharded by band over Ray actors, for populations whose
buckets outgrow one machine (4.3 GB at 15M texts, 29 GB at 100M).

Shard ``s`` of ``n`` holds the bucket entries of bands ``s, s + n, s + 2n, ...`` in its
own `BucketRuns`, as datatrove splits MinHash buckets and NeMo Curator runs them on Ray.
Only bucket keys and item ids travel: the driver keeps the signatures, hashes the texts,
verifies the candidates and decides, in offspring order, exactly as with one process. A
bucket key lives in one band, so each key's first ``max_per_key`` ids are the same
whichever shard holds it, and the answers equal the single-process index's.

A run (dedup.ray_shards) opens its shards with `run_shards`. They keep nothing on disk:
each start rebuilds them from the signatures in the run's store, which is the truth
wherever the actors land (a shard's files on one node's disk would be out of reach of a
resume whose actor is placed on another). A shard's actor is not restarted, since a new
one would hold nothing and miss duplicates: its loss stops the run (ShardLost), and the
same command resumes it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import ray
from ray.exceptions import GetTimeoutError, RayActorError

from genetic_instruct.config import Config
from genetic_instruct.dedup.buckets import BucketRuns
from genetic_instruct.dedup.index import BUCKET_CAP
from genetic_instruct.errors import ConfigError
from genetic_instruct.executors.ray_cluster import SHARD_CPUS, join


class ShardLost(RuntimeError):
    """A dedup shard's actor was lost: its buckets are gone, so the run cannot go on."""


class BucketShard:
    """One actor's share of the buckets."""

    def __init__(self, max_per_key: int) -> None:
        self.runs = BucketRuns(max_per_key=max_per_key)

    def insert(self, keys: np.ndarray, first_id: int) -> None:
        self.runs.insert(keys, first_id)

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.runs.lookup(keys)

    def nbytes(self) -> int:
        return self.runs.nbytes

    def size(self) -> int:
        return len(self.runs)

    def clear(self) -> None:
        self.runs.clear()


class RayBucketShards:
    """`dedup.buckets.Buckets` over ``shards`` actors on the connected Ray cluster."""

    def __init__(self, shards: int, max_per_key: int, num_cpus: float = 1.0) -> None:
        if shards < 1:
            raise ValueError(f"shards must be >= 1, got {shards}")
        self.max_per_key = max_per_key
        # SPREAD: on a cluster the shards' memory lands on as many nodes as it can.
        actor: Any = ray.remote(num_cpus=num_cpus, scheduling_strategy="SPREAD")(BucketShard)
        self.actors = [actor.remote(max_per_key) for _ in range(shards)]

    def __len__(self) -> int:
        return sum(self._get([a.size.remote() for a in self.actors]))

    @property
    def nbytes(self) -> int:
        """Bytes held by all shards together (each in its own worker process)."""
        return sum(self.per_shard_nbytes())

    def per_shard_nbytes(self) -> list[int]:
        return list(self._get([a.nbytes.remote() for a in self.actors]))

    def insert(self, keys: np.ndarray, first_id: int) -> None:
        self._get([a.insert.remote(self._bands_of(keys, s), first_id) for s, a in self._shards()])

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``keys`` is (rows, bands); positions are in it flattened, as `BucketRuns`'s."""
        n, bands = len(self.actors), keys.shape[1]
        answers = self._get(
            [
                a.lookup.remote(np.ascontiguousarray(keys[:, s::n]))
                for s, a in enumerate(self.actors)
            ]
        )
        positions, ids = [], []
        for s, (found, items) in enumerate(answers):
            shard_bands = len(range(s, bands, n))
            row, column = np.divmod(found, shard_bands)
            positions.append(row * bands + s + column * n)
            ids.append(items)
        return np.concatenate(positions), np.concatenate(ids)

    def clear(self) -> None:
        self._get([a.clear.remote() for a in self.actors])

    def placed(self, timeout_s: float) -> bool:
        """Whether every shard's actor is up within ``timeout_s`` (False: the cluster
        has no room for them)."""
        try:
            ray.get([a.size.remote() for a in self.actors], timeout=timeout_s)
        except GetTimeoutError:
            return False
        return True

    def _get(self, refs: list[Any]) -> list[Any]:
        """The shards' answers; a lost actor is a ShardLost naming the way out."""
        try:
            return list(ray.get(refs))
        except RayActorError as error:
            raise ShardLost(
                f"a dedup shard's Ray actor was lost ({type(error).__name__}); the population "
                "is in the run's store: running the same command again resumes the run and "
                "rebuilds the shards from it"
            ) from error

    def _shards(self) -> list[tuple[int, Any]]:
        return list(enumerate(self.actors))

    def _bands_of(self, keys: np.ndarray, shard: int) -> np.ndarray:
        """The columns of ``keys`` (rows x bands) that shard ``shard`` holds."""
        return np.ascontiguousarray(keys[:, shard :: len(self.actors)])

    def close(self) -> None:
        for a in self.actors:
            ray.kill(a)


@contextmanager
def run_shards(cfg: Config) -> Iterator[RayBucketShards]:
    """The run's dedup.ray_shards shards, empty, on the cluster executor.* reaches (Ray
    started here without executor.address), ended after the block with Ray if it started
    it here. Not placed within executor.start_timeout_s is a ConfigError naming the key."""
    started = join(cfg)
    shards = RayBucketShards(cfg.dedup.ray_shards, BUCKET_CAP, num_cpus=SHARD_CPUS)
    try:
        timeout = cfg.executor.start_timeout_s
        if not shards.placed(timeout):
            raise ConfigError(
                f"config key dedup.ray_shards: {cfg.dedup.ray_shards} shard actors asking "
                f"for {SHARD_CPUS:g} CPU each were not placed within {timeout:g} s "
                f"(executor.start_timeout_s); the cluster has {ray.cluster_resources()}"
            )
        yield shards
    finally:
        shards.close()
        if started:
            ray.shutdown()
