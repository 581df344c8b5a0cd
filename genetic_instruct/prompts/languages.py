"""What the prompts for C++, Java, JavaScript, Rust and Go say about each language.

The Python prompts (coder.txt, coder_tests.txt, tester.txt, crossover.txt) stay as they
are, word for word: their hashes are in every Python record's lineage. The other
languages share one template per role (code_*.txt), filled with the language's name, its
fence tag and how its tests are written, so that what the Coder is asked for is exactly
what the sandbox's harness counts (sandbox/toolchains/) and the reader takes
(answers/language_code.py). translation.txt asks the mutation that moves a task from one
language to another. `as_seen` is a template as a run's languages fill it: what a resume
compares (data_settings.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from string import Template

from genetic_instruct.languages import SYNTAX, Language
from genetic_instruct.prompts import PromptTemplate

OTHERS = "code_"  # code_coder.txt is coder.txt for every language but Python

# Each language's tests, as the sandbox runs and counts them.
TESTS_IDIOM = {
    Language.cpp: (
        "Write the tests as an `int main()` of at least 4 `assert(...)` calls "
        "(#include <cassert>), each on its own line."
    ),
    Language.java: (
        "Write the tests as a class `Main` whose `public static void main(String[] args)` "
        "holds at least 4 `assert` statements, each on its own line."
    ),
    Language.javascript: (
        "Write the tests as at least 4 calls of node's assert module "
        "(`const assert = require('node:assert');`, `assert.deepStrictEqual(...)`), "
        "each on its own line."
    ),
    Language.rust: (
        "Write the tests as a `fn main()` of at least 4 `assert_eq!` or `assert!` calls, "
        "each on its own line."
    ),
    Language.go: (
        "Write the tests in package main as at least 2 `func TestXxx(t *testing.T)` "
        'functions (import "testing") that call t.Errorf when a result is wrong.'
    ),
}

# The fence tag each language is asked for (the reader takes its aliases too).
FENCE = {
    Language.cpp: "cpp",
    Language.java: "java",
    Language.javascript: "javascript",
    Language.rust: "rust",
    Language.go: "go",
}


def fence_tag(language: Language) -> str:
    """The tag a prompt fences `language`'s code with."""
    return "python" if language is Language.python else FENCE[language]


def prompt_values(language: Language) -> dict[str, str]:
    """The values code_*.txt are filled with for `language`."""
    return {
        "language": SYNTAX[language].title,
        "fence": FENCE[language],
        "tests_idiom": TESTS_IDIOM[language],
    }


@dataclass(frozen=True)
class LanguagePrompts:
    """A role's Python template and the template its other languages share (code_*.txt)."""

    python: PromptTemplate
    other: PromptTemplate

    def template(self, language: Language) -> PromptTemplate:
        return self.python if language is Language.python else self.other

    def render(self, language: Language, **values: object) -> str:
        """The prompt in `language`, the language's own values filled in for the others."""
        extra = {} if language is Language.python else prompt_values(language)
        return self.template(language).render(**values, **extra)


def language_prompts(templates: dict[str, PromptTemplate], name: str) -> LanguagePrompts:
    """The role template `name` (coder, coder_tests, tester, crossover) in every language."""
    return LanguagePrompts(templates[name], templates[f"{OTHERS}{name}"])


def as_seen(templates: dict[str, PromptTemplate], name: str, languages: Sequence[Language]) -> str:
    """Template `name` as a run in `languages` fills it, the per-offspring values
    ($instruction, ...) aside: what every prompt it makes shares, so that a template whose
    placeholders changed and whose prompts did not (judge.txt's ```$fence, ```python before)
    is the same. One text per language that uses it, each text once; a template none of
    them uses is its own text."""
    users = [language for language in languages if _uses(templates, name, language)]
    text = Template(templates[name].text)
    seen = dict.fromkeys(text.safe_substitute(_run_values(language)) for language in users)
    return "\n".join(seen) if seen else text.template


def _uses(templates: dict[str, PromptTemplate], name: str, language: Language) -> bool:
    """Whether offspring in `language` are prompted with template `name`."""
    if name.startswith(OTHERS):
        return language is not Language.python
    if f"{OTHERS}{name}" in templates:
        return language is Language.python
    return True


def _run_values(language: Language) -> dict[str, str]:
    """What prompts in `language` are filled with whatever the offspring: its fence tag
    (the judge shows code in it), and for the other languages their name and test idiom."""
    if language is Language.python:
        return {"fence": fence_tag(language)}
    return prompt_values(language)
