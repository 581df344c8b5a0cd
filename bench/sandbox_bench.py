"""Sandbox cost: start-up per program, and run_many throughput on small passing programs.

Run from the repository root (results are recorded in bench/RESULTS-sandbox.md):

    nice -n 10 .venv/bin/python bench/sandbox_bench.py

Prints Markdown. Start-up matters because every program gets a fresh interpreter; the
throughput rows show whether run_many keeps the CPUs busy. `--programs 0` prints the
start-up rows only; with PYTHONPATH pointing at another checkout it measures that
checkout's sandbox, so two versions can be timed turn about on the same machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from genetic_instruct.sandbox import SandboxLimits, run_many, run_tests
from genetic_instruct.sandbox.launch import PYTHON_FLAGS
from genetic_instruct.sandbox.runner import usable_cpus


def small_programs(count: int) -> list[tuple[str, str]]:
    """Distinct, passing, typical of a generated task: a function and a few asserts."""
    return [
        (
            f"def f(x):\n    return x * {i} + 1\n",
            f"assert f(0) == 1\nassert f(2) == {2 * i + 1}\nassert f(-1) == {1 - i}\n",
        )
        for i in range(count)
    ]


def median_ms(action: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def cpu_ms_per_run(repeat: int) -> float:
    """CPU of the whole sandbox tree (launcher, init, runner) plus the caller, per run."""
    before = cpu_seconds()
    for _ in range(repeat):
        run_tests("x = 1\n", "assert x == 1\n")
    return (cpu_seconds() - before) / repeat * 1000


def startup_rows(repeat: int) -> list[tuple[str, float]]:
    bare = [sys.executable, *PYTHON_FLAGS, "-c", "pass"]
    imports = [*bare[:-1], "import ctypes, resource, select, marshal, _signal, _ast"]
    return [
        (
            "bare interpreter (`python -I -S -B -c pass`), wall",
            median_ms(lambda: subprocess.run(bare, check=True), repeat),
        ),
        (
            "interpreter + the launcher's imports, wall",
            median_ms(lambda: subprocess.run(imports, check=True), repeat),
        ),
        (
            "one `run_tests` (fresh sandbox, 1 assert), wall",
            median_ms(lambda: run_tests("x = 1\n", "assert x == 1\n"), repeat),
        ),
        ("one `run_tests`, CPU of caller + sandbox processes", cpu_ms_per_run(repeat)),
    ]


def cpu_seconds() -> float:
    """Caller plus every sandbox process it has reaped (all of them, after run_many)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def throughput(jobs: list[tuple[str, str]], workers: int | None) -> tuple[float, float]:
    """Programs per second, and the share of the usable CPUs the sandboxes kept busy."""
    cpu_before, started = cpu_seconds(), time.perf_counter()
    results = run_many(jobs, SandboxLimits(), workers=workers)
    elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu_before
    failed = [r for r in results if r.status != "passed"]
    if failed:
        raise SystemExit(f"benchmark programs must pass, got {failed[0]}")
    return len(jobs) / elapsed, cpu / (elapsed * usable_cpus())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--programs", type=int, default=200)
    parser.add_argument("--workers", default="1,2,4,8", help="comma-separated worker counts")
    parser.add_argument("--repeat", type=int, default=30, help="samples per start-up figure")
    args = parser.parse_args()

    python = platform.python_version()
    print(f"machine: {usable_cpus()} CPUs usable, {platform.platform()}, Python {python}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    print("| start-up | ms |\n| --- | ---: |")
    for name, value in startup_rows(args.repeat):
        print(f"| {name} | {value:.1f} |")
    print(f"\nload average after start-up: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    if args.programs == 0:
        return
    jobs = small_programs(args.programs)
    run_many(jobs[:8])  # warm the page cache and the pool's first threads
    print(f"\n| run_many, {args.programs} programs | programs/s | CPUs kept busy |")
    print("| --- | ---: | ---: |")
    for workers in [*(int(w) for w in args.workers.split(",")), None]:
        rate, busy = throughput(jobs, workers)
        label = f"workers={workers}" if workers else f"workers=None (default: {usable_cpus()})"
        print(f"| {label} | {rate:.1f} | {busy:.0%} |")
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
