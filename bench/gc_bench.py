"""The cycle collector's share of the loop, with and without a generation's pacing.

Grows a scripted run (bench/population_bench.py's config) twice, once with Python's
default thresholds inside a generation and once with evolution/collection_pace.py's, and
counts the collections of each generation and the CPU time they took (gc.callbacks); at
the end it counts what only a full collection frees (cycles the run left behind). The
figures in collection_pace.py's docstring and bench/RESULTS-population.md come from it:

    .venv/bin/python -m bench.gc_bench --target 40000
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.population_bench import config, grow
from genetic_instruct.evolution import collection_pace


class CollectionClock:
    """CPU time and count of the collections of each generation (0, 1, 2)."""

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self.counts = [0, 0, 0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.process_time()
        else:
            self.seconds[info["generation"]] += time.process_time() - self._started
            self.counts[info["generation"]] += 1


def cyclic_garbage() -> int:
    """Objects a full collection frees now: unreachable cycles."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        return len(gc.garbage)
    finally:
        gc.garbage.clear()
        gc.set_debug(0)


def measure(target: int, thresholds: tuple[int, int, int]) -> str:
    collection_pace.IN_FLIGHT_THRESHOLDS = thresholds
    clock = CollectionClock()
    gc.callbacks.append(clock)
    started = time.process_time()
    try:
        with tempfile.TemporaryDirectory(prefix="gc-bench-") as run_dir:
            growth = grow(config(Path(run_dir), target, 20_000), every=1_000_000)
    finally:
        gc.callbacks.remove(clock)
    cpu = time.process_time() - started
    del growth
    left = cyclic_garbage()
    return (
        f"| {thresholds} | {cpu:.1f} s | {clock.counts[2]} | {clock.seconds[2]:.2f} s "
        f"| {clock.seconds[0] + clock.seconds[1]:.2f} s | {left} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=int, default=40_000)
    args = parser.parse_args()
    print(
        "| thresholds inside a generation | process CPU | full collections | their CPU "
        "| young collections' CPU | cyclic garbage left at the end |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for thresholds in [gc.get_threshold(), collection_pace.IN_FLIGHT_THRESHOLDS]:
        print(measure(args.target, thresholds), flush=True)


if __name__ == "__main__":
    main()
