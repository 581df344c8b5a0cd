"""How strong a program's tests are: the share of its mutants they kill (mutation score).

The Coder writes solution and asserts in one reply, so the asserts tend to agree with the
code whatever it does, and `assert True` passes anything. A mutant (mutants.py) is the
solution with one small bug; it is killed when its tests no longer all pass (a failed
assert, an error, a timeout). Tests that never call the solution kill nothing and score 0.
A program with no valid mutant scores 0 too: nothing shows its tests can tell.

Every mutant of every program runs in the sandbox in one parallel batch (run_many). A
mutant that loops forever (a dropped `i += 1`) is killed by its time limit; that limit is
a few times what the tests took on the solution, not the full execution limit, since a
mutant that slow is killed either way (on the builtin seeds, one mutant in 25 loops).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from genetic_instruct.sandbox import ExecutionResult, SandboxLimits, run_many
from genetic_instruct.sandbox.mutants import Mutant, mutants

SLOWDOWN = 4.0  # a mutant may take this many times the solution's test run
MIN_SECONDS = 1.0  # and at least this long (interpreter start-up under load)


@dataclass(frozen=True)
class MutationResult:
    mutants: int  # valid mutants run: they compile and differ from the solution
    killed: int

    @property
    def score(self) -> float:
        return self.killed / self.mutants if self.mutants else 0.0


def mutant_limits(limits: SandboxLimits, runtime_s: float) -> SandboxLimits:
    """The limits for the mutants of a program whose tests took `runtime_s` (wall) on it."""
    seconds = max(MIN_SECONDS, SLOWDOWN * runtime_s)
    return dataclasses.replace(
        limits,
        cpu_seconds=min(limits.cpu_seconds, seconds),
        wall_seconds=min(limits.wall_seconds, 2 * seconds),
    )


def mutant_runs(
    programs: Sequence[tuple[str, str, float]],
    limits: SandboxLimits,
    k: int,
    seed: int,
    workers: int | None = None,
) -> list[list[tuple[Mutant, ExecutionResult]]]:
    """For each (solution, tests, seconds its tests took on it): up to `k` mutants of the
    solution (chosen from its text and `seed`), each with its tests' run on it. All runs
    go to the sandbox in one parallel batch; results in input order."""
    per_program = [mutants(solution, k, seed) for solution, _, _ in programs]
    jobs, job_limits = [], []
    for (_, tests, runtime_s), variants in zip(programs, per_program):
        jobs += [(mutant.source, tests) for mutant in variants]
        job_limits += [mutant_limits(limits, runtime_s)] * len(variants)
    outcomes = iter(run_many(jobs, job_limits, workers))
    return [[(mutant, next(outcomes)) for mutant in variants] for variants in per_program]


def mutation_results(
    programs: Sequence[tuple[str, str, float]],
    limits: SandboxLimits,
    k: int,
    seed: int,
    workers: int | None = None,
) -> list[MutationResult]:
    """mutant_runs, counted: for programs whose tests pass on their solution, how many of
    its mutants the tests kill (a failed assert, an error, a timeout)."""
    return [
        MutationResult(mutants=len(runs), killed=sum(r.status != "passed" for _, r in runs))
        for runs in mutant_runs(programs, limits, k, seed, workers)
    ]
