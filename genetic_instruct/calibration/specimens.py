"""Solutions of known correctness for the judge to score: seed references and faulty variants.

A seed's reference solution passes its tests: correct. A mutant of it (mutants.py: a flipped
comparison, an off-by-one, a dropped statement, ...) that fails those same tests is faulty;
a mutant the tests cannot tell from the reference is left out, since nothing shows it is
wrong. Which seeds and which mutants are chosen depends only on the run's seed.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from genetic_instruct.individual import Individual
from genetic_instruct.languages import Language
from genetic_instruct.sandbox import ExecutionResult, SandboxLimits, run_many
from genetic_instruct.sandbox.mutation_score import TestedProgram, mutant_runs

MUTANTS_PER_FAULTY = 3  # mutants tried per faulty variant wanted (some survive the tests)


@dataclass(frozen=True)
class Specimen:
    """A solution the judge scores. The judge sees neither tests nor their result (`tests`
    and `execution` stay empty): the calibration measures what its own reading is worth."""

    task: str  # the seed's id
    instruction: str
    solution: str
    correct: bool
    operator: str | None = None  # the mutation that made a faulty one
    tests: str = ""
    execution: ExecutionResult | None = None
    language: str = "python"


def calibration_tasks(
    seeds: Sequence[Individual], failing: Collection[str], n: int, seed: int
) -> list[Individual]:
    """Up to `n` seeds with tests (none kept although failing them), sampled by `seed`, in
    seed order."""
    usable = [s for s in seeds if s.tests and s.id not in failing]
    if len(usable) <= n:
        return usable
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xCA1]))
    chosen = sorted(rng.choice(len(usable), size=n, replace=False).tolist())
    return [usable[i] for i in chosen]


def make_specimens(
    tasks: Sequence[Individual],
    limits: SandboxLimits,
    faulty_per_task: int,
    seed: int,
    workers: int | None = None,
) -> list[Specimen]:
    """Each task's reference (when it passes its tests here) and up to `faulty_per_task`
    mutants of it that fail them; two parallel sandbox batches."""
    references = run_many([(t.solution, t.tests or "", t.language) for t in tasks], limits, workers)
    passing = [(t, r) for t, r in zip(tasks, references) if r.status == "passed"]
    runs = mutant_runs(
        [
            TestedProgram(t.solution, t.tests or "", r.runtime_s, Language(t.language))
            for t, r in passing
        ],
        limits,
        MUTANTS_PER_FAULTY * faulty_per_task,
        seed,
        workers,
    )
    found: list[Specimen] = []
    for (task, _), task_runs in zip(passing, runs):
        found.append(
            Specimen(task.id, task.instruction, task.solution, True, language=task.language)
        )
        failed = [mutant for mutant, result in task_runs if result.status != "passed"]
        found += [
            Specimen(task.id, task.instruction, m.source, False, m.operator, language=task.language)
            for m in failed[:faulty_per_task]
        ]
    return found
