"""Test strength: mutants are real, different programs, and only tests that call the
solution and check its answers kill them; a run can turn trivial tests away."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genetic_instruct.data_settings import differences, fingerprint
from genetic_instruct.errors import ConfigError
from genetic_instruct.files.shipped import BUILTIN
from genetic_instruct.sandbox import SandboxLimits, SandboxUnavailable, run_tests
from genetic_instruct.sandbox.mutants import OPERATORS, mutants
from genetic_instruct.sandbox.mutation_score import TestedProgram, mutation_results
from genetic_instruct.seeding.seed_file import load_seeds
from tests.conftest import make_config, run_cli

SEEDS = load_seeds(BUILTIN)
LIMITS = SandboxLimits(wall_seconds=10)

# A program with sites for every operator.
RICH = '''
def window_sums(values: list[int], width: int) -> list[int]:
    """Sums of each window of `width` consecutive values."""
    if width <= 0 or width > len(values):
        return []
    total = sum(values[:width])
    sums = [total]
    for i in range(width, len(values)):
        total += values[i] - values[i - width]
        sums.append(total)
    return sums
'''
RICH_TESTS = """
assert window_sums([1, 2, 3, 4], 2) == [3, 5, 7]
assert window_sums([5, 1, 4], 3) == [10]
assert window_sums([1, 2], 3) == []
assert window_sums([1, 2, 3], 0) == []
assert window_sums([4, -2, 7, 0, 1], 1) == [4, -2, 7, 0, 1]
"""


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(SEEDS), st.integers(0, 2**31), st.integers(1, 8))
def test_mutants_compile_differ_and_repeat(seed_task, seed: int, k: int) -> None:
    solution = seed_task.solution
    made = mutants(solution, k, seed)
    original = ast.dump(ast.parse(solution))
    dumps = [ast.dump(ast.parse(m.source)) for m in made]
    assert 0 < len(made) <= k
    assert original not in dumps and len(set(dumps)) == len(dumps)
    for mutant in made:
        compile(mutant.source, "<mutant>", "exec", dont_inherit=True)
    assert mutants(solution, k, seed) == made  # a resumed run makes the same ones


def test_mutants_spread_across_operators() -> None:
    made = mutants(RICH, len(OPERATORS), seed=7)
    assert {m.operator for m in made} == set(OPERATORS)
    assert len({m.operator for m in mutants(RICH, 5, seed=7)}) == 5


def test_annotations_are_never_mutated() -> None:
    source = "def head(xs: list[int]) -> dict[str, int]:\n    return {'x': xs[0]}\n"
    for mutant in mutants(source, 10):
        assert "list[int]" in mutant.source and "dict[str, int]" in mutant.source


@pytest.mark.parametrize(
    "source",
    ["def f(:\n", "x = " + "(" * 5000 + ")" * 5000, "x = 1\x00", "", "import os\n", "pass\n"],
)
def test_odd_code_gets_no_mutants_and_never_raises(source: str) -> None:
    assert mutants(source) == []


@pytest.fixture(scope="module")
def sandbox() -> None:
    try:
        run_tests("", "assert True", LIMITS)
    except SandboxUnavailable as exc:
        pytest.skip(f"sandbox unavailable here: {exc}")


@pytest.mark.parametrize(
    "tests",
    [
        "assert True\nassert True\n",
        "assert 1 + 1 == 2\nassert sorted([2, 1]) == [1, 2]\n",
        # calls a function, but its own, never the solution
        "def mine(xs, w):\n    return []\n"
        "assert mine([1], 2) == []\nassert callable(window_sums)\n",
    ],
)
def test_tests_that_never_call_the_solution_score_zero(sandbox: None, tests: str) -> None:
    [result] = mutation_results([TestedProgram(RICH, tests, 1.0)], LIMITS, 5, seed=0)
    assert result.mutants == 5 and result.killed == 0 and result.score == 0.0


def test_real_tests_kill_most_mutants(sandbox: None) -> None:
    programs = [TestedProgram(RICH, RICH_TESTS, 1.0)] + [
        TestedProgram(s.solution, s.tests or "", 1.0) for s in SEEDS[:4]
    ]
    results = mutation_results(programs, LIMITS, 5, seed=0)
    assert all(r.mutants > 0 for r in results)
    assert sum(r.score for r in results) / len(results) >= 0.8


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("execution.min_mutation_score=1.5", "execution.min_mutation_score: must be in [0, 1]"),
        ("execution.mutants=-1", "execution.mutants: must be >= 0"),
    ],
)
def test_mutation_settings_are_validated(override: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        make_config("engine=scripted", override)


def test_a_gate_needs_mutants() -> None:
    with pytest.raises(ConfigError, match="needs execution.mutants > 0"):
        make_config("engine=scripted", "execution.mutants=0", "execution.min_mutation_score=0.5")


def test_mutation_settings_join_the_resume_check() -> None:
    stored = fingerprint(make_config("engine=scripted"))
    for override in ("execution.mutants=3", "execution.min_mutation_score=0.5"):
        changed = differences(stored, fingerprint(make_config("engine=scripted", override)))
        assert changed == [override.split("=")[0]]


def _run(run_dir: Path, *overrides: str) -> tuple[list[dict], dict]:
    """A one-generation CLI run on the scripted engine: its exported records and the
    generation's stats."""
    result = run_cli(
        "engine=scripted",
        "progress=false",
        "evolution.max_generations=1",
        f"run_dir={run_dir}",
        *overrides,
    )
    assert result.returncode == 0, result.stderr
    lines = (run_dir / "dataset.jsonl").read_text().splitlines()
    report = json.loads((run_dir / "report.json").read_text())
    return [json.loads(line) for line in lines], report["generations"][-1]


def test_a_run_with_assert_true_tests_keeps_none_of_them(sandbox: None, tmp_path: Path) -> None:
    records, generation = _run(
        tmp_path / "trivial",
        "+models.default.engine_args.trivial_tests_rate=1.0",
        "execution.min_mutation_score=0.5",
    )
    assert records == []
    assert generation["rejected"]["weak_tests"] > 0
    assert set(generation["mutation_scores"]) == {"0.0"}


def test_exported_records_carry_their_mutation_score(sandbox: None, tmp_path: Path) -> None:
    records, generation = _run(tmp_path / "real", "execution.min_mutation_score=0.5")
    assert records
    for record in records:
        execution = record["execution"]
        assert execution["mutants"] > 0
        assert execution["mutation_score"] == execution["killed"] / execution["mutants"] >= 0.5
    assert sum(generation["mutation_scores"].values()) >= len(records)


def test_without_a_gate_unmeasured_records_say_so(sandbox: None, tmp_path: Path) -> None:
    """The demo config keeps programs that fail their tests; those are not mutation-tested."""
    records, _ = _run(tmp_path / "record-only", "evolution.offspring_per_colony=40")
    passed = [r["execution"]["status"] == "passed" for r in records]
    assert any(passed) and not all(passed)  # the scripted Coder errs in one answer in five
    for record, ok in zip(records, passed):
        assert (record["execution"]["mutation_score"] is not None) == ok
