"""The prompts for the other languages ask for what the reader takes and the harness counts."""

from __future__ import annotations

from string import Template

import pytest

from genetic_instruct.answers.language_code import read_program
from genetic_instruct.files.shipped import language_seeds_path
from genetic_instruct.languages import Language
from genetic_instruct.prompts.languages import FENCE, prompt_values

from .test_sandbox_languages import LANGUAGES
from .test_seeds_languages import seeds

TEMPLATES = ("code_coder", "code_coder_tests", "code_tester", "code_crossover", "translation")


def template(name: str) -> Template:
    from importlib import resources

    return Template(resources.files("genetic_instruct.prompts").joinpath(f"{name}.txt").read_text())


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_template_fills_for_every_language(language: str) -> None:
    values = {
        **prompt_values(Language(language)),
        "instruction": "Write `f`.",
        "solution": "x",
        "k": 2,
        "n": 3,
        "examples": "...",
        "source": "Python",
        "target": prompt_values(Language(language))["language"],
    }
    for name in TEMPLATES:
        text = template(name).substitute(values)  # KeyError for a value it lacks
        assert values["language"] in text


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_seed_answered_as_the_prompt_asks_is_read_back(language: str) -> None:
    """The seeds are written in the idiom the prompt asks for: each one answered as
    code_coder_tests.txt asks (two fenced blocks, solution then tests) reads back exactly."""
    assert language_seeds_path(language).is_file()
    fence = FENCE[Language(language)]
    for seed in seeds(language):
        answer = f"```{fence}\n{seed['solution']}```\n\n```{fence}\n{seed['tests']}```\n"
        read = read_program(answer, Language(language), seed["instruction"])
        assert read == (seed["solution"].rstrip("\n"), seed["tests"].rstrip("\n")), seed["id"]
