"""Crossover (Self-Instruct) and mutation (Evol-Instruct): which offspring to ask for.

Planning draws from a colony's own RNG stream, so a colony's choices depend only on the run
seed, the generation and the colony number, never on what other colonies did. The prompts
and the reading of the answers belong to the instructor roles (roles/instructor.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from genetic_instruct.config import EvolutionConfig
from genetic_instruct.individual import Individual

CROSSOVER = "crossover"
MUTATION = "mutation"


@dataclass(frozen=True)
class OffspringPlan:
    """One Instructor request and what it is meant to produce."""

    colony: int
    operator: str  # crossover | mutation
    parents: tuple[Individual, ...]
    n_tasks: int
    method: str | None = None  # the evolution method, for mutations


def colony_rng(run_seed: int, generation: int, colony: int) -> np.random.Generator:
    """A colony's own stream for one generation: it depends on nothing another colony did."""
    return np.random.default_rng(np.random.SeedSequence([run_seed, generation, colony, 0xC0]))


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
