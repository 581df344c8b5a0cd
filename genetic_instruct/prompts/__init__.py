"""Prompt templates, one file per operator or role, hashed so lineage records which was used.

Templates use `string.Template` ($name) rather than str.format, because code and JSON in
the prompts are full of braces.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from string import Template

from genetic_instruct.individual import text_hash

TEMPLATE_NAMES = (
    "crossover",
    "mutation",
    "coder",
    "coder_tests",
    "tester",
    "judge",
    # the other languages' (prompts/languages.py), and the translation mutation
    "code_crossover",
    "code_coder",
    "code_coder_tests",
    "code_tester",
    "translation",
)


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    text: str

    @functools.cached_property
    def hash(self) -> str:
        """Recorded in every survivor's lineage: hashed once per template."""
        return text_hash(self.text)

    def render(self, **values: object) -> str:
        return Template(self.text).substitute({k: str(v) for k, v in values.items()})


def load_templates() -> dict[str, PromptTemplate]:
    folder = resources.files(__package__)
    return {
        name: PromptTemplate(name, (folder / f"{name}.txt").read_text(encoding="utf-8"))
        for name in TEMPLATE_NAMES
    }
