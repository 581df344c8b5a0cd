"""Seed tasks whose reference solution fails its own tests, found before a run starts.

A seed is a worked example: the Instructor imitates it and, with
`export.include_seeds=true`, it is training data. A seed whose solution fails its tests
teaches the wrong answer. So a new run runs every seed that has tests in the sandbox (the
125 builtin seeds: about 4 s on two cores), says which fail (file:line, one line each) and
stops, unless `allow_failing_seeds=true` keeps them; the run state and the report count
those kept. A seed set that passed (same content, limits, tool and Python) is remembered
in the user's cache folder and not run again: most new runs start from the same seeds.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable
from pathlib import Path

from genetic_instruct import __version__
from genetic_instruct.config import Config
from genetic_instruct.errors import SeedFileError
from genetic_instruct.files.user_cache import cache_dir
from genetic_instruct.sandbox import SandboxLimits
from genetic_instruct.seeding.seed_file import SeedFile, seeds_digest

PASSED_FILE = "seeds-passed"  # in the cache folder: keys of seed sets that passed, a line each


def check_seed_tests(cfg: Config, seed_file: SeedFile, say: Callable[[str], None]) -> list[str]:
    """Ids of the seeds whose solution fails their tests (kept by the config), each said on
    one line; raise SeedFileError when there are some and the config does not keep them.
    Without execution (execution.enabled=false) nothing is run: no seed is known to fail."""
    from genetic_instruct.sandbox import run_many

    limits = cfg.execution.sandbox_limits()
    key = _passed_key(seed_file, limits)
    if not cfg.execution.enabled or key in _passed_keys():
        return []
    tested = [(seed, seed_file.where(i)) for i, seed in enumerate(seed_file.seeds) if seed.tests]
    results = run_many(
        [(seed.solution, seed.tests or "", seed.language) for seed, _ in tested],
        limits,
        cfg.execution.workers or None,
        cfg.execution.service(),
    )
    failing = [
        (seed, line, result)
        for (seed, line), result in zip(tested, results)
        if result.status != "passed"
    ]
    if not failing:
        _remember_passed(key)
    for seed, line, result in failing:
        say(
            f"{line}: seed {seed.id!r}: its solution fails its own tests "
            f"({result.status}: {result.detail})"
        )
    if failing and not cfg.allow_failing_seeds:
        raise SeedFileError(
            f"{seed_file.path}: {len(failing)} of {len(seed_file.seeds)} seeds fail their own "
            "tests (listed above); fix them, or keep them with allow_failing_seeds=true"
        )
    return [seed.id for seed, _, _ in failing]


def _passed_key(seed_file: SeedFile, limits: SandboxLimits) -> str:
    what = f"{__version__}|{sys.version}|{seeds_digest(seed_file.seeds)}|{limits!r}"
    return hashlib.sha256(what.encode("utf-8")).hexdigest()


def _passed_file() -> Path:
    return cache_dir() / PASSED_FILE


def _passed_keys() -> set[str]:
    try:
        return set(_passed_file().read_text(encoding="utf-8").split())
    except OSError:  # none yet, or an unreadable cache: check the seeds
        return set()


def _remember_passed(key: str) -> None:
    path = _passed_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as file:
            file.write(key + "\n")
    except OSError:  # a read-only home: the check just runs again next time
        pass
