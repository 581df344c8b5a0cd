"""Built programs kept in memory, so the same build is never run twice in a process.

A build is a pure function of its toolchain (the compiler's version), its command, its
files and its limits, so its result, a program or a compiler error, is keyed by a hash of
those. Where a program runs several times it pays once: a seed's reference solution is
checked before a run and again when the judge is calibrated, the same solution is tested
against several attempts' tests, an export re-checks what the run already ran. Mutants
are programs of their own (each changes the source) and are built each.

Bounded: the least recently used builds go once their outputs pass BUDGET_BYTES (a Rust
program is ~4 MB, a C++ one ~20 kB), so a long run's memory does not grow with it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass

from .limits import SandboxLimits
from .toolchains import Program, Toolchain

BUDGET_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class Built:
    """A build's outcome: the files it left for the run, or the compiler's error."""

    files: tuple[tuple[str, bytes, int], ...]
    error: str | None
    output: str  # what the compiler printed (bounded by output_bytes)
    seconds: float

    @property
    def size(self) -> int:
        return sum(len(data) for _, data, _ in self.files) + len(self.output)


_cache: OrderedDict[str, Built] = OrderedDict()
_held = 0
_lock = threading.Lock()
hits = 0  # builds taken from the cache, for benchmarks and tests


def build_key(chain: Toolchain, program: Program, limits: SandboxLimits) -> str:
    """What decides a build's outcome, hashed."""
    step = program.build
    assert step is not None
    digest = hashlib.sha256()
    what = [chain.version, step.argv, step.env, step.address_space_mb, step.threads]
    digest.update(json.dumps([what, asdict(limits.compile), limits.output_bytes]).encode())
    for name, data, mode in program.files:
        digest.update(f"\0{name}\0{mode}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def cached_build(
    chain: Toolchain, program: Program, limits: SandboxLimits, build: Callable[[], Built]
) -> Built:
    """The build's outcome from the cache, or `build()`'s, kept for next time. Two threads
    asking for the same new build at once may both run it; the result is the same."""
    global hits, _held
    key = build_key(chain, program, limits)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            hits += 1
            return dataclasses.replace(_cache[key], seconds=0.0)
    built = build()
    with _lock:
        if key not in _cache and built.size <= BUDGET_BYTES:
            _cache[key] = built
            _held += built.size
            while _held > BUDGET_BYTES:
                _, dropped = _cache.popitem(last=False)
                _held -= dropped.size
    return built


def clear() -> None:
    """Forget every build (benchmarks measure builds from cold)."""
    global _held
    with _lock:
        _cache.clear()
        _held = 0
