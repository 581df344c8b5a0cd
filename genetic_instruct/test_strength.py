"""How strong a program's tests are: the share of its mutants they kill (mutation score).

The Coder writes solution and asserts in one reply, so the asserts tend to agree with the
code whatever it does, and `assert True` passes anything. A mutant (mutants.py) is the
solution with one small bug; it is killed when its tests no longer all pass (a failed
assert, an error, a timeout). Tests that never call the solution kill nothing and score 0.
A program with no valid mutant scores 0 too: nothing shows its tests can tell.

Every mutant of every program runs in the sandbox in one parallel batch (run_many).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from genetic_instruct.mutants import mutants
from genetic_instruct.sandbox import SandboxLimits, run_many


@dataclass(frozen=True)
class MutationResult:
    mutants: int  # valid mutants run: they compile and differ from the solution
    killed: int

    @property
    def score(self) -> float:
        return self.killed / self.mutants if self.mutants else 0.0


def mutation_results(
    programs: Sequence[tuple[str, str]],
    limits: SandboxLimits,
    k: int,
    seed: int,
    workers: int | None = None,
) -> list[MutationResult]:
    """For each (solution, tests) whose tests pass on the solution: run the tests against
    up to `k` mutants of it (chosen from its text and `seed`), in input order."""
    per_program = [mutants(solution, k, seed) for solution, _ in programs]
    jobs = [
        (mutant.source, tests)
        for (_, tests), variants in zip(programs, per_program)
        for mutant in variants
    ]
    outcomes = iter(run_many(jobs, limits, workers))
    results = []
    for variants in per_program:
        killed = sum(next(outcomes).status != "passed" for _ in variants)
        results.append(MutationResult(mutants=len(variants), killed=killed))
    return results
