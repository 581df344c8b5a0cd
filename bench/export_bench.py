"""The dataset at 800k as Parquet shards (export.format=parquet), and loading it back.

Builds (or reuses, with --reuse) the run directory of bench/store_bench.py: `--size`
synthetic individuals with realistic lengths. Then times `export_parquet` (two passes over
the population: one schema, then the rows, in shards of `--rows-per-shard`), reports its
peak memory and the shards' size on disk, and times `datasets.load_dataset("parquet", ...)`
reading them (its cache in a temporary folder), checking rows and columns.

From the repository root:

    nice -n 19 .venv/bin/python -m bench.export_bench --size 800000
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import shutil
import tempfile
import time
from pathlib import Path

from bench.store_bench import _config, build
from genetic_instruct.config import ExportFormat
from genetic_instruct.export.dataset import export_parquet, sample_of_record
from genetic_instruct.state.store import RunStore


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=800_000)
    parser.add_argument("--rows-per-shard", type=int, default=100_000)
    parser.add_argument("--run-dir", default="/tmp/gi-export-bench")
    parser.add_argument("--reuse", action="store_true", help="keep an existing run directory")
    args = parser.parse_args()
    run_dir = Path(args.run_dir)
    if not (args.reuse and (run_dir / "state.sqlite").is_file()):
        shutil.rmtree(run_dir, ignore_errors=True)
        start = time.perf_counter()
        build(run_dir, args.size, per_generation=10_000)
        print(f"built {args.size:,} records in {time.perf_counter() - start:.0f} s")

    cfg = _config(run_dir)
    out = run_dir / "parquet" / "train.parquet"
    export = dataclasses.replace(
        cfg.export, path=str(out), format=ExportFormat.parquet, rows_per_shard=args.rows_per_shard
    )
    with RunStore(run_dir, read_only=True) as store:
        start = time.perf_counter()
        count = export_parquet(store, export)
        seconds = time.perf_counter() - start
        first = sample_of_record(next(store.records()))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    shards = sorted(out.parent.glob("train-*.parquet"))
    size = sum(s.stat().st_size for s in shards)
    print(
        f"parquet export: {count:,} rows in {seconds:.0f} s ({count / seconds:,.0f} rows/s), "
        f"{len(shards)} shards, {size / 2**20:,.0f} MiB, peak RSS {peak_mb:,.0f} MB"
    )

    import datasets

    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        loaded = datasets.load_dataset(
            "parquet", data_files=[str(s) for s in shards], split="train", cache_dir=cache
        )
        seconds = time.perf_counter() - start
        rows, columns = loaded.num_rows, loaded.column_names
    assert rows == count, (rows, count)
    assert columns == list(first), (columns, list(first))
    print(
        f"datasets.load_dataset('parquet'): {rows:,} rows, {len(columns)} columns "
        f"(the JSONL sample's), in {seconds:.0f} s"
    )


if __name__ == "__main__":
    main()
