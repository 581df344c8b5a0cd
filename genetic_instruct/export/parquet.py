"""The dataset as Parquet shards (`export.format=parquet`), the way Hub datasets ship.

Shards of `export.rows_per_shard` rows go beside `export.path`, named as the Hub names them
(`train-00000-of-00008.parquet` for `export.path=.../train.parquet`), so that
`datasets.load_dataset("parquet", data_files=...)` reads them as one table with the JSONL
export's columns. All shards share one schema, inferred over the whole export first:
nested lineage fields (scores, execution) are null in some records and not in others, and
shards inferred alone would disagree. Each shard is written atomically (files/atomic.py),
and shards an earlier, larger export left are removed. The schema carries `written_by` so
that a later export knows the files are ours.

A Parquet file cannot be appended to, but the population only grows: a full shard never
changes. So the run's export after a generation (`kept`: the full shards it confirmed)
writes only the last, partial shard and the new ones, renaming the full ones when the
shard count in their names changes (a rename, not a rewrite: rewriting 8 shards took
253 s at 800k records). Unless the new rows need another schema (a column whose values
were all null gets a type, a new column): then all shards are written again, as the
`export` command always does.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from genetic_instruct.errors import ConfigError
from genetic_instruct.files.atomic import atomic_file
from genetic_instruct.files.ownership import PARQUET_OWNER, is_ours, refuse_foreign

T = TypeVar("T")

_BATCH = 10_000  # rows converted to Arrow at once: bounded memory, little per-call overhead


def shard_names(path: str | Path, count: int, rows_per_shard: int) -> list[str]:
    """The file names of an export of `count` rows (at least one shard, even if empty)."""
    stem = Path(path).stem
    total = max(1, -(-count // rows_per_shard))
    return [f"{stem}-{i:05d}-of-{total:05d}.parquet" for i in range(total)]


class Written(NamedTuple):
    """Shards 0..full-1 hold `rows_per_shard` rows each, the last at population position
    `seq`; the rows after it, up to position `last`, are in shard `full` (when last > seq)."""

    full: int
    seq: int
    last: int


NOTHING = Written(0, 0, 0)

# The samples after a population position, each with its position.
SamplesAfter = Callable[[int], Iterable[tuple[int, dict[str, Any]]]]


def write_parquet(
    samples_after: SamplesAfter, path: str | Path, rows_per_shard: int, kept: Written = NOTHING
) -> tuple[int, Written]:
    """Write the samples as shards beside `path`: all of them, or, after an export that
    wrote `kept` with the same rows per shard, the samples after `kept.last` (read from
    `samples_after`, called twice: schema, then rows) added to its partial shard, which
    is read back. Return how many rows the shards hold and what they are now."""
    pa, pq = _pyarrow()
    folder, stem = Path(path).parent, Path(path).stem
    folder.mkdir(parents=True, exist_ok=True)
    old = [_shard(folder, stem, i) for i in range(kept.full + (kept.last > kept.seq))]
    if None in old:
        kept = NOTHING
    schema, count = _schema(pa, (sample for _, sample in samples_after(kept.last)))
    partial = None
    if old and kept != NOTHING:
        theirs = pq.read_schema(old[0])
        if pa.unify_schemas([theirs, schema], promote_options="permissive").equals(
            theirs, check_metadata=False
        ):
            schema = theirs
            partial = pq.read_table(old[-1]) if kept.last > kept.seq else None
        else:  # the new rows need another schema: every shard again
            kept = NOTHING
            schema, count = _schema(pa, (sample for _, sample in samples_after(0)))
    count += kept.full * rows_per_shard + (partial.num_rows if partial is not None else 0)
    shards = [folder / name for name in shard_names(path, count, rows_per_shard)]
    refuse_foreign([(shard, "export.path") for shard in shards[kept.full :]])
    for source, shard in zip(old[: kept.full], shards):
        if source != shard:
            os.replace(source, shard)  # type: ignore[arg-type]  # None was ruled out above
    schema = schema.with_metadata(PARQUET_OWNER)
    rows = iter(samples_after(kept.last))
    now = kept
    for i, shard in enumerate(shards[kept.full :], start=kept.full):
        held, last = 0, now.last
        with atomic_file(shard) as out, pq.ParquetWriter(out, schema) as writer:
            if partial is not None and i == kept.full:
                writer.write_table(partial)
                held = partial.num_rows
            for batch in _batches(islice(rows, rows_per_shard - held)):
                writer.write_table(pa.Table.from_pylist([s for _, s in batch], schema=schema))
                held, last = held + len(batch), batch[-1][0]
        now = Written(i + 1, last, last) if held == rows_per_shard else now._replace(last=last)
    _remove_stale(folder, stem, {shard.name for shard in shards})
    return count, now


def _shard(folder: Path, stem: str, i: int) -> Path | None:
    """Shard i of an earlier export, whatever shard count its name says (ours only)."""
    found = sorted(folder.glob(f"{stem}-{i:05d}-of-*.parquet"))
    return found[0] if found and is_ours(found[0]) else None


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


def _batches(rows: Iterator[T]) -> Iterator[list[T]]:
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
