"""Loading seed tasks (JSONL) and rejecting malformed files before any model loads.

Each line: {"instruction": str, "solution": str, "tests"?: str, "id"?: str, "topic"?: str,
"difficulty"?: str}. Errors name the file and line, so a user with 500 seeds finds the bad one.
"""

from __future__ import annotations

import ast
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from genetic_instruct.errors import SeedFileError
from genetic_instruct.records import Individual, content_id

BUILTIN = "builtin"
_REQUIRED = ("instruction", "solution")
_OPTIONAL_TEXT = ("tests", "id", "topic", "difficulty")


def builtin_seeds_path() -> Path:
    """The seeds shipped in the repository's seeds/ folder (an editable install)."""
    return Path(__file__).resolve().parent.parent / "seeds" / "python.jsonl"


def resolve_seeds_path(spec: str) -> Path:
    return builtin_seeds_path() if spec == BUILTIN else Path(spec)


def _parse_line(where: str, line: str) -> Individual:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as error:
        raise SeedFileError(f"{where}: not valid JSON ({error.msg})") from None
    if not isinstance(data, dict):
        raise SeedFileError(f"{where}: expected a JSON object, got {type(data).__name__}")
    for key in _REQUIRED:
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            raise SeedFileError(f"{where}: field {key!r} must be a non-empty string")
    for key in _OPTIONAL_TEXT:
        if key in data and not isinstance(data[key], str):
            raise SeedFileError(f"{where}: field {key!r} must be a string")
    for key in ("solution", "tests"):
        if key in data:
            try:
                ast.parse(data[key])
            except SyntaxError as error:
                raise SeedFileError(
                    f"{where}: field {key!r} is not valid Python (line {error.lineno}: "
                    f"{error.msg})"
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


def load_seeds(spec: str) -> list[Individual]:
    """Read and validate a seed file; raise SeedFileError naming file:line on the first fault."""
    return load_seed_file(spec).seeds


def load_seed_file(spec: str) -> SeedFile:
    """`load_seeds`, keeping where each seed is in the file."""
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
        seed = _parse_line(where, line)
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
            f"{where}: not UTF-8 text (byte {raw[error.start]:#04x} at column {error.start + 1}); "
            "save the seed file as UTF-8"
        ) from None


def seeds_digest(seeds: Sequence[Individual]) -> str:
    """The seed tasks' content as one hash: a resume compares it, not the file's path."""
    digest = hashlib.sha256()
    for seed in seeds:
        digest.update(json.dumps(seed.to_dict(), sort_keys=True).encode("utf-8") + b"\n")
    return digest.hexdigest()[:16]
