"""The dataset at 800k as Parquet shards (export.format=parquet), and loading it back.

Builds (or reuses, with --reuse) the run directory of bench/store_bench.py: `--size`
synthetic individuals with realistic lengths. Then times `export_parquet` (two passes over
the population: one schema, then the rows, in shards of `--rows-per-shard`), reports its
peak memory and the shards' size on disk, and times `datasets.load_dataset("parquet", ...)`
reading them (its cache in a temporary folder), checking rows and columns.

With --after-one-generation it times instead what a run pays after each generation at
that size: the JSONL dataset and the Parquet shards brought up to date (the run's own
exports, state kept in the store) once in full, then again after one more generation of
`--per-generation` records is committed.

From the repository root:

    nice -n 19 .venv/bin/python -m bench.export_bench --size 800000
    nice -n 19 .venv/bin/python -m bench.export_bench --size 800000 --after-one-generation
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.store_bench import _config, build, synthetic_generation
from genetic_instruct.config import ExportConfig, ExportFormat
from genetic_instruct.export.dataset import export_parquet, sample_of_record, sync_export
from genetic_instruct.state.generation_stats import GenerationStats
from genetic_instruct.state.store import RunStore


def after_one_generation(run_dir: Path, export: ExportConfig, per_generation: int) -> None:
    """The run's own exports brought up to date, in full and then after one generation."""
    jsonl = run_dir / "after" / "dataset.jsonl"
    parquet = dataclasses.replace(export, path=str(run_dir / "after" / "train.parquet"))
    jsonl.parent.mkdir(exist_ok=True)
    with RunStore(run_dir) as store:
        timings = []
        for step in ("full", "after one generation"):
            if step != "full":
                generation = (store.generation or 0) + 1
                made = store.population_size()
                individuals, signatures = synthetic_generation(
                    np.random.default_rng(generation), generation, per_generation, made, 256
                )
                stats = GenerationStats(generation, tried=per_generation, accepted=per_generation)
                store.commit_generation(stats, individuals, signatures)
            start = time.perf_counter()
            count = sync_export(store, jsonl, include_seeds=False)
            jsonl_s = time.perf_counter() - start
            start = time.perf_counter()
            export_parquet(store, parquet)
            timings.append((step, count, jsonl_s, time.perf_counter() - start))
    for step, count, jsonl_s, parquet_s in timings:
        print(f"{step}: {count:,} records; JSONL {jsonl_s:.1f} s, Parquet {parquet_s:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=800_000)
    parser.add_argument("--rows-per-shard", type=int, default=100_000)
    parser.add_argument("--run-dir", default="/tmp/gi-export-bench")
    parser.add_argument("--reuse", action="store_true", help="keep an existing run directory")
    parser.add_argument("--after-one-generation", action="store_true")
    parser.add_argument("--per-generation", type=int, default=20_000)
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
    if args.after_one_generation:
        after_one_generation(run_dir, export, args.per_generation)
        return
    with RunStore(run_dir, read_only=True) as store:
        start = time.perf_counter()
        count = export_parquet(store, export, whole=True)
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
