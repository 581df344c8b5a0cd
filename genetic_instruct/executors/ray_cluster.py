"""Joining the Ray cluster a run's config names, once for everything the run puts there.

A run places Ray actors for two things: its colonies (executor=ray) and its dedup shards
(dedup.ray_shards). Both reach the cluster through `join`, with executor.* saying where
it is, and a Ray instance started here is sized for both, so actors started by one never
leave the other unplaceable on a small machine.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import ray

from genetic_instruct.config import Config, ExecutorKind

# A dedup shard's actor asks for one CPU: its merges and lookups keep about one core busy.
SHARD_CPUS = 1.0


def cpus_asked(cfg: Config) -> float:
    """Logical CPUs the run's actors ask for together: its colonies' and its dedup shards'."""
    ex = cfg.executor
    colonies = cfg.evolution.colonies * ex.num_cpus_per_colony
    return (colonies if ex.kind == ExecutorKind.ray else 0.0) + cfg.dedup.ray_shards * SHARD_CPUS


def join(cfg: Config) -> bool:
    """Join Ray (or start it here); True when this call started it, so must shut it down."""
    if ray.is_initialized():  # a caller's own session (a notebook, the test suite), or ours
        return False
    ex = cfg.executor
    kwargs: dict[str, Any] = {"log_to_driver": ex.log_to_driver, "logging_level": logging.ERROR}
    if ex.address is None:
        # Logical CPUs: as many as the actors ask for, so a laptop is never too small.
        cpus = max(os.cpu_count() or 1, math.ceil(cpus_asked(cfg)))
        kwargs.update(address="local", num_cpus=cpus, include_dashboard=False)
    else:
        kwargs["address"] = ex.address
    with _signal_handlers_kept():
        ray.init(**kwargs)
    return True


@contextmanager
def _signal_handlers_kept() -> Iterator[None]:
    """ray.init replaces SIGTERM's handler; the run's stop-at-a-safe-point one must stay."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
