"""Loading seed tasks (JSONL) and rejecting malformed files before any model loads.

Each line: {"instruction": str, "solution": str, "tests"?: str, "id"?: str, "topic"?: str,
"difficulty"?: str}, or a chat / prompt-response record (formats.py). Errors name the
file and line, so a user with 500 seeds finds the bad one.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genetic_instruct.errors import SeedFileError
from genetic_instruct.files.jsonl import not_text, parse_object
from genetic_instruct.files.shipped import BUILTIN, language_seeds_path, resolve_seeds_path
from genetic_instruct.individual import Individual, content_id
from genetic_instruct.languages import SYNTAX, Language, known_names, language_named
from genetic_instruct.sandbox import syntax_trees
from genetic_instruct.seeding.formats import OPTIONAL, detect, to_native


def _parse_json(where: str, line: str) -> dict[str, Any]:
    try:
        return parse_object(line)
    except ValueError as error:
        raise SeedFileError(f"{where}: {error}") from None


def _to_seed(where: str, record: dict[str, Any], fmt: str, default: Language) -> Individual:
    data = to_native(where, record, fmt)
    for key in OPTIONAL:
        if key in data and not isinstance(data[key], str):
            raise SeedFileError(f"{where}: field {key!r} must be a string")
    language = language_named(data["language"]) if "language" in data else default
    if language is None:
        raise SeedFileError(
            f"{where}: field 'language' names no language this tool runs "
            f"({data['language']!r}; known: {known_names()})"
        )
    for key in ("solution", "tests"):
        if key in data:
            problem = _syntax_problem(data[key], language)
            if problem:
                raise SeedFileError(
                    f"{where}: field {key!r} is not valid {SYNTAX[language].title} ({problem})"
                )
    return Individual(
        id=data.get("id") or content_id(data["instruction"]),
        instruction=data["instruction"].strip(),
        solution=data["solution"],
        tests=data.get("tests"),
        origin="seed",
        generation=0,
        topic=data.get("topic"),
        language=language.value,
    )


def _syntax_problem(code: str, language: Language) -> str | None:
    """'line N: what' where `code` does not parse as `language`, else None."""
    if language is not Language.python:
        return syntax_trees.first_syntax_error(syntax_trees.parse(language, code))
    try:
        ast.parse(code)
    except SyntaxError as error:
        return f"line {error.lineno}: {error.msg}"
    return None


@dataclass(frozen=True)
class SeedFile:
    path: Path
    seeds: list[Individual]
    lines: list[int]  # each seed's line number, for messages that point at it
    files: tuple[Path, ...] = ()  # each seed's file where they come from several

    def where(self, index: int) -> str:
        """file:line of the seed at `index`, for messages that point at it."""
        path = self.files[index] if self.files else self.path
        return f"{path}:{self.lines[index]}"


def load_seeds(
    spec: str, seeds_format: str = "auto", languages: Sequence[Language] = (Language.python,)
) -> list[Individual]:
    """Read and validate a seed file; raise SeedFileError naming file:line on the first fault."""
    return load_seed_file(spec, seeds_format, languages).seeds


def load_seed_file(
    spec: str, seeds_format: str = "auto", languages: Sequence[Language] = (Language.python,)
) -> SeedFile:
    """`load_seeds`, keeping where each seed is in the file; `auto` reads the file in the
    format of its first record. `builtin` is the shipped file of each of the run's
    `languages`; a seed in a file of one's own is in the run's first language unless its
    `language` field says otherwise."""
    if spec == BUILTIN and list(languages) != [Language.python]:
        return _builtin_files(languages)
    return _one_file(resolve_seeds_path(spec), seeds_format, languages[0])


def _builtin_files(languages: Sequence[Language]) -> SeedFile:
    parts = [_one_file(language_seeds_path(lang.value), "native", lang) for lang in languages]
    files = tuple(part.path for part in parts for _ in part.seeds)
    seeds = [seed for part in parts for seed in part.seeds]
    lines = [line for part in parts for line in part.lines]
    return SeedFile(parts[0].path.parent, seeds, lines, files)


def _one_file(path: Path, seeds_format: str, default: Language) -> SeedFile:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SeedFileError(f"{path}: seed file not found (config key seeds)") from None
    except OSError as error:
        raise SeedFileError(f"{path}: cannot read seed file ({error.strerror})") from None
    seeds: list[Individual] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(data.split(b"\n"), 1):
        where = f"{path}:{number}"
        line = _decode(where, raw)
        if not line.strip():
            continue
        record = _parse_json(where, line)
        if seeds_format == "auto":
            seeds_format = detect(record)
        seed = _to_seed(where, record, seeds_format, default)
        if seed.id in seen:
            raise SeedFileError(
                f"{where}: duplicate id {seed.id!r} (first on line {seen[seed.id]})"
            )
        seen[seed.id] = number
        seeds.append(seed)
    if not seeds:
        raise SeedFileError(f"{path}: no seed tasks in file")
    return SeedFile(path, seeds, list(seen.values()))


def _decode(where: str, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SeedFileError(
            f"{where}: {not_text(raw, error)}; save the seed file as UTF-8"
        ) from None


# The record's fields when runs began to keep a seed digest (0.2.0): each counts, set or
# not. A field added since counts only where a seed sets it, so that seeds whose content
# did not change keep their digest, and a run made before the field resumes.
_FIRST_DIGEST_FIELDS = frozenset(
    {
        *("id", "instruction", "solution", "origin", "generation", "tests", "method"),
        *("parents", "colony", "models", "prompt_hashes", "scores", "fitness", "rationale"),
        *("topic", "execution"),
    }
)


def seeds_digest(seeds: Sequence[Individual]) -> str:
    """The seed tasks' content as one hash: a resume compares it, not the file's path."""
    digest = hashlib.sha256()
    unset = _unset_values()
    for seed in seeds:
        record = {
            key: value
            for key, value in seed.to_dict().items()
            if key in _FIRST_DIGEST_FIELDS or value != unset.get(key, dataclasses.MISSING)
        }
        digest.update(json.dumps(record, sort_keys=True).encode("utf-8") + b"\n")
    return digest.hexdigest()[:16]


def _unset_values() -> dict[str, Any]:
    """Each defaulted field of an Individual, at its default (as to_dict writes it)."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(Individual):
        if f.default is not dataclasses.MISSING:
            values[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            values[f.name] = f.default_factory()
    return values
