"""Independent blocks of rows on several cores, by threads.

numpy releases the GIL inside its loops over arrays, so threads working on separate
blocks of a batch run in parallel for most of their time; only the Python glue between
numpy calls (and the per-text ``str`` normalization) takes turns on the GIL. Threads
rather than processes: texts and results are shared, not copied, and a worker costs
nothing to start. Each block writes only its own rows, so the result does not depend on
how many threads ran or in which order the blocks finished.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

_pools: dict[tuple[int, int], ThreadPoolExecutor] = {}


def available_cores() -> int:
    """Cores this process may run on (its affinity mask, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def for_blocks(count: int, block: int, work: Callable[[int, int], None], threads: int) -> None:
    """``work(start, stop)`` for each block of ``block`` rows in ``range(count)``, on up to
    ``threads`` threads; exceptions propagate. One block runs inline."""
    starts = range(0, count, block)
    if threads <= 1 or len(starts) <= 1:
        for start in starts:
            work(start, min(start + block, count))
        return
    futures = [_pool(threads).submit(work, s, min(s + block, count)) for s in starts]
    for future in futures:
        future.result()


def _pool(threads: int) -> ThreadPoolExecutor:
    """One pool per process and size: a pool inherited through fork has no threads."""
    key = (os.getpid(), threads)
    if key not in _pools:
        _pools[key] = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="gi-dedup")
    return _pools[key]
