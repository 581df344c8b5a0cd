"""Seed files: the shipped seeds are sound, and malformed files fail with file:line."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from genetic_instruct.errors import SeedFileError
from genetic_instruct.files.shipped import BUILTIN
from genetic_instruct.sandbox import SandboxLimits, run_many
from genetic_instruct.seeding.seed_file import load_seeds
from genetic_instruct.state.store import RunStore

from .conftest import run_cli


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
        (["{not json"], ":1: invalid JSON"),
        (['["a"]'], ":1: expected a JSON object, got list"),
        (['{"instruction": "x"}'], ":1: field 'solution' is missing (read as seeds_format=native"),
        (
            ['{"instruction": "x", "solution": " "}'],
            ":1: field 'solution' must be a non-empty string",
        ),
        (
            ['{"instruction": "x", "solutoin": "y=1"}'],
            ":1: unknown field 'solutoin' (did you mean 'solution'?)",
        ),
        (
            ['{"messages": [{"role": "user", "content": "x"}]}'],
            ":1: field 'messages' must be one user message then one assistant message",
        ),
        (
            ['{"prompt": "Write f.", "response": "I cannot."}'],
            ":1: no Python code in field 'response'",
        ),
        (
            ['{"instruction": "x", "solution": "def f(:"}'],
            ":1: field 'solution' is not valid Python",
        ),
        (
            ['{"instruction": "x", "solution": "y=1", "tests": 5}'],
            ":1: field 'tests' must be a string",
        ),
        (
            [
                '{"id": "a", "instruction": "x", "solution": "y=1"}',
                "",
                '{"id": "a", "instruction": "z", "solution": "y=1"}',
            ],
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
    path.write_text(
        json.dumps({"instruction": "Add two numbers.", "solution": "def f(a, b): return a + b"})
        + "\n"
    )
    (seed,) = load_seeds(str(path))
    assert len(seed.id) == 16 and seed.origin == "seed" and seed.generation == 0


ADD = "Write a function `add(a, b)` that returns the sum of a and b."
ADD_CODE = "def add(a, b):\n    return a + b"
MUL = "Write a function `mul(a, b)` that returns the product of a and b."
MUL_CODE = "def mul(a, b):\n    return a * b"
ANSWER = "Here is the function:\n\n```python\n{code}\n```\n\nIt runs in O(1)."
SEED_RECORDS = {  # the same two seeds in each format users have
    "native": [
        {"instruction": ADD, "solution": ADD_CODE, "tests": "assert add(1, 2) == 3"},
        {"instruction": MUL, "solution": MUL_CODE},
    ],
    "messages": [
        {
            "messages": [
                {"role": "system", "content": "You write Python."},
                {"role": "user", "content": ADD},
                {"role": "assistant", "content": ANSWER.format(code=ADD_CODE)},
            ],
            "tests": "assert add(1, 2) == 3",
        },
        {
            "messages": [
                {"role": "user", "content": MUL},
                {"role": "assistant", "content": ANSWER.format(code=MUL_CODE)},
            ]
        },
    ],
    "prompt_response": [
        {"prompt": ADD, "response": ANSWER.format(code=ADD_CODE), "tests": "assert add(1, 2) == 3"},
        {"prompt": MUL, "response": MUL_CODE},
    ],
}


def _write_seeds(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


# Two seeds on the synthetic engine: such a run is done at generation 0.
TWO_SEEDS_RUN = ("engine=scripted", "progress=false", "evolution.target_size=2")


@pytest.mark.parametrize("fmt", sorted(SEED_RECORDS))
def test_seed_files_in_each_format_users_have_start_a_run(tmp_path: Path, fmt: str) -> None:
    seeds = _write_seeds(tmp_path / f"{fmt}.jsonl", SEED_RECORDS[fmt])
    result = run_cli(*TWO_SEEDS_RUN, f"seeds={seeds}", f"run_dir={tmp_path / 'run'}")
    assert result.returncode == 0, result.stderr
    store = RunStore(tmp_path / "run", read_only=True)
    try:
        stored = {(i.instruction, i.solution, i.tests) for i in store.individuals()}
    finally:
        store.close()
    assert stored == {(ADD, ADD_CODE, "assert add(1, 2) == 3"), (MUL, MUL_CODE, None)}


def test_a_format_that_is_not_the_files_is_one_line_naming_file_line_and_key(
    tmp_path: Path,
) -> None:
    seeds = _write_seeds(tmp_path / "chat.jsonl", SEED_RECORDS["messages"])
    result = run_cli(
        *TWO_SEEDS_RUN,
        f"seeds={seeds}",
        "seeds_format=prompt_response",
        f"run_dir={tmp_path / 'run'}",
    )
    assert result.returncode == 2
    assert result.stderr == (
        f"genetic-instruct: error: {seeds}:1: field 'prompt' is missing (read as "
        "seeds_format=prompt_response: prompt/response; see seeds_format for the others)\n"
    )
    assert not (tmp_path / "run").exists()


def test_seeds_failing_their_own_tests_are_named_and_refused_unless_kept(tmp_path: Path) -> None:
    wrong = {
        "instruction": ADD,
        "solution": ADD_CODE.replace("+", "-"),
        "tests": "assert add(1, 2) == 3",
    }
    seeds = _write_seeds(tmp_path / "s.jsonl", [SEED_RECORDS["native"][1], wrong])
    refused = run_cli(*TWO_SEEDS_RUN, f"seeds={seeds}", f"run_dir={tmp_path / 'refused'}")
    assert refused.returncode == 2
    first, second = refused.stderr.splitlines()
    assert first.startswith(f"genetic-instruct: {seeds}:2: seed ")
    assert "its solution fails its own tests (failed: line 1: assert add(1, 2) == 3" in first
    assert second.endswith(
        "1 of 2 seeds fail their own tests (listed above); fix them, or "
        "keep them with allow_failing_seeds=true"
    )
    assert not (tmp_path / "refused").exists()
    kept = run_cli(
        *TWO_SEEDS_RUN, f"seeds={seeds}", f"run_dir={tmp_path / 'kept'}", "allow_failing_seeds=true"
    )
    assert kept.returncode == 0, kept.stderr
    assert f"{seeds}:2: seed " in kept.stderr
    report = json.loads((tmp_path / "kept" / "report.json").read_text())
    assert report["run"]["failing_seeds"] == 1
    assert "(`allow_failing_seeds=true`): 1." in (tmp_path / "kept" / "README.md").read_text()


def test_a_seed_set_that_passed_is_remembered_and_not_run_again(tmp_path: Path) -> None:
    """The cache is consulted: a set recorded as passed is not run (here, one that would
    fail, recorded by hand), and a set that passed is recorded."""
    from genetic_instruct.seeding.reference_runs import PASSED_FILE, _passed_key
    from genetic_instruct.seeding.seed_file import load_seed_file
    from tests.conftest import make_config

    cache = tmp_path / "cache"
    env = {"GENETIC_INSTRUCT_CACHE": str(cache)}
    wrong = {
        "instruction": ADD,
        "solution": ADD_CODE.replace("+", "-"),
        "tests": "assert add(1, 2) == 3",
    }
    failing = _write_seeds(tmp_path / "failing.jsonl", [SEED_RECORDS["native"][1], wrong])
    limits = make_config().execution.sandbox_limits()
    cache.mkdir()
    (cache / PASSED_FILE).write_text(_passed_key(load_seed_file(str(failing)), limits) + "\n")
    assert (
        run_cli(*TWO_SEEDS_RUN, f"seeds={failing}", f"run_dir={tmp_path / 'a'}", env=env).returncode
        == 0
    )
    passing = _write_seeds(tmp_path / "passing.jsonl", SEED_RECORDS["native"])
    assert (
        run_cli(*TWO_SEEDS_RUN, f"seeds={passing}", f"run_dir={tmp_path / 'b'}", env=env).returncode
        == 0
    )
    recorded = (cache / PASSED_FILE).read_text().split()
    assert recorded[1] == _passed_key(load_seed_file(str(passing)), limits)
