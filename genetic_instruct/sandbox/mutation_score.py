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
from typing import NamedTuple

from genetic_instruct.languages import Language
from genetic_instruct.sandbox import ExecutionResult, SandboxLimits, run_many
from genetic_instruct.sandbox.mutants import Mutant, mutants
from genetic_instruct.sandbox.tree_mutants import tree_mutants

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


class TestedProgram(NamedTuple):
    """A solution, its tests and the seconds they took on it: its mutants' time limits."""

    solution: str
    tests: str
    seconds: float
    language: Language = Language.python

    def key(self) -> tuple[object, ...]:
        """What a verdict key holds of it: a Python program's key is what it was before
        programs had languages, so resumes replay its journaled measurement."""
        plain = (self.solution, self.tests, self.seconds)
        return plain if self.language is Language.python else (*plain, self.language)


def program_mutants(solution: str, language: Language, k: int, seed: int) -> list[Mutant]:
    """Up to `k` mutants of `solution`: Python's over `ast`, the others' over tree-sitter."""
    if language is Language.python:
        return mutants(solution, k, seed)
    return tree_mutants(solution, language, k, seed)


def mutant_runs(
    programs: Sequence[TestedProgram],
    limits: SandboxLimits,
    k: int,
    seed: int,
    workers: int | None = None,
    service: str | None = None,
) -> list[list[tuple[Mutant, ExecutionResult]]]:
    """For each program: up to `k` mutants of its solution (chosen from its text and
    `seed`), each with its tests' run on it. All runs go to the sandbox in one parallel
    batch; results in input order. A mutant that does not build is left out: no mutant
    at all (Python's are compiled before they are kept)."""
    per_program = [program_mutants(p.solution, p.language, k, seed) for p in programs]
    jobs: list[tuple[str, str, Language]] = []
    job_limits = []
    for program, variants in zip(programs, per_program):
        jobs += [(mutant.source, program.tests, program.language) for mutant in variants]
        job_limits += [mutant_limits(limits, program.seconds)] * len(variants)
    outcomes = iter(run_many(jobs, job_limits, workers, service))
    runs = [[(mutant, next(outcomes)) for mutant in variants] for variants in per_program]
    return [[(m, r) for m, r in program if r.status != "compile_error"] for program in runs]


def mutation_results(
    programs: Sequence[TestedProgram],
    limits: SandboxLimits,
    k: int,
    seed: int,
    workers: int | None = None,
    service: str | None = None,
) -> list[MutationResult]:
    """mutant_runs, counted: for programs whose tests pass on their solution, how many of
    its mutants the tests kill (a failed assert, an error, a timeout)."""
    return [
        MutationResult(mutants=len(runs), killed=sum(r.status != "passed" for _, r in runs))
        for runs in mutant_runs(programs, limits, k, seed, workers, service)
    ]
