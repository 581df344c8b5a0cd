"""An offspring on its way through the stages, before it becomes an Individual."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genetic_instruct.evolution.fitness import JudgeVerdict
from genetic_instruct.evolution.operators import OffspringPlan
from genetic_instruct.sandbox import ExecutionResult
from genetic_instruct.sandbox.mutation_score import MutationResult


@dataclass
class Candidate:
    """What each stage has learnt about one offspring so far."""

    plan: OffspringPlan
    instruction: str
    number: int = 0  # its place in the generation, in plan order: seeds and ties go by it
    signature: np.ndarray | None = None
    solution: str = ""
    tests: str = ""
    execution: ExecutionResult | None = None
    mutation: MutationResult | None = None  # its tests against its mutants
    verdict: JudgeVerdict | None = None
    fitness: float = 0.0
    rejected: str | None = None  # why it was dropped
    gated: bool = False  # it reached the check against earlier offspring of its generation
