"""Seed tasks whose reference solution fails its own tests, found before a run starts.

A seed is a worked example: the Instructor imitates it and, with
`export.include_seeds=true`, it is training data. A seed whose solution fails its tests
teaches the wrong answer. So a new run runs every seed that has tests in the sandbox (the
125 builtin seeds: about 4 s on two cores), says which fail (file:line, one line each) and
stops, unless `allow_failing_seeds=true` keeps them; the run state and the report count
those kept.
"""

from __future__ import annotations

from collections.abc import Callable

from genetic_instruct.config import Config
from genetic_instruct.errors import SeedFileError
from genetic_instruct.sandbox import SandboxLimits
from genetic_instruct.seeds import SeedFile, seeds_digest
from genetic_instruct.store import RunStore

FAILING_META = "failing_seeds"  # ids of seeds kept although their solution fails its tests
# Seed sets (content digest, limits) that passed in this process: the points of a sweep on
# Hydra's basic launcher share a process and their seeds, and need not pay for them again.
_PASSED: set[tuple[str, SandboxLimits]] = set()


def check_seed_tests(cfg: Config, seed_file: SeedFile, say: Callable[[str], None]) -> list[str]:
    """Ids of the seeds whose solution fails their tests (kept by the config), each said on
    one line; raise SeedFileError when there are some and the config does not keep them.
    Without execution (execution.enabled=false) nothing is run: no seed is known to fail."""
    from genetic_instruct.evolution import sandbox_limits
    from genetic_instruct.sandbox import run_many

    limits = sandbox_limits(cfg.execution)
    checked = (seeds_digest(seed_file.seeds), limits)
    if not cfg.execution.enabled or checked in _PASSED:
        return []
    tested = [(seed, line) for seed, line in zip(seed_file.seeds, seed_file.lines) if seed.tests]
    results = run_many([(seed.solution, seed.tests or "") for seed, _ in tested], limits,
                       cfg.execution.workers or None)
    failing = [(seed, line, result) for (seed, line), result in zip(tested, results)
               if result.status != "passed"]
    if not failing:
        _PASSED.add(checked)
    for seed, line, result in failing:
        say(f"{seed_file.path}:{line}: seed {seed.id!r}: its solution fails its own tests "
            f"({result.status}: {result.detail})")
    if failing and not cfg.allow_failing_seeds:
        raise SeedFileError(
            f"{seed_file.path}: {len(failing)} of {len(seed_file.seeds)} seeds fail their own "
            "tests (listed above); fix them, or keep them with allow_failing_seeds=true"
        )
    return [seed.id for seed, _, _ in failing]


def failing_seeds(store: RunStore) -> int | None:
    """How many seeds were kept although they fail their tests; None: never checked."""
    found = store.get_meta(FAILING_META)
    return None if found is None else len(found)
