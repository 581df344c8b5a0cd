"""Independent blocks of rows on several cores: threads for numpy-bound work, helper
processes for work that holds the GIL.

numpy releases the GIL inside its loops over arrays, so threads working on separate
blocks of a batch run in parallel while they are inside numpy (band keys: a few wide
array operations per block). Shingling is different: per text it normalizes and
encodes a ``str`` and runs ~40 small numpy calls per 64 texts, and the Python between
them holds the GIL; two threads signing measured 1.0-1.5x one thread, not 2x. So
signing runs in a few *helper processes* as well as in the calling process
(:func:`blocks_with_helpers`).

Helpers are started with ``spawn``: the caller may hold vLLM engines, CUDA contexts
or threads, which ``fork`` would copy half-alive into the child. Unlike plain
``spawn``, a helper does not import the caller's ``__main__``: a script that runs the
loop without an ``if __name__ == "__main__"`` guard would otherwise run again in every
helper (engines and all), and it needs nothing from it. One pool per size
per process, started on first use (the first blocks sent to it wait for its imports,
~0.5 s, while the caller signs the rest) and kept for the life of the process; it is
shut down at exit, or with :func:`shutdown_helpers`.

Each block writes only its own rows and every row depends on its own input alone, so
results do not depend on how many threads or processes ran, or which ran a block.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import BrokenExecutor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, TypeVar

from genetic_instruct.spawning import spawn_without_main

Result = TypeVar("Result")

_thread_pools: dict[tuple[int, int], ThreadPoolExecutor] = {}
_process_pools: dict[tuple[int, int], ProcessPoolExecutor] = {}


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
    futures = [_thread_pool(threads).submit(work, s, min(s + block, count)) for s in starts]
    for future in futures:
        future.result()


def blocks_with_helpers(
    count: int,
    block: int,
    local: Callable[[int, int], Result],
    remote: Callable[[int, int], tuple[Callable[..., Result], tuple[Any, ...]]],
    helpers: int,
) -> Iterator[tuple[int, int, Result]]:
    """``(start, stop, result)`` for each block of ``block`` rows in ``range(count)``, in
    no particular order, computed by this process (``local(start, stop)``) and by
    ``helpers`` helper processes (``fn(*args)`` for ``fn, args = remote(start,
    stop)``, which must be picklable and give the same result as ``local``).

    Every block is queued for the helpers at once, and this process works through the
    queue from its far end, taking each block that no helper has picked up yet (a
    pending future can still be cancelled, and its texts are then never pickled): the
    split adapts to how fast each side is, with no estimate of it. Once the queue is
    empty, a block still not back from a helper is computed here too, newest first,
    and whichever copy comes first is used: the caller never waits on a helper that is
    still starting, slowed down, or dead (a broken pool is replaced on the next call).
    """
    bounds = [(start, min(start + block, count)) for start in range(0, count, block)]
    if helpers < 1 or len(bounds) < 2:
        for start, stop in bounds:
            yield start, stop, local(start, stop)
        return
    pool = _process_pool(helpers)
    futures: list[Future[Result]] = []
    try:
        for start, stop in bounds:
            fn, args = remote(start, stop)
            futures.append(pool.submit(fn, *args))
    except (BrokenExecutor, RuntimeError):
        _discard_process_pool(helpers)  # the blocks not queued run here, below
    try:
        taken: list[tuple[int, int, Future[Result]]] = []
        for (start, stop), future in reversed(list(zip(bounds, futures))):
            if future.cancel():
                yield start, stop, local(start, stop)
            else:
                taken.append((start, stop, future))
        for start, stop in bounds[len(futures) :]:  # never queued: the pool broke
            yield start, stop, local(start, stop)
        for start, stop, future in taken:  # newest first: the least likely to be done
            if future.done() and future.exception() is None:
                yield start, stop, future.result()
                continue
            if future.done() and isinstance(future.exception(), BrokenExecutor):
                _discard_process_pool(helpers)
            # Not back (or failed: a real error then shows here, from this process).
            yield start, stop, local(start, stop)
    finally:
        for future in futures:
            future.cancel()


def shutdown_helpers() -> None:
    """Stop this process's helper processes (a later call starts new ones)."""
    for key in [key for key in _process_pools if key[0] == os.getpid()]:
        _process_pools.pop(key).shutdown(wait=True, cancel_futures=True)


atexit.register(shutdown_helpers)


def _thread_pool(threads: int) -> ThreadPoolExecutor:
    """One pool per process and size: a pool inherited through fork has no threads."""
    key = (os.getpid(), threads)
    if key not in _thread_pools:
        _thread_pools[key] = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="gi-dedup")
    return _thread_pools[key]


def _process_pool(helpers: int) -> ProcessPoolExecutor:
    key = (os.getpid(), helpers)
    if key not in _process_pools:
        _process_pools[key] = ProcessPoolExecutor(
            max_workers=helpers, mp_context=spawn_without_main(), initializer=_start_helper
        )
    return _process_pools[key]


def _start_helper() -> None:
    """In a helper: leave Ctrl-C to the caller (it reaches the whole process group, and
    the loop stops at a safe point, still signing), and exit when the caller does, even
    killed (the helper holds both ends of its task queue, so it would wait forever)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()


def _exit_with(parent: multiprocessing.process.BaseProcess) -> None:
    parent.join()
    os._exit(0)


def _discard_process_pool(helpers: int) -> None:
    pool = _process_pools.pop((os.getpid(), helpers), None)
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)
