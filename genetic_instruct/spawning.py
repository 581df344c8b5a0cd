"""Processes that start clean, and processes that die with the thread that started them.

Worker pools (`spawn_without_main`). Plain `spawn` makes every child import the parent's
main module: a user's script that runs the loop without an `if __name__ == "__main__"`
guard would run again in each child, engines and all. `fork` is no better: the caller may
hold vLLM engines, CUDA contexts or threads, which a fork copies half-alive. Our workers
need nothing from __main__ (their functions live in this package), so the children are told
not to import it.

Engine processes (`children_die_with_this_thread`). vLLM starts its EngineCore itself, and a
SIGKILLed run leaves it running, reparented to init: on a GPU node it keeps the GPU memory
the resume then lacks. vLLM 0.32 sets no parent-death signal and EngineCore watches no
parent; its workers watch EngineCore through a pipe, but only between steps (one outlived a
killed EngineCore by 10-15 s on the CPU build, and a GPU worker holds the memory). So a
process started in that block asks the kernel for SIGKILL when its parent ends
(PR_SET_PDEATHSIG), before it runs anything else, and so do the processes it starts in turn
through multiprocessing, down the tree: a spawned child imports this module as its __main__
(instead of the parent's, which vLLM's processes do not need), and passes that on to its
own spawned children; a forked one runs an at-fork hook.

This leans on CPython's multiprocessing internals (popen_spawn_posix, spawn's preparation
data), unchanged from 3.8 to 3.13; Linux only, like the rest of the package.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing import context, popen_spawn_posix, spawn
from typing import Any

PARENT_ENV = "GENETIC_INSTRUCT_DIE_WITH"  # in the block: the pid its spawned children die with
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class _Block:
    parent: int | None = None  # this process's pid while the block is open (forked children)


def spawn_without_main() -> context.SpawnContext:
    """A multiprocessing context for ProcessPoolExecutor(mp_context=...)."""
    return _Context()


@contextmanager
def children_die_with_this_thread() -> Iterator[None]:
    """Processes that multiprocessing starts in the block (spawned or forked) are killed
    when the thread that started them ends, and so when this process ends, SIGKILL
    included; so are those they start through multiprocessing, each with its own parent.
    Start them on a thread that lives as long as they should (the main thread, or an
    actor's)."""
    saved = os.environ.get(PARENT_ENV)
    os.environ[PARENT_ENV] = str(os.getpid())
    _Block.parent = os.getpid()
    try:
        with _preparation(_import_this_module_first):
            yield
    finally:
        _Block.parent = None
        if saved is None:
            del os.environ[PARENT_ENV]
        else:
            os.environ[PARENT_ENV] = saved


def _die_with(parent: int) -> None:
    """SIGKILL this process when its parent ends, or now if it already has."""
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent ended before the request took hold
        os.kill(os.getpid(), signal.SIGKILL)


def _spawned_in_block() -> None:
    """Run first in a spawned child (its __main__ is this module, and so its spawned
    children's): it dies with its parent, and its own children with it."""
    parent = os.environ.get(PARENT_ENV)
    if parent is not None:
        _die_with(int(parent))
        _bind_children_here()


def _forked() -> None:
    """Run in every forked child of a process that imported this module: inside the block
    (or below it) it dies with its parent, and its own children with it; elsewhere the
    block's variable is not passed on."""
    parent = _Block.parent
    if parent is None:
        os.environ.pop(PARENT_ENV, None)
        return
    _die_with(parent)
    _bind_children_here()


def _bind_children_here() -> None:
    """Children this process starts die with it (spawned: the variable; forked: _Block)."""
    os.environ[PARENT_ENV] = str(os.getpid())
    _Block.parent = os.getpid()


def _import_this_module_first(data: dict[str, Any]) -> None:
    data.pop("init_main_from_path", None)
    data["init_main_from_name"] = __name__


def _drop_main(data: dict[str, Any]) -> None:
    data.pop("init_main_from_name", None)
    data.pop("init_main_from_path", None)


@contextmanager
def _preparation(edit: Callable[[dict[str, Any]], None]) -> Iterator[None]:
    """Spawned children started in the block get preparation data changed by `edit`
    (`spawn.get_preparation_data` is what popen_spawn_posix reads when it launches)."""
    prepare = spawn.get_preparation_data

    def edited(name: str) -> dict[str, Any]:
        data = prepare(name)
        edit(data)
        return data

    spawn.get_preparation_data = edited
    try:
        yield
    finally:
        spawn.get_preparation_data = prepare


class _Popen(popen_spawn_posix.Popen):
    """``spawn``, but the child is not told to import the parent's ``__main__``."""

    def _launch(self, process_obj: multiprocessing.process.BaseProcess) -> None:
        with _preparation(_drop_main):
            super()._launch(process_obj)  # type: ignore[misc]  # private: typeshed omits it


class _Process(context.SpawnProcess):
    @staticmethod
    def _Popen(process_obj: multiprocessing.process.BaseProcess) -> _Popen:
        return _Popen(process_obj)


class _Context(context.SpawnContext):
    Process = _Process


os.register_at_fork(after_in_child=_forked)
if __name__ == "__mp_main__":  # a spawned child imports this first
    _spawned_in_block()
