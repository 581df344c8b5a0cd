"""The CLI on a machine so loaded that every program overruns its wall clock.

`python tests/overloaded_sandbox.py [command] [key=value ...]` runs genetic-instruct with a
sandbox whose every run (a solution, a mutant, a seed's reference in calibration) comes back
"timeout" without running: what a
resume would see if its sandbox ran what the interrupted run had already run, on a machine
busy enough that the wall clock no longer holds. A resume under it gives the uninterrupted
run's records only if it replays the journaled verdicts.
"""

from __future__ import annotations

from collections.abc import Sequence

from genetic_instruct import cli
from genetic_instruct.calibration import specimens
from genetic_instruct.evolution import loop
from genetic_instruct.sandbox import ExecutionResult, SandboxLimits, mutation_score


def timed_out(solution: str, tests: str, limits: SandboxLimits | None = None) -> ExecutionResult:
    seconds = (limits or SandboxLimits()).wall_seconds
    return ExecutionResult("timeout", 0, 1, 0.0, seconds, "", "", "wall-clock limit")


def all_timed_out(
    jobs: Sequence[tuple[str, str]],
    limits: SandboxLimits | Sequence[SandboxLimits] | None = None,
    workers: int | None = None,
) -> list[ExecutionResult]:
    return [timed_out(solution, tests) for solution, tests in jobs]


if __name__ == "__main__":
    loop.run_tests = timed_out
    mutation_score.run_many = all_timed_out
    specimens.run_many = all_timed_out
    cli.main()
