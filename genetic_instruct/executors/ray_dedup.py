"""The dedup index's LSH buckets sharded by band over Ray actors, for populations whose
buckets outgrow one machine (4.3 GB at 15M texts, 29 GB at 100M).

Shard ``s`` of ``n`` holds the bucket entries of bands ``s, s + n, s + 2n, ...`` in its
own `BucketRuns`, as datatrove splits MinHash buckets and NeMo Curator runs them on Ray.
Only bucket keys and item ids travel: the driver keeps the signatures, hashes the texts,
verifies the candidates and decides, in offspring order, exactly as with one process. A
bucket key lives in one band, so each key's first ``max_per_key`` ids are the same
whichever shard holds it, and the answers equal the single-process index's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import ray

from genetic_instruct.dedup.buckets import BucketRuns


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
        actor: Any = ray.remote(num_cpus=num_cpus)(BucketShard)
        self.actors = [actor.remote(max_per_key) for _ in range(shards)]

    def __len__(self) -> int:
        return sum(ray.get([a.size.remote() for a in self.actors]))

    @property
    def nbytes(self) -> int:
        """Bytes held by all shards together (each in its own worker process)."""
        return sum(self.per_shard_nbytes())

    def per_shard_nbytes(self) -> list[int]:
        return list(ray.get([a.nbytes.remote() for a in self.actors]))

    def insert(self, keys: np.ndarray, first_id: int) -> None:
        ray.get([a.insert.remote(self._bands_of(keys, s), first_id) for s, a in self._shards()])

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``keys`` is (rows, bands); positions are in it flattened, as `BucketRuns`'s."""
        n, bands = len(self.actors), keys.shape[1]
        answers = ray.get(
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
        ray.get([a.clear.remote() for a in self.actors])

    def _shards(self) -> list[tuple[int, Any]]:
        return list(enumerate(self.actors))

    def _bands_of(self, keys: np.ndarray, shard: int) -> np.ndarray:
        """The columns of ``keys`` (rows x bands) that shard ``shard`` holds."""
        return np.ascontiguousarray(keys[:, shard :: len(self.actors)])

    def close(self) -> None:
        for a in self.actors:
            ray.kill(a)
