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
from genetic_instruct.evolution.language_choice import (
    TRANSLATION,
    draw_language,
    parent_pool,
    translation_target,
)
from genetic_instruct.individual import Individual
from genetic_instruct.languages import Language

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
    language: str = "python"  # what its offspring are written in (language_choice.py)


def colony_rng(run_seed: int, generation: int, colony: int) -> np.random.Generator:
    """A colony's own stream for one generation: it depends on nothing another colony did."""
    return np.random.default_rng(np.random.SeedSequence([run_seed, generation, colony, 0xC0]))


HARDER_FLOOR = 0.1  # a parent every attempt solved still weighs this much, not nothing


def harder_weights(pass_rates: Sequence[float | None]) -> np.ndarray:
    """Parent-selection probabilities leaning toward measured difficulty
    (evolution.parent_weighting=harder): 1 + HARDER_FLOOR - pass rate, so a task no attempt
    solved weighs 11 times one every attempt solved; a member without a pass rate (a seed,
    a row made with one attempt) weighs as much as the average member that has one."""
    measured = [1 + HARDER_FLOOR - rate for rate in pass_rates if rate is not None]
    unknown = float(np.mean(measured)) if measured else 1.0
    weights = np.array(
        [unknown if rate is None else 1 + HARDER_FLOOR - rate for rate in pass_rates]
    )
    return weights / weights.sum()


def plan_colony(
    rng: np.random.Generator,
    population: Sequence[Individual],
    evolution: EvolutionConfig,
    colony: int,
    weights: np.ndarray | None = None,
    languages: dict[Language, float] | None = None,
    member_languages: Sequence[Language] | None = None,
) -> list[OffspringPlan]:
    """Choose operators, parents, methods and languages for one colony's offspring this
    generation. `weights`: a probability per member (harder_weights); None draws uniformly,
    with the draws runs made before weights existed, so their data is unchanged.
    `languages`: the run's (config.run_languages); with one, no draw is made for it and a
    Python run's plans are what they were before languages existed. With several, the
    `translation` method joins the mutation methods (language_choice.py), and crossover
    parents come from `member_languages` (each member's, StoredPopulation.languages) in
    the offspring's language where enough are."""
    languages = languages or {Language.python: 1.0}
    n = evolution.offspring_per_colony
    n_mutations = int(rng.binomial(n, evolution.mutation_rate))
    methods = sorted([*evolution.mutation_methods, *([TRANSLATION] if len(languages) > 1 else [])])
    plans: list[OffspringPlan] = []
    for _ in range(n_mutations):
        if weights is None:
            picked = int(rng.integers(len(population)))
        else:
            picked = int(rng.choice(len(population), p=weights))
        parent = population[picked]
        method = methods[int(rng.integers(len(methods)))]
        language = Language(parent.language)
        if method == TRANSLATION:
            language = translation_target(rng, languages, language)
        plans.append(OffspringPlan(colony, MUTATION, (parent,), 1, method, language.value))
    remaining = n - n_mutations
    k = min(evolution.crossover_parents, len(population))
    while remaining > 0:
        n_tasks = min(evolution.crossover_tasks_per_call, remaining)
        language = draw_language(rng, languages)
        pool = None
        if len(languages) > 1 and member_languages is not None:
            pool = parent_pool(member_languages, language, k)
        picks = _crossover_parents(rng, len(population), k, weights, pool)
        parents = tuple(population[int(i)] for i in picks)
        plans.append(OffspringPlan(colony, CROSSOVER, parents, n_tasks, None, language.value))
        remaining -= n_tasks
    return plans


def _crossover_parents(
    rng: np.random.Generator,
    size: int,
    k: int,
    weights: np.ndarray | None,
    pool: list[int] | None,
) -> np.ndarray:
    """k distinct members, by weight; from `pool` (indexes) where one is given."""
    if pool is None:
        return rng.choice(size, size=k, replace=False, p=weights)
    chosen = np.array(pool)
    p = None if weights is None else weights[chosen] / weights[chosen].sum()
    return chosen[rng.choice(len(chosen), size=k, replace=False, p=p)]
