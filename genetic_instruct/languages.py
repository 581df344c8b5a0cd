"""The programming languages a record can be written in, and what each one is called.

One source of truth for the names: the config's `language` settings, a seed's `language`
field, the Coder's fences (```c++ is C++), the sandbox's toolchains and dedup's comment
syntax all look a language up here. The names are the ones MultiPL-E and SandboxFusion
use for the same languages, so a benchmark file's `language` column reads as is.
"""

from __future__ import annotations

from dataclasses import dataclass

from genetic_instruct.choices import Choice


class Language(Choice):
    python = "python"
    cpp = "cpp"
    java = "java"
    javascript = "javascript"
    rust = "rust"
    go = "go"


@dataclass(frozen=True)
class Syntax:
    """How a language is named and written, as far as reading and comparing code needs.

    title: the name people write ("C++"), for prompts and messages.
    aliases: other names for it, fence info strings included (```c++, ```js), lower case.
    extension: a source file's extension, dot included.
    line_comment / block_comment: comment markers (block: opening and closing).
    quotes: the characters that open a string literal.
    """

    title: str
    aliases: tuple[str, ...]
    extension: str
    line_comment: str
    block_comment: tuple[str, str] | None
    quotes: str


SYNTAX: dict[Language, Syntax] = {
    Language.python: Syntax("Python", ("py", "python3"), ".py", "#", None, "'\""),
    Language.cpp: Syntax("C++", ("c++", "cc", "cxx", "hpp"), ".cpp", "//", ("/*", "*/"), "'\""),
    Language.java: Syntax("Java", (), ".java", "//", ("/*", "*/"), "'\""),
    Language.javascript: Syntax(
        "JavaScript", ("js", "node", "nodejs", "mjs", "cjs"), ".js", "//", ("/*", "*/"), "'\"`"
    ),
    Language.rust: Syntax("Rust", ("rs",), ".rs", "//", ("/*", "*/"), '"'),
    Language.go: Syntax("Go", ("golang",), ".go", "//", ("/*", "*/"), "'\"`"),
}

_BY_NAME = {
    name: language
    for language, syntax in SYNTAX.items()
    for name in (language.value, *syntax.aliases)
}


def language_named(name: str) -> Language | None:
    """The language a name or fence tag means (case-insensitive), or None."""
    return _BY_NAME.get(name.strip().lower())


def known_names() -> str:
    """The languages' own names, for messages about a name that is none of them."""
    return ", ".join(language.value for language in Language)


def language_weights(language: str, languages: dict[str, float] | None) -> dict[Language, float]:
    """The languages a run writes and each one's share of the offspring, from the config's
    `language=` (one) or `languages={python: 0.5, cpp: 0.2, ...}` (several, weighted;
    it wins when given). Shares are normalized to sum to 1; ValueError naming the first
    unknown name or bad weight. Ordered as Language is, so draws do not depend on the
    order the user wrote them in."""
    if not languages:
        chosen = language_named(language)
        if chosen is None:
            raise ValueError(f"unknown language {language!r}; known: {known_names()}")
        return {chosen: 1.0}
    weights: dict[Language, float] = {}
    for name, weight in languages.items():
        chosen = language_named(str(name))
        if chosen is None:
            raise ValueError(f"unknown language {name!r}; known: {known_names()}")
        if not isinstance(weight, (int, float)) or not weight > 0:
            raise ValueError(f"{name}: weight must be a positive number, got {weight!r}")
        weights[chosen] = weights.get(chosen, 0.0) + float(weight)
    total = sum(weights.values())
    return {lang: weights[lang] / total for lang in Language if lang in weights}
