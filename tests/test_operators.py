"""Planning offspring, and the Instructor prompts built for the plans."""

from __future__ import annotations

import numpy as np

from genetic_instruct.config import EvolutionConfig
from genetic_instruct.evolution.operators import CROSSOVER, MUTATION, plan_colony
from genetic_instruct.evolution.roles import CrossoverRole, MutationRole
from genetic_instruct.individual import Individual
from genetic_instruct.prompts import load_templates
from genetic_instruct.prompts.languages import language_prompts


def _population(n: int) -> list[Individual]:
    return [
        Individual(
            id=f"p{i}",
            instruction=f"Write function f{i} that adds {i}.",
            solution="",
            origin="seed",
            generation=0,
        )
        for i in range(n)
    ]


def test_plan_is_a_pure_function_of_the_rng_seed() -> None:
    pop, evo = _population(50), EvolutionConfig(offspring_per_colony=20)
    first = plan_colony(np.random.default_rng(7), pop, evo, colony=1)
    again = plan_colony(np.random.default_rng(7), pop, evo, colony=1)
    other = plan_colony(np.random.default_rng(8), pop, evo, colony=1)
    assert first == again
    assert first != other


def test_plan_asks_for_exactly_the_configured_offspring() -> None:
    evo = EvolutionConfig(offspring_per_colony=17, crossover_tasks_per_call=3)
    plans = plan_colony(np.random.default_rng(0), _population(30), evo, colony=0)
    assert sum(p.n_tasks for p in plans) == 17
    for plan in plans:
        if plan.operator == CROSSOVER:
            assert len({p.id for p in plan.parents}) == len(plan.parents) == 3
        else:
            assert plan.operator == MUTATION and len(plan.parents) == 1
            assert plan.method in evo.mutation_methods


def test_mutation_rate_extremes() -> None:
    pop = _population(10)
    only_mut = plan_colony(np.random.default_rng(0), pop, EvolutionConfig(mutation_rate=1.0), 0)
    only_cross = plan_colony(np.random.default_rng(0), pop, EvolutionConfig(mutation_rate=0.0), 0)
    assert {p.operator for p in only_mut} == {MUTATION}
    assert {p.operator for p in only_cross} == {CROSSOVER}


def test_crossover_with_fewer_parents_than_k_uses_all() -> None:
    plans = plan_colony(
        np.random.default_rng(0), _population(2), EvolutionConfig(mutation_rate=0.0), 0
    )
    assert all(len(p.parents) == 2 for p in plans)


def test_prompts_carry_parents_and_method() -> None:
    templates = load_templates()
    evo = EvolutionConfig(offspring_per_colony=10)
    plans = plan_colony(np.random.default_rng(3), _population(20), evo, 0)
    roles = {
        MUTATION: MutationRole(
            templates["mutation"], evo.mutation_methods, templates["translation"]
        ),
        CROSSOVER: CrossoverRole(language_prompts(templates, "crossover")),
    }
    for plan in plans:
        prompt = roles[plan.operator].prompt(plan)
        for parent in plan.parents:
            assert parent.instruction in prompt
        if plan.operator == MUTATION:
            assert evo.mutation_methods[plan.method] in prompt
        else:
            assert f"Write {plan.n_tasks} new" in prompt
