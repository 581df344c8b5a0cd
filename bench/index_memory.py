"""Where the dedup index's bytes go as a population grows, and what reopening it costs.

Grows a `NearDuplicateIndex` the way the loop does (a generation's survivors added at a
time, ids the 16-hex-digit content ids of `individual.content_id`, kept in a directory
as the run keeps it) with random signatures, and prints at each mark the resident
memory of the process and the bytes of each part: bucket entries, signatures in
memory, ids. At each mark a fresh process reopens the index from its directory, as a
resume does, and reports its time and peak memory. Random signatures are the worst
case for the buckets (no two items share a key); the loop's other per-individual
memory is measured by `bench/population_bench.py`.

    .venv/bin/python -m bench.index_memory --marks 1000000 2000000 3000000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.memory import peak_rss_gb
from genetic_instruct.dedup import NearDuplicateIndex


def rss_gb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**30


def reopen(directory: Path) -> dict[str, float]:
    """In a fresh process: open the index kept in ``directory``, as a resume does."""
    script = (
        "import json, os, sys, time; from pathlib import Path; t = time.perf_counter();"
        "from bench.memory import peak_rss_gb;"
        "from genetic_instruct.dedup import NearDuplicateIndex;"
        "i = NearDuplicateIndex(workers=1, directory=Path(sys.argv[1]));"
        "print(json.dumps({'items': len(i), 'open_s': time.perf_counter() - t,"
        "'peak_gb': peak_rss_gb(), 'cpu_s': sum(os.times()[:2])}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(directory)], capture_output=True, text=True, check=True
    )
    return dict(json.loads(done.stdout))


def grow(marks: list[int], per_generation: int, directory: Path) -> None:
    rng = np.random.default_rng(7)
    index = NearDuplicateIndex(workers=1, directory=directory)
    print(
        "| individuals | RSS | peak RSS | buckets | signatures in memory | ids "
        "| bytes per individual (RSS) | add per generation | reopen (fresh process) "
        "| its peak RSS |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    base = rss_gb()
    n, add_s, adds = 0, 0.0, 0
    for mark in marks:
        while n < mark:
            size = min(per_generation, mark - n)
            sigs = rng.integers(0, 2**16, (size, index.num_perm), dtype=np.uint16)
            ids = [f"{i:016x}" for i in range(n, n + size)]
            started = time.perf_counter()
            index.add(ids, sigs)
            add_s += time.perf_counter() - started
            adds += 1
            n += size
        parts = index.memory()
        opened = reopen(directory)
        assert opened["items"] == n
        print(
            f"| {n:,} | {rss_gb():.2f} GB | {peak_rss_gb():.2f} GB "
            f"| {parts['buckets'] / 2**30:.2f} GB | {parts['signatures'] / 2**30:.2f} GB "
            f"| {parts['ids'] / 2**30:.2f} GB | {(rss_gb() - base) * 2**30 / n:.0f} "
            f"| {1000 * add_s / adds:.0f} ms "
            f"| {opened['open_s']:.1f} s ({opened['cpu_s']:.1f} s CPU) "
            f"| {opened['peak_gb']:.2f} GB |",
            flush=True,
        )
        add_s, adds = 0.0, 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--marks", type=int, nargs="+", default=[1_000_000, 2_000_000, 3_000_000])
    parser.add_argument("--per-generation", type=int, default=20_000)
    parser.add_argument("--directory", type=Path, default=None, help="keep the index here")
    args = parser.parse_args()
    grow(args.marks, args.per_generation, args.directory or Path(tempfile.mkdtemp()))


if __name__ == "__main__":
    main()
