"""The fitness aggregate over a verdict and the execution result."""

from __future__ import annotations

import pytest

from genetic_instruct.evolution.fitness import JudgeVerdict, fitness


def test_fitness_is_the_weighted_mean() -> None:
    verdict = JudgeVerdict({"correctness": 10.0, "quality": 5.0}, "")
    assert fitness(verdict, {"correctness": 0.6, "quality": 0.4}) == pytest.approx(8.0)
    assert fitness(verdict, {"quality": 1.0}) == 5.0


def test_the_tests_term_is_the_pass_fraction_on_the_judges_scale() -> None:
    verdict = JudgeVerdict({"correctness": 4.0, "quality": 4.0}, "")
    assert fitness(verdict, {"correctness": 1.0, "tests": 1.0}, 0.5) == pytest.approx(4.5)
