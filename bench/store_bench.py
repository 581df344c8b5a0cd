"""Run state at 800k: commit cost per generation, resume time, disk per record.

Builds a run directory of `--size` synthetic individuals (realistic lengths: ~120-word
instructions, ~40-line solutions, lineage, 512-byte dedup signatures) in generation-sized
commits through RunStore, timing each commit; then, in a fresh process, times what a
resume does before the first new request: open the store, check the config, read ids and
signatures, rebuild the dedup index from the stored signatures (no text is re-hashed),
and bring the export up to date.

    python bench/store_bench.py --size 800000 --per-generation 10000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from genetic_instruct.individual import Individual, content_id

WORDS = (
    "list string integer matrix graph tree queue stack interval prefix window palindrome "
    "frequency median parity prime divisor path cycle component bracket token parser date "
    "ledger schedule cache buffer stream iterator diagonal spiral rotation bitmask checksum"
).split()


def synthetic_generation(
    rng: np.random.Generator, generation: int, n: int, start: int, num_perm: int
) -> tuple[list[Individual], np.ndarray]:
    individuals = []
    for i in range(n):
        words = " ".join(rng.choice(WORDS, size=120))
        instruction = f"Task {start + i}: write `solve_{start + i}(data)` using {words}."
        solution = "\n".join(f"    line_{k} = data[{k}] * {k}" for k in range(40))
        individuals.append(
            Individual(
                id=content_id(instruction),
                instruction=instruction,
                solution=f"def solve(data):\n{solution}\n    return data",
                origin="crossover",
                generation=generation,
                parents=("p1", "p2", "p3"),
                colony=i % 8,
                models={"instructor": "m", "coder": "m", "judge": "m"},
                prompt_hashes={"instructor": "a1b2c3", "coder": "d4e5f6", "judge": "0a0b0c"},
                scores={"correctness": 8.0, "quality": 7.0},
                fitness=7.6,
                rationale="Clear and correct.",
            )
        )
    signatures = rng.integers(0, 2**16, size=(n, num_perm), dtype=np.uint16)
    return individuals, signatures


def build(run_dir: Path, size: int, per_generation: int) -> list[dict[str, float]]:
    from genetic_instruct.cli.composition import to_config  # noqa: F401  (registers configs)
    from genetic_instruct.dedup import NearDuplicateIndex
    from genetic_instruct.run.compatibility import check_resume
    from genetic_instruct.state.generation_stats import GenerationStats
    from genetic_instruct.state.store import RunStore

    cfg = _config(run_dir)
    store = RunStore(run_dir)
    check_resume(store, cfg)
    num_perm = NearDuplicateIndex(num_perm=cfg.dedup.num_perm).num_perm
    rng = np.random.default_rng(0)
    rows = []
    made = 0
    generation = 0
    while made < size:
        n = min(per_generation, size - made)
        individuals, signatures = synthetic_generation(rng, generation, n, made, num_perm)
        start = time.perf_counter()
        store.commit_generation(
            GenerationStats(generation, tried=n, accepted=n), individuals, signatures
        )
        rows.append({"population_before": made, "new": n, "commit_s": time.perf_counter() - start})
        made += n
        generation += 1
    store.close()
    return rows


def _config(run_dir: Path):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.conftest import make_config

    return make_config("engine=scripted", f"run_dir={run_dir}", "progress=false")


def resume(run_dir: Path) -> dict[str, float]:
    """What `run` does on a resume before the first request, timed step by step."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    from genetic_instruct.console.display import RunDisplay
    from genetic_instruct.dedup.from_config import build_index
    from genetic_instruct.evolution.fitness import fitness_gate
    from genetic_instruct.evolution.loop import Evolution
    from genetic_instruct.executors.local import EnginePool
    from genetic_instruct.export.dataset import sync_export
    from genetic_instruct.run.compatibility import check_resume
    from genetic_instruct.run.generations import restore_index
    from genetic_instruct.state.store import RunStore

    cfg = _config(run_dir)
    timings["imports_and_config_s"] = time.perf_counter() - t0
    t = time.perf_counter()
    store = RunStore(run_dir)
    check_resume(store, cfg)
    timings["open_and_check_s"] = time.perf_counter() - t
    t = time.perf_counter()
    index = build_index(cfg)
    restore_index(store, index)
    timings["dedup_restore_s"] = time.perf_counter() - t
    t = time.perf_counter()
    Evolution(cfg, store, EnginePool(cfg), RunDisplay(False), index, fitness_gate(cfg, None))
    timings["population_view_s"] = time.perf_counter() - t
    t = time.perf_counter()
    sync_export(store, cfg.export.path, cfg.export.include_seeds)
    timings["export_sync_s"] = time.perf_counter() - t
    timings["resume_total_s"] = time.perf_counter() - t0
    timings["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=800_000)
    parser.add_argument("--per-generation", type=int, default=10_000)
    parser.add_argument("--run-dir", default="/tmp/gi-store-bench")
    parser.add_argument("--resume-only", action="store_true")
    args = parser.parse_args()
    run_dir = Path(args.run_dir)
    if args.resume_only:
        print(json.dumps(resume(run_dir)))
        return
    if run_dir.exists():
        subprocess.run(["rm", "-rf", str(run_dir)], check=True)
    rows = build(run_dir, args.size, args.per_generation)
    db = run_dir / "state.sqlite"
    size_bytes = sum(p.stat().st_size for p in run_dir.glob("state.sqlite*"))
    first_export = json.loads(
        subprocess.run(
            [sys.executable, __file__, "--resume-only", "--run-dir", str(run_dir)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    second = json.loads(
        subprocess.run(
            [sys.executable, __file__, "--resume-only", "--run-dir", str(run_dir)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    marks = [
        r for r in rows if r["population_before"] in {0, 100_000, 400_000, 790_000} or r is rows[-1]
    ]
    print(f"records: {args.size}, per generation: {args.per_generation}, db: {db}")
    print(f"disk: {size_bytes / 2**20:.0f} MiB, {size_bytes / args.size:.0f} bytes/record")
    for r in marks:
        print(
            f"commit of {r['new']} new at population {r['population_before']:>7}: "
            f"{r['commit_s'] * 1000:.0f} ms"
        )
    print("first resume (writes the 800k export):", json.dumps(first_export))
    print("second resume (export already up to date):", json.dumps(second))
    print(f"dataset: {os.path.getsize(run_dir / 'dataset.jsonl') / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
