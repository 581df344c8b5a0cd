"""Loading seed tasks (JSONL) and rejecting malformed files before any model loads.

Each line: {"instruction": str, "solution": str, "tests"?: str, "id"?: str, "topic"?: str,
"difficulty"?: str}, or a chat / prompt-response record (formats.py). Errors name the
file and line, so a user with 500 seeds finds the bad one.
"""

from __future__ import annotations

import ast
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genetic_instruct.errors import SeedFileError
from genetic_instruct.files.jsonl import not_text, parse_object
from genetic_instruct.files.shipped import resolve_seeds_path
from genetic_instruct.individual import Individual, content_id
from genetic_instruct.seeding.formats import OPTIONAL, detect, to_native


def _parse_json(where: str, line: str) -> dict[str, Any]:
    try:
        return parse_object(line)
    except ValueError as error:
        raise SeedFileError(f"{where}: {error}") from None


def _to_seed(where: str, record: dict[str, Any], fmt: str) -> Individual:
    data = to_native(where, record, fmt)
    for key in OPTIONAL:
        if key in data and not isinstance(data[key], str):
            raise SeedFileError(f"{where}: field {key!r} must be a string")
    for key in ("solution", "tests"):
        if key in data:
            try:
                ast.parse(data[key])
            except SyntaxError as error:
                raise SeedFileError(
                    f"{where}: field {key!r} is not valid Python (line {error.lineno}: {error.msg})"
                ) from None
    return Individual(
        id=data.get("id") or content_id(data["instruction"]),
        instruction=data["instruction"].strip(),
        solution=data["solution"],
        tests=data.get("tests"),
        origin="seed",
        generation=0,
        topic=data.get("topic"),
    )


@dataclass(frozen=True)
class SeedFile:
    path: Path
    seeds: list[Individual]
    lines: list[int]  # each seed's line number, for messages that point at it


def load_seeds(spec: str, seeds_format: str = "auto") -> list[Individual]:
    """Read and validate a seed file; raise SeedFileError naming file:line on the first fault."""
    return load_seed_file(spec, seeds_format).seeds


def load_seed_file(spec: str, seeds_format: str = "auto") -> SeedFile:
    """`load_seeds`, keeping where each seed is in the file; `auto` reads the file in the
    format of its first record."""
    path = resolve_seeds_path(spec)
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
        seed = _to_seed(where, record, seeds_format)
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


def seeds_digest(seeds: Sequence[Individual]) -> str:
    """The seed tasks' content as one hash: a resume compares it, not the file's path."""
    digest = hashlib.sha256()
    for seed in seeds:
        digest.update(json.dumps(seed.to_dict(), sort_keys=True).encode("utf-8") + b"\n")
    return digest.hexdigest()[:16]
