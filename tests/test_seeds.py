"""Seed files: the shipped seeds are sound, and malformed files fail with file:line."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from genetic_instruct.errors import SeedFileError
from genetic_instruct.sandbox import SandboxLimits, run_many
from genetic_instruct.seeds import BUILTIN, load_seeds


def test_builtin_seeds_are_many_and_varied() -> None:
    seeds = load_seeds(BUILTIN)
    assert len(seeds) >= 100
    topics = Counter(s.topic for s in seeds)
    assert len(topics) >= 12
    assert all(s.tests and s.tests.count("assert") >= 4 for s in seeds)
    assert len({s.instruction for s in seeds}) == len(seeds)


def test_every_reference_solution_passes_its_tests_in_a_child_process() -> None:
    seeds = load_seeds(BUILTIN)
    results = run_many([(s.solution, s.tests or "") for s in seeds], SandboxLimits(wall_seconds=20))
    failing = [(s.id, r.status, r.detail) for s, r in zip(seeds, results) if r.status != "passed"]
    assert failing == []


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["{not json"], ":1: not valid JSON"),
        (['["a"]'], ":1: expected a JSON object, got list"),
        (['{"instruction": "x"}'], ":1: field 'solution' must be a non-empty string"),
        (['{"instruction": "x", "solution": "def f(:"}'], ":1: field 'solution' is not valid Python"),
        (['{"instruction": "x", "solution": "y=1", "tests": 5}'], ":1: field 'tests' must be a string"),
        (
            ['{"id": "a", "instruction": "x", "solution": "y=1"}', "",
             '{"id": "a", "instruction": "z", "solution": "y=1"}'],
            ":3: duplicate id 'a' (first on line 1)",
        ),
        ([], ": no seed tasks in file"),
    ],
)
def test_malformed_seed_files_name_file_and_line(
    tmp_path: Path, lines: list[str], message: str
) -> None:
    path = tmp_path / "seeds.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SeedFileError) as error:
        load_seeds(str(path))
    assert str(error.value) == f"{path}{message}" or str(error.value).startswith(f"{path}{message}")


def test_missing_seed_file_names_the_config_key(tmp_path: Path) -> None:
    with pytest.raises(SeedFileError, match="config key seeds"):
        load_seeds(str(tmp_path / "nope.jsonl"))


def test_user_seeds_without_ids_get_content_ids(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps({"instruction": "Add two numbers.", "solution": "def f(a, b): return a + b"}) + "\n")
    (seed,) = load_seeds(str(path))
    assert len(seed.id) == 16 and seed.origin == "seed" and seed.generation == 0
