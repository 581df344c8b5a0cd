"""Python's cycle collector paced for a generation in flight.

Every offspring keeps a few dozen tracked objects alive until its generation commits (its
candidate, plan, requests and continuations). With the default thresholds (700, 10, 10)
the collector scans all of them, and everything else alive, each time they grow by a
quarter: at 20k offspring a generation, three generations, 27 full collections, 5.0 s,
12% of the process's CPU (bench/gc_bench.py; 6 and 0.6 s paced). Inside a generation
only the full collections wait (young objects are collected as usual); they run again once
the generation is over. The generation leaves no cycles behind (Flow.close), so nothing
waits for them.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

IN_FLIGHT_THRESHOLDS = (700, 10, 10_000)


@contextmanager
def generation_pace() -> Iterator[None]:
    """Full collections wait until the block ends."""
    before = gc.get_threshold()
    gc.set_threshold(*IN_FLIGHT_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)
