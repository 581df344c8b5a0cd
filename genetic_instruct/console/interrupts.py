"""Ctrl-C and SIGTERM stop the run at the next safe point instead of mid-write.

The first signal only sets a flag; the loop checks it between requests and stages (every
finished request is journaled before the check), then stops with a message on how to
resume. A second signal falls back to the default behaviour, for a user in a hurry.

Commands that only write files (export, report, decontaminate) have no safe points: there
a signal raises Interrupted at once (`unwinding`), so each file being written is removed
on the way out (files/atomic.py) instead of being left as hidden debris, as SIGTERM's default
(the process ends on the spot) left it.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from genetic_instruct.errors import Interrupted

_HANDLED = (signal.SIGINT, signal.SIGTERM)
_requested: int | None = None


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    global _requested
    _requested = signum
    signal.signal(
        signum, signal.SIG_DFL if signum == signal.SIGTERM else signal.default_int_handler
    )


def requested() -> int | None:
    return _requested


def check() -> None:
    """Raise Interrupted if a stop was asked for."""
    if _requested is not None:
        raise Interrupted(_requested)


@contextmanager
def stop_at_safe_points() -> Iterator[None]:
    """Install the handlers for the duration of a run (signals reach the main thread only)."""
    global _requested
    _requested = None
    with _handling(_on_signal):
        yield


def _raise(signum: int, _frame: FrameType | None) -> None:
    raise Interrupted(signum)


@contextmanager
def unwinding() -> Iterator[None]:
    """SIGINT and SIGTERM raise Interrupted in the block (see the module's docstring)."""
    with _handling(_raise):
        yield


@contextmanager
def _handling(handler: Callable[[int, FrameType | None], None]) -> Iterator[None]:
    """`handler` for SIGINT and SIGTERM in the block; in the main thread only, where
    Python delivers signals (elsewhere the block runs with the handlers it has)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in _HANDLED}
    for sig in _HANDLED:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, previous_handler in previous.items():
            signal.signal(sig, previous_handler)
