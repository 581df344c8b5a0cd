"""Worker processes that start clean: `spawn`, without re-importing the caller's __main__.

Plain `spawn` makes every child import the parent's main module: a user's script that runs
the loop without an `if __name__ == "__main__"` guard would run again in each child,
engines and all. `fork` is no better: the caller may hold vLLM engines, CUDA contexts or
threads, which a fork copies half-alive. Our workers need nothing from __main__ (their
functions live in this package), so the children are told not to import it.

This leans on CPython's multiprocessing internals (popen_spawn_posix, spawn's preparation
data), unchanged from 3.8 to 3.13; POSIX only, like the rest of the package.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing import context, popen_spawn_posix, spawn
from typing import Any


def spawn_without_main() -> context.SpawnContext:
    """A multiprocessing context for ProcessPoolExecutor(mp_context=...)."""
    return _Context()


class _Popen(popen_spawn_posix.Popen):
    """``spawn``, but the child is not told to import the parent's ``__main__``."""

    def _launch(self, process_obj: multiprocessing.process.BaseProcess) -> None:
        prepare = spawn.get_preparation_data

        def without_main(name: str) -> dict[str, Any]:
            data = prepare(name)
            data.pop("init_main_from_name", None)
            data.pop("init_main_from_path", None)
            return data

        spawn.get_preparation_data = without_main  # read by the base class's _launch
        try:
            super()._launch(process_obj)  # type: ignore[misc]  # private: typeshed omits it
        finally:
            spawn.get_preparation_data = prepare


class _Process(context.SpawnProcess):
    @staticmethod
    def _Popen(process_obj: multiprocessing.process.BaseProcess) -> _Popen:
        return _Popen(process_obj)


class _Context(context.SpawnContext):
    Process = _Process
