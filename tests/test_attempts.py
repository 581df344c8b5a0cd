"""Several attempts per task (execution.attempts), end to end through the CLI: against a
server whose attempts are right, wrong or cut as planned (tests/attempts_server.py), and
killed mid-attempts on the scripted engine; then the pieces (agreement, selection)."""

from __future__ import annotations

import dataclasses
import json
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest

from genetic_instruct.errors import ConfigError
from genetic_instruct.evolution.agreement import Verdicts, difficulty, suspect_asserts
from genetic_instruct.export.selection import parse_where
from genetic_instruct.sandbox import ExecutionResult, SandboxLimits, run_tests
from genetic_instruct.state.database import STATE_FILE
from genetic_instruct.state.store import RunStore

from .attempts_server import PLANS, WRONG_ASSERT, ControlledModel, kind_of, planned
from .conftest import STEADY_SANDBOX, dataset_records, run_cli
from .fault_proxy import FaultServer

SEED, OFFSPRING, ATTEMPTS = 7, 24, 4
CONTROLLED = [
    "engine=openai",
    "models.default.path=controlled",
    "models.default.api_key_env=null",
    "progress=false",
    f"seed={SEED}",
    "evolution.mutation_rate=1.0",
    f"evolution.offspring_per_colony={OFFSPRING}",
    "evolution.colonies=1",
    "evolution.max_generations=1",
    "evolution.target_size=1000",
    "fitness.threshold=5",
    "dedup.threshold=0.95",  # the tasks differ in their function's name only
    "execution.enabled=true",
    f"execution.attempts={ATTEMPTS}",
    "execution.mutants=0",
    "execution.oracle_seeds=0",
    "export.reasoning=true",
    STEADY_SANDBOX,
]


@pytest.fixture(scope="module")
def controlled_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("controlled") / "run"
    model = ControlledModel(SEED, 1, OFFSPRING, ATTEMPTS)
    with FaultServer(answer=model, served=("controlled",)) as server:
        done = run_cli(
            *CONTROLLED, f"run_dir={run_dir}", f"models.default.base_urls=[{server.base_url}]"
        )
    assert done.returncode == 0, done.stderr
    assert "a kept row cost" in done.stdout.splitlines()[-1]
    return run_dir


def test_rows_carry_the_pass_rate_and_difficulty_the_server_was_told_to_produce(
    controlled_run: Path,
) -> None:
    rows = dataset_records(controlled_run / "dataset.jsonl")
    kinds = {kind_of(row["instruction"]) for row in rows}
    assert kinds >= {"easy", "mostly", "medium", "hard", "suspect"}  # the seed draws them all
    limits = SandboxLimits(wall_seconds=120)
    for row in rows:
        kind = kind_of(row["instruction"])
        assert (row["pass_rate"], row["difficulty"]) == planned(kind), kind
        assert row["attempts"] == ATTEMPTS
        assert row["passed_attempts"] == PLANS[kind].count("R")
        assert sum(row["attempt_verdicts"].values()) == ATTEMPTS
        # the exported solution passes its tests, and is the first right attempt
        assert run_tests(_code(row["output"]), row["tests"], limits).status == "passed"
        first_right = PLANS[kind].index("R")
        assert row["reasoning"].endswith(f"attempt {first_right} right")
        assert row["messages"][1]["reasoning_content"] == row["reasoning"]
        assert "TRUNCATED" not in json.dumps(row)
    cut = [r for r in rows if kind_of(r["instruction"]) == "mostly"]
    assert cut and all(r["attempt_verdicts"].get("solver_truncated") == 1 for r in cut)


def test_the_wrong_assert_is_flagged_and_dropped(controlled_run: Path) -> None:
    rows = dataset_records(controlled_run / "dataset.jsonl")
    suspect = [r for r in rows if kind_of(r["instruction"]) == "suspect"]
    assert suspect
    for row in suspect:
        name = row["instruction"].split("`")[1].split("(")[0]
        wrong = WRONG_ASSERT.format(name=name)
        assert row["suspect_tests"] == [wrong] and wrong not in row["tests"]
    others = [r for r in rows if kind_of(r["instruction"]) != "suspect"]
    assert all(r["suspect_tests"] == [] for r in others)


def test_unsolved_tasks_are_counted_not_exported(controlled_run: Path) -> None:
    rows = dataset_records(controlled_run / "dataset.jsonl")
    assert "unsolved" not in {kind_of(r["instruction"]) for r in rows}
    with RunStore(controlled_run) as store:
        stats = store.generation_stats()[-1]
    assert stats.rejected["unsolved"] > 0
    assert stats.difficulty["unsolved"] == stats.rejected["unsolved"]


def test_export_where_keeps_only_hard_rows_and_prints_the_count(
    controlled_run: Path, tmp_path: Path
) -> None:
    target = tmp_path / "hard.jsonl"
    done = run_cli(
        "export",
        f"run_dir={controlled_run}",
        f"export.path={target}",
        "export.where.difficulty=hard",
    )
    assert done.returncode == 0, done.stderr
    hard = dataset_records(target)
    everything = dataset_records(controlled_run / "dataset.jsonl")
    expected = [r for r in everything if r["difficulty"] == "hard"]
    assert hard == expected and hard
    assert f"export.where kept {len(hard)} of " in done.stdout
    card = (tmp_path / "README.md").read_text()
    assert "This file is a selection: export.where kept" in card
    bad = run_cli("export", f"run_dir={controlled_run}", "export.where.colour=red")
    assert bad.returncode == 2 and "export.where.colour" in bad.stderr


def test_inspect_to_a_file_keeps_whole_lines_and_no_empty_reasons(controlled_run: Path) -> None:
    shown = run_cli("inspect", f"run_dir={controlled_run}")
    assert shown.returncode == 0, shown.stderr
    table = [line for line in shown.stdout.splitlines() if line.startswith("│")]
    assert len(table) == 2 and all(
        " 0," not in line and not line.endswith(" 0 │") for line in table
    )
    assert any("difficulty over 4 attempts" in line for line in shown.stdout.splitlines())
    assert "unsolved" in table[1]  # on its row, not wrapped onto the next


RESUME = [
    "engine=scripted",
    "progress=false",
    "evolution.target_size=400",
    "evolution.max_generations=2",
    "evolution.offspring_per_colony=8",
    "execution.attempts=4",
    "execution.oracle_seeds=0",
    "execution.mutants=0",
    STEADY_SANDBOX,
]


def _resume_cli(
    run_dir: Path, log: Path, crash_at: str | None = None
) -> subprocess.CompletedProcess[str]:
    return run_cli(
        *RESUME,
        f"run_dir={run_dir}",
        f"+models.default.engine_args.request_log={log}",
        crash_at=crash_at,
    )


def test_a_kill_while_attempts_are_in_flight_resumes_to_the_same_dataset(tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    assert _resume_cli(reference, tmp_path / "reference.log").returncode == 0
    run_dir, log = tmp_path / "run", tmp_path / "requests.log"
    killed = _resume_cli(run_dir, log, crash_at="solver:40")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    with RunStore(run_dir) as store:
        journaled = store.journal_keys()
    with sqlite3.connect(run_dir / STATE_FILE) as db:
        [(solver_answers,)] = db.execute("SELECT count(*) FROM journal WHERE role = 'solver'")
    assert solver_answers > 0  # killed with attempts journaled, and more in flight
    sent_before = len(log.read_text().splitlines())
    assert _resume_cli(run_dir, log).returncode == 0
    sent_after = set(log.read_text().splitlines()[sent_before:])
    assert journaled and not journaled & sent_after  # no journaled attempt is asked again
    records = dataset_records(run_dir / "dataset.jsonl")
    assert records == dataset_records(reference / "dataset.jsonl")
    assert {r["attempts"] for r in records if r["origin"] != "seed"} == {4}


def _code(output: str) -> str:
    """The solution inside the exported answer's fence."""
    return output.removeprefix("```python\n").removesuffix("\n```")


def _run(outcomes: str, status: str = "") -> ExecutionResult:
    passed = outcomes.count("1")
    status = status or ("passed" if passed == len(outcomes) else "failed")
    return ExecutionResult(
        status, passed, len(outcomes), passed / len(outcomes), 0.0, "", "", "", outcomes
    )


def test_an_assert_is_suspect_only_when_the_independent_attempts_vote_it_out() -> None:
    # two solvers fail only assert 2, a third fails everything: assert 2 is voted out
    assert suspect_asserts([_run("1101"), _run("1101"), _run("0000")]) == [2]
    # one solver passes everything: nothing is suspect
    assert suspect_asserts([_run("1111"), _run("1101")]) == []
    # one against one: no majority
    assert suspect_asserts([_run("1101"), _run("1011")]) == []
    # a crash votes on nothing
    assert suspect_asserts([_run("11", "error"), _run("1101")]) == [2]


def test_the_exported_attempt_is_the_first_that_passes() -> None:
    verdicts = Verdicts.judge([_run("1100"), _run("1111"), _run("1111")], [None] * 3)
    assert verdicts.chosen(()) == 1 and verdicts.passing(()) == [1, 2]
    assert verdicts.counts(()) == {"failed": 1, "passed": 2}
    assert difficulty(2, 4, 0.667, 0.333) == "medium"
    assert difficulty(1, 4, 0.667, 0.333) == "hard"
    assert difficulty(0, 4, 0.667, 0.333) == "unsolved"
    assert difficulty(1, 1, 0.667, 0.333) is None


def test_where_conditions_are_checked_by_key() -> None:
    [hard] = parse_where({"difficulty": "hard|medium"})
    assert hard.holds({"difficulty": "medium"}) and not hard.holds({})
    [rate] = parse_where({"pass_rate": ":0.5"})
    assert rate.holds({"pass_rate": 0.25}) and not rate.holds({"pass_rate": 0.75})
    with pytest.raises(ConfigError, match="export.where.pass_rate"):
        parse_where({"pass_rate": "lots"})


def test_every_selectable_column_is_a_where_setting() -> None:
    from genetic_instruct.config import WhereConfig
    from genetic_instruct.export.selection import LABELS, NUMBERS

    assert {f.name for f in dataclasses.fields(WhereConfig)} == {*LABELS, *NUMBERS}


def test_harder_parents_weigh_more_and_unmeasured_ones_as_the_average() -> None:
    from genetic_instruct.evolution.operators import harder_weights

    weights = harder_weights([0.0, 1.0, None])
    assert weights.sum() == pytest.approx(1.0)
    assert weights[0] == pytest.approx(11 * weights[1])  # unsolved-ish vs always solved
    assert weights[2] == pytest.approx((weights[0] + weights[1]) / 2)
