"""Crossover (Self-Instruct) and mutation (Evol-Instruct): plan, prompt, parse.

Planning draws from a colony's own RNG stream, so a colony's choices depend only on the run
seed, the generation and the colony number, never on what other colonies did. Parsing is
tolerant: a model that ignores the format yields fewer tasks, never an exception.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from genetic_instruct.config import EvolutionConfig
from genetic_instruct.prompts import PromptTemplate
from genetic_instruct.records import Individual

CROSSOVER = "crossover"
MUTATION = "mutation"

# "Task 1:", "**Task 2.**", "### Problem 3 -" ... at the start of a line. Bare "1." is not a
# header: tasks themselves often contain numbered lists of requirements.
_TASK_HEADER = re.compile(
    r"^[ \t]*[#>*_ \t]*(?:new\s+)?(?:task|problem|question|exercise)\s*#?\s*\d+"
    r"\s*[:.)\-]*[*_ \t]*",
    re.IGNORECASE | re.MULTILINE,
)
_MUTATION_LEAD = re.compile(
    r"^\s*[#*_ ]*(?:new|rewritten|revised|modified)\s+(?:task|question|problem)\s*[:.\-]*[*_ ]*",
    re.IGNORECASE,
)
_TRAILING_CODE = re.compile(r"```.*\Z", re.DOTALL)


@dataclass(frozen=True)
class OffspringPlan:
    """One Instructor request and what it is meant to produce."""

    colony: int
    operator: str  # crossover | mutation
    parents: tuple[Individual, ...]
    n_tasks: int
    method: str | None = None  # the evolution method, for mutations


def plan_colony(
    rng: np.random.Generator,
    population: Sequence[Individual],
    evolution: EvolutionConfig,
    colony: int,
) -> list[OffspringPlan]:
    """Choose operators, parents and methods for one colony's offspring this generation."""
    n = evolution.offspring_per_colony
    n_mutations = int(rng.binomial(n, evolution.mutation_rate))
    methods = sorted(evolution.mutation_methods)
    plans: list[OffspringPlan] = []
    for _ in range(n_mutations):
        parent = population[int(rng.integers(len(population)))]
        method = methods[int(rng.integers(len(methods)))]
        plans.append(OffspringPlan(colony, MUTATION, (parent,), 1, method))
    remaining = n - n_mutations
    k = min(evolution.crossover_parents, len(population))
    while remaining > 0:
        n_tasks = min(evolution.crossover_tasks_per_call, remaining)
        picks = rng.choice(len(population), size=k, replace=False)
        parents = tuple(population[int(i)] for i in picks)
        plans.append(OffspringPlan(colony, CROSSOVER, parents, n_tasks))
        remaining -= n_tasks
    return plans


def render_instructor_prompt(
    plan: OffspringPlan,
    templates: dict[str, PromptTemplate],
    mutation_methods: dict[str, str],
) -> str:
    if plan.operator == MUTATION:
        assert plan.method is not None
        return templates[MUTATION].render(
            method=mutation_methods[plan.method], instruction=plan.parents[0].instruction
        )
    examples = "\n\n".join(
        f"Example {i}:\n{parent.instruction.strip()}" for i, parent in enumerate(plan.parents, 1)
    )
    return templates[CROSSOVER].render(k=len(plan.parents), n=plan.n_tasks, examples=examples)


def _clean(task: str) -> str:
    task = _TRAILING_CODE.sub("", task)  # a solution the model added anyway
    return task.strip().strip("*_").strip()


def parse_crossover(text: str, n_tasks: int) -> list[str]:
    """Split an answer into at most `n_tasks` tasks, by their "Task N:" headers.

    An answer without any header counts as a single task: small models often write one.
    """
    headers = list(_TASK_HEADER.finditer(text))
    if not headers:
        parts = [text]
    else:
        bounds = [h.end() for h in headers] + [len(text)]
        starts = [h.start() for h in headers[1:]] + [len(text)]
        parts = [text[bounds[i] : starts[i]] for i in range(len(headers))]
    tasks = [_clean(p) for p in parts]
    return [t for t in tasks if t][:n_tasks]


def parse_mutation(text: str) -> list[str]:
    """The rewritten task: the answer minus a "New task:" lead and any trailing code."""
    task = _clean(_MUTATION_LEAD.sub("", text.strip(), count=1))
    return [task] if task else []


def parse_instructor(plan: OffspringPlan, text: str) -> list[str]:
    if plan.operator == MUTATION:
        return parse_mutation(text)
    return parse_crossover(text, plan.n_tasks)
