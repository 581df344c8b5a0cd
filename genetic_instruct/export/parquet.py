"""The dataset as Parquet shards (`export.format=parquet`), the way Hub datasets ship.

Shards of `export.rows_per_shard` rows go beside `export.path`, named as the Hub names them
(`train-00000-of-00008.parquet` for `export.path=.../train.parquet`), so that
`datasets.load_dataset("parquet", data_files=...)` reads them as one table with the JSONL
export's columns. All shards share one schema, inferred over the whole export first:
nested lineage fields (scores, execution) are null in some records and not in others, and
shards inferred alone would disagree. Parquet cannot be appended to, so every export
rewrites the shards (bench/RESULTS.md: the cost at 800k records); each is written
atomically (files/atomic.py), and shards an earlier, larger export left are removed. The schema
carries `written_by` so that a later export knows the files are ours.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from genetic_instruct.errors import ConfigError
from genetic_instruct.files.atomic import atomic_file
from genetic_instruct.files.ownership import PARQUET_OWNER, refuse_foreign

_BATCH = 10_000  # rows converted to Arrow at once: bounded memory, little per-call overhead


def shard_names(path: str | Path, count: int, rows_per_shard: int) -> list[str]:
    """The file names of an export of `count` rows (at least one shard, even if empty)."""
    stem = Path(path).stem
    total = max(1, -(-count // rows_per_shard))
    return [f"{stem}-{i:05d}-of-{total:05d}.parquet" for i in range(total)]


def write_parquet(
    samples: Callable[[], Iterable[dict[str, Any]]], path: str | Path, rows_per_shard: int
) -> int:
    """Write the samples (`samples()` is called twice: schema, then rows) as shards beside
    `path`; return how many rows were written."""
    pa, pq = _pyarrow()
    schema, count = _schema(pa, samples())
    folder = Path(path).parent
    folder.mkdir(parents=True, exist_ok=True)
    shards = [folder / name for name in shard_names(path, count, rows_per_shard)]
    refuse_foreign([(shard, "export.path") for shard in shards])
    schema = schema.with_metadata(PARQUET_OWNER)
    rows = iter(samples())
    for shard in shards:
        with atomic_file(shard) as out, pq.ParquetWriter(out, schema) as writer:
            for batch in _batches(islice(rows, rows_per_shard)):
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
    _remove_stale(folder, Path(path).stem, {s.name for s in shards})
    return count


def _schema(pa: Any, samples: Iterable[dict[str, Any]]) -> tuple[Any, int]:
    """One schema for every row (each batch's inferred schema, unified: nulls promoted),
    and the number of rows."""
    schemas, count = [], 0
    for batch in _batches(iter(samples)):
        schemas.append(pa.Table.from_pylist(batch).schema)
        count += len(batch)
    if not schemas:
        return pa.schema([]), 0
    return pa.unify_schemas(schemas, promote_options="permissive"), count


def _batches(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    while batch := list(islice(rows, _BATCH)):
        yield batch


def _remove_stale(folder: Path, stem: str, current: set[str]) -> None:
    """Shards of an earlier export with another shard count (ours only: checked first)."""
    stale = [p for p in folder.glob(f"{stem}-*-of-*.parquet") if p.name not in current]
    refuse_foreign([(p, "export.path") for p in stale])
    for path in stale:
        path.unlink()


def _pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ConfigError(
            "config key export.format: parquet needs pyarrow: "
            "pip install 'genetic-instruct[parquet]'"
        ) from None
    return pa, pq
