"""Which language each offspring is written in, drawn in offspring order from the colony's
RNG, so the same seed gives the same languages.

    crossover: the language is drawn from the run's weights (`languages=`); its parents
        are drawn among the population in that language where there are enough, so the
        examples the Instructor imitates are in the language it is asked to write.
    mutation: the parent's language is kept, except by the `translation` method, which
        asks for the same task in another of the run's languages, drawn by their weights.

A run in one language draws nothing here: its RNG stream, and so its dataset, is what it
was before languages existed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from genetic_instruct.languages import Language

TRANSLATION = "translation"


def draw_language(rng: np.random.Generator, weights: dict[Language, float]) -> Language:
    """One language by weight; no draw at all when there is only one."""
    languages = list(weights)
    if len(languages) == 1:
        return languages[0]
    index = int(rng.choice(len(languages), p=np.array([weights[lang] for lang in languages])))
    return languages[index]


def translation_target(
    rng: np.random.Generator, weights: dict[Language, float], source: Language
) -> Language:
    """Another of the run's languages than `source`, by weight (`source` if it is alone)."""
    others = {lang: weight for lang, weight in weights.items() if lang is not source}
    if not others:
        return source
    total = sum(others.values())
    return draw_language(rng, {lang: weight / total for lang, weight in others.items()})


def parent_pool(population: Sequence[Language], language: Language, k: int) -> list[int]:
    """Indexes of the population to draw `k` crossover parents from: those in `language`
    when there are at least `k`, else everyone."""
    same = [i for i, lang in enumerate(population) if lang is language]
    return same if len(same) >= k else list(range(len(population)))
