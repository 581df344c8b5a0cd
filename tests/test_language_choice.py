"""Each offspring's language: by the run's weights, in offspring order, the same for a seed."""

from __future__ import annotations

import numpy as np
import pytest

from genetic_instruct.evolution.language_choice import (
    draw_language,
    parent_pool,
    translation_target,
)
from genetic_instruct.languages import Language, language_weights


def test_weights_come_from_one_language_or_several_by_any_name() -> None:
    assert language_weights("c++", None) == {Language.cpp: 1.0}
    weights = language_weights("python", {"go": 1, "Python": 2, "js": 1})
    assert weights == {Language.python: 0.5, Language.javascript: 0.25, Language.go: 0.25}
    assert list(weights) == [Language.python, Language.javascript, Language.go]


@pytest.mark.parametrize(
    ("language", "languages", "message"),
    [
        ("cobol", None, "unknown language 'cobol'; known: python, cpp"),
        ("python", {"cpp": 0}, "cpp: weight must be a positive number, got 0"),
        ("python", {"rust": 1, "brainfuck": 1}, "unknown language 'brainfuck'"),
    ],
)
def test_bad_settings_name_what_is_wrong(language, languages, message) -> None:
    with pytest.raises(ValueError, match=message):
        language_weights(language, languages)


def test_draws_follow_the_weights_and_the_seed() -> None:
    weights = language_weights("python", {"python": 0.5, "cpp": 0.3, "rust": 0.2})
    draws = [draw_language(np.random.default_rng(7), weights) for _ in range(3)]
    assert len(set(draws)) == 1  # the same seed, the same language
    rng = np.random.default_rng(1)
    counts = {lang: 0 for lang in weights}
    for _ in range(4000):
        counts[draw_language(rng, weights)] += 1
    assert abs(counts[Language.python] / 4000 - 0.5) < 0.03
    assert abs(counts[Language.rust] / 4000 - 0.2) < 0.03


def test_one_language_draws_nothing_from_the_stream() -> None:
    rng = np.random.default_rng(3)
    before = rng.bit_generator.state
    assert draw_language(rng, {Language.go: 1.0}) is Language.go
    assert rng.bit_generator.state == before


def test_a_translation_goes_to_another_language() -> None:
    weights = language_weights("python", {"python": 0.9, "java": 0.1})
    rng = np.random.default_rng(0)
    assert {translation_target(rng, weights, Language.python) for _ in range(20)} == {Language.java}
    assert translation_target(rng, {Language.cpp: 1.0}, Language.cpp) is Language.cpp


def test_crossover_parents_share_the_offsprings_language_where_enough_do() -> None:
    population = [Language.python, Language.cpp, Language.python, Language.cpp, Language.cpp]
    assert parent_pool(population, Language.cpp, 3) == [1, 3, 4]
    assert parent_pool(population, Language.go, 2) == [0, 1, 2, 3, 4]
