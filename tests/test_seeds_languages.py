"""The shipped seeds in C++, Java, JavaScript, Rust and Go: 30 each, sound, and passing
their own tests in the sandbox.

All 150 are built and run by bench/languages_bench.py (about a minute on two cores, with
their mutation scores: bench/RESULTS-sandbox.md); here every sixth of each language is, so
that a broken toolchain or harness shows in the suite without its minute.
"""

from __future__ import annotations

import json

import pytest

from genetic_instruct.files.shipped import language_seeds_path
from genetic_instruct.languages import Language
from genetic_instruct.sandbox import SandboxLimits, run_many, syntax_trees

from .test_sandbox_languages import LANGUAGES, needs


def seeds(language: str) -> list[dict]:
    lines = language_seeds_path(language).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.mark.parametrize("language", LANGUAGES)
def test_thirty_seeds_each_with_a_solution_and_tests_that_parse(language: str) -> None:
    found = seeds(language)
    assert len(found) >= 30
    assert len({s["id"] for s in found}) == len({s["instruction"] for s in found}) == len(found)
    assert all(s["language"] == language for s in found)
    for seed in found:
        for field in ("solution", "tests"):
            tree = syntax_trees.parse(Language(language), seed[field])
            assert syntax_trees.first_syntax_error(tree) is None, (seed["id"], field)


def test_a_sample_of_each_languages_seeds_passes_its_tests() -> None:
    jobs, ids = [], []
    for language in LANGUAGES:
        needs(language)
        for seed in seeds(language)[::6]:
            jobs.append((seed["solution"], seed["tests"], language))
            ids.append(seed["id"])
    results = run_many(jobs, SandboxLimits(wall_seconds=30))
    failing = [(i, r.status, r.detail) for i, r in zip(ids, results) if r.status != "passed"]
    assert failing == []
