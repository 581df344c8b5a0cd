"""Planning offspring, building Instructor prompts, and parsing what the Instructor says."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from genetic_instruct.config import EvolutionConfig
from genetic_instruct.operators import (
    CROSSOVER,
    MUTATION,
    parse_crossover,
    parse_mutation,
    plan_colony,
    render_instructor_prompt,
)
from genetic_instruct.prompts import load_templates
from genetic_instruct.records import Individual


def _population(n: int) -> list[Individual]:
    return [
        Individual(id=f"p{i}", instruction=f"Write function f{i} that adds {i}.", solution="",
                   origin="seed", generation=0)
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
    for plan in plans:
        prompt = render_instructor_prompt(plan, templates, evo.mutation_methods)
        for parent in plan.parents:
            assert parent.instruction in prompt
        if plan.operator == MUTATION:
            assert evo.mutation_methods[plan.method] in prompt
        else:
            assert f"Write {plan.n_tasks} new" in prompt


def test_parse_crossover_splits_on_task_headers() -> None:
    text = (
        "Sure! Here are the tasks.\n"
        "Task 1: Write a function that reverses words.\n"
        "1. keep punctuation\n2. handle empty strings\n"
        "**Task 2:** Implement a queue with two stacks.\n"
        "### Task 3 - Count vowels in a string."
    )
    tasks = parse_crossover(text, 3)
    assert tasks[0].startswith("Write a function that reverses words.")
    assert "2. handle empty strings" in tasks[0]  # numbered lists stay inside a task
    assert tasks[1] == "Implement a queue with two stacks."
    assert tasks[2] == "Count vowels in a string."
    assert parse_crossover(text, 2) == tasks[:2]


def test_parse_crossover_without_headers_is_one_task_and_code_is_dropped() -> None:
    text = "Write a function that sums a list.\n```python\ndef f(x): return sum(x)\n```"
    assert parse_crossover(text, 2) == ["Write a function that sums a list."]
    assert parse_crossover("   \n  ", 2) == []


def test_parse_mutation_strips_the_lead() -> None:
    assert parse_mutation("**New task:** Sort in O(n).") == ["Sort in O(n)."]
    assert parse_mutation("Sort in O(n).") == ["Sort in O(n)."]
    assert parse_mutation("New task:") == []


@settings(max_examples=300, deadline=None)
@given(st.text(), st.integers(min_value=1, max_value=5))
def test_parsers_never_raise_on_arbitrary_model_output(text: str, n: int) -> None:
    tasks = parse_crossover(text, n)
    assert len(tasks) <= n and all(t.strip() for t in tasks)
    assert len(parse_mutation(text)) <= 1
