"""An offspring on its way through the stages, and the Individual it becomes if it survives."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from genetic_instruct.dedup.in_order import Sketch
from genetic_instruct.evolution.agreement import Attempted
from genetic_instruct.evolution.fitness import JudgeVerdict
from genetic_instruct.evolution.operators import OffspringPlan
from genetic_instruct.individual import Individual, content_id
from genetic_instruct.sandbox import ExecutionResult
from genetic_instruct.sandbox.mutation_score import MutationResult


@dataclass
class Candidate:
    """What each stage has learnt about one offspring so far."""

    plan: OffspringPlan
    instruction: str
    number: int = 0  # its place in the generation, in plan order: seeds and ties go by it
    sketch: Sketch | None = None  # for near-duplicate checks, once it passed the population's
    solution: str = ""
    tests: str = ""
    execution: ExecutionResult | None = None  # the exported attempt's run
    attempted: Attempted | None = None  # every attempt's verdict, once all have run
    reasoning: str | None = None  # the exported attempt's, when it passed and is kept
    mutation: MutationResult | None = None  # its tests against its mutants
    verdict: JudgeVerdict | None = None
    fitness: float = 0.0
    rejected: str | None = None  # why it was dropped
    gated: bool = False  # it reached the check against earlier offspring of its generation

    @functools.cached_property
    def id(self) -> str:
        """Its content id (the instruction does not change once read): three checks ask."""
        return content_id(self.instruction)

    @property
    def language(self) -> str:
        """What its solution and tests are written in: its plan's language."""
        return self.plan.language

    def individual(
        self, generation: int, models: dict[str, str], prompt_hashes: dict[str, str]
    ) -> Individual:
        """The survivor as the population keeps it; `models` and `prompt_hashes` per role
        that made it."""
        plan = self.plan
        assert self.verdict is not None
        return Individual(
            id=self.id,
            instruction=self.instruction,
            solution=self.solution,
            origin=plan.operator,
            generation=generation,
            method=plan.method,
            parents=tuple(p.id for p in plan.parents),
            colony=plan.colony,
            models=models,
            prompt_hashes=prompt_hashes,
            scores=dict(self.verdict.scores),
            fitness=round(self.fitness, 4),
            rationale=self.verdict.rationale,
            tests=self.tests or None,
            execution=_execution_record(self.execution, self.mutation),
            reasoning=self.reasoning,
            language=plan.language,
            **(self.attempted.record() if self.attempted is not None else {}),
        )


def _execution_record(
    result: ExecutionResult | None, mutation: MutationResult | None
) -> dict[str, Any] | None:
    if result is None:
        return None
    return {
        "status": result.status,
        "passed": result.passed,
        "total": result.total,
        "pass_fraction": round(result.pass_fraction, 4),
        "runtime_s": round(result.runtime_s, 4),
        # None: not mutation-tested (its tests did not all pass, or execution.mutants=0)
        "mutation_score": round(mutation.score, 4) if mutation else None,
        "mutants": mutation.mutants if mutation else None,
        "killed": mutation.killed if mutation else None,
    }
