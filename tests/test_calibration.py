"""Judge calibration: a judge that knows right from wrong measures near 1, a random one near
0.5; the faulty variants are really faulty; calibration resumes without paying twice; and a
run with fitness.threshold=auto gates on what was measured."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import numpy as np
import pytest

from genetic_instruct.calibration.separation import (
    Scored,
    auc,
    keeping_threshold,
    separation,
    share_reaching,
)
from genetic_instruct.calibration.specimens import calibration_tasks, make_specimens
from genetic_instruct.errors import ConfigError
from genetic_instruct.evolution.requests import CALIBRATION_GENERATION, request_seed
from genetic_instruct.files.shipped import BUILTIN
from genetic_instruct.llm.base import Completion
from genetic_instruct.llm.scripted import ScriptedEngine
from genetic_instruct.run.calibrate import calibrate_run
from genetic_instruct.run.job import run
from genetic_instruct.sandbox import SandboxLimits, run_many
from genetic_instruct.seeding.seed_file import load_seeds
from genetic_instruct.state.meta import SETTINGS
from genetic_instruct.state.store import RunStore

from .conftest import STEADY_SANDBOX, dataset_records, make_config, run_cli

SEEDS = load_seeds(BUILTIN)
SMALL = ["calibration.tasks=10", "calibration.faulty_per_task=2", "calibration.resamples=500"]
SCRIPTED = [
    "engine=scripted",
    "progress=false",
    STEADY_SANDBOX,
    "models.default.engine_args.malformed_rate=0",
]
KNOWS = "+models.default.engine_args.judge_references=builtin"  # scores by correctness


# The CLI where every program overruns its wall clock (no sandbox run repeats its verdict).
OVERLOADED = [sys.executable, str(Path(__file__).with_name("overloaded_sandbox.py"))]


def _calibration(run_dir: Path) -> dict:
    return json.loads((run_dir / "calibration.json").read_text())


# -- the measure ----------------------------------------------------------------------------
def _scored(correct: list[float], faulty: list[float]) -> list[Scored]:
    """Task i holds correct[i] and faulty[i] (as calibration pairs them)."""
    return [Scored(f"t{i}", True, s) for i, s in enumerate(correct)] + [
        Scored(f"t{i}", False, s) for i, s in enumerate(faulty)
    ]


def test_auc_counts_pairs_and_half_ties() -> None:
    assert auc(np.array([9.0, 8.0]), np.array([2.0, 3.0])) == 1.0
    assert auc(np.array([2.0, 3.0]), np.array([9.0, 8.0])) == 0.0
    assert auc(np.array([5.0, 5.0]), np.array([5.0])) == 0.5
    assert auc(np.array([3.0, 7.0]), np.array([5.0])) == 0.5


def test_a_judge_that_scores_all_alike_is_not_above_chance() -> None:
    found = separation(_scored([1.0] * 12, [1.0] * 12), 0.95, 500, seed=0)
    assert found is not None
    assert (found.auc, found.low, found.high) == (0.5, 0.5, 0.5)
    assert not found.above_chance


def test_random_scores_give_an_interval_around_one_half() -> None:
    rng = np.random.default_rng(1)
    found = separation(
        _scored(list(rng.integers(1, 11, 60)), list(rng.integers(1, 11, 60))), 0.95, 1000, seed=0
    )
    assert found is not None and found.low < 0.5 < found.high and not found.above_chance


def test_a_clear_separation_is_above_chance_with_a_narrow_interval() -> None:
    rng = np.random.default_rng(2)
    correct = list(rng.integers(7, 11, 40).astype(float))
    faulty = list(rng.integers(1, 5, 40).astype(float))
    found = separation(_scored(correct, faulty), 0.95, 1000, seed=0)
    assert found is not None and found.auc == 1.0 and found.above_chance


def test_nothing_to_compare_is_no_separation() -> None:
    assert separation(_scored([9.0, 8.0], []), 0.95, 500, seed=0) is None


def test_the_threshold_keeps_the_asked_share_of_correct_scores() -> None:
    correct = [10.0, 9.0, 9.0, 8.0, 8.0, 7.0, 7.0, 6.0, 5.0, 2.0]
    threshold = keeping_threshold(correct, 0.9)
    assert threshold == 5.0 and share_reaching(correct, threshold) == 0.9
    assert keeping_threshold(correct, 0.5) == 8.0
    assert keeping_threshold(correct, 1.0) == 2.0


# -- the specimens --------------------------------------------------------------------------
def test_faulty_variants_fail_the_seeds_tests_and_references_pass() -> None:
    tasks = calibration_tasks(SEEDS, (), 8, seed=3)
    assert len(tasks) == 8 and all(t.tests for t in tasks)
    assert tasks == calibration_tasks(SEEDS, (), 8, seed=3)  # the run's seed decides
    assert tasks != calibration_tasks(SEEDS, (), 8, seed=4)
    limits = SandboxLimits(wall_seconds=60)
    specimens = make_specimens(tasks, limits, 2, seed=0)
    faulty = [s for s in specimens if not s.correct]
    assert sum(s.correct for s in specimens) == 8 and len(faulty) >= 12
    assert len({s.operator for s in faulty}) >= 3
    tests = {t.id: t.tests for t in tasks}
    results = run_many([(s.solution, tests[s.task]) for s in specimens], limits)
    for specimen, result in zip(specimens, results):
        assert (result.status == "passed") == specimen.correct, (specimen, result)


def test_seeds_kept_although_failing_are_not_calibration_tasks() -> None:
    with_tests = [s for s in SEEDS if s.tests]
    tasks = calibration_tasks(with_tests[:5], {with_tests[0].id}, 10, seed=0)
    assert [t.id for t in tasks] == [s.id for s in with_tests[1:5]]


# -- the command ----------------------------------------------------------------------------
def test_a_judge_that_knows_correctness_measures_near_one(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    done = run_cli("calibrate", f"run_dir={run_dir}", *SCRIPTED, *SMALL, KNOWS)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("judge calibration: AUC 1.00 [1.00, 1.00] over 10 correct")
    found = _calibration(run_dir)
    assert found["gates"] and found["threshold"] == 9.0 and found["faulty_let_through"] == 0.0
    assert found["scores"] == {"correct": {"9.0": 10}, "faulty": {"2.0": found["faulty"]}}


def test_a_random_judge_measures_near_one_half_and_does_not_gate(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    done = run_cli(
        "calibrate",
        f"run_dir={run_dir}",
        *SCRIPTED,
        "calibration.tasks=24",
        "calibration.resamples=500",
    )
    assert done.returncode == 0, done.stderr
    found = _calibration(run_dir)
    assert 0.35 <= found["auc"] <= 0.65 and not found["gates"]
    low, high = found["auc_interval"]
    assert low <= 0.5 <= high
    assert "does not separate correct from faulty solutions" in done.stdout
    assert "its verdict will not gate survival" in done.stdout


def test_unreadable_verdicts_are_counted_not_scored(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    done = run_cli(
        "calibrate",
        f"run_dir={run_dir}",
        *SCRIPTED,
        *SMALL,
        KNOWS,
        "models.default.engine_args.malformed_rate=0.3",
    )
    assert done.returncode == 0, done.stderr
    found = _calibration(run_dir)
    unreadable = sum(found["unreadable"].values())
    assert unreadable > 0 and f"({unreadable} verdicts unreadable)" in done.stdout
    assert found["correct"] + found["faulty"] + unreadable == 10 + 20


def test_calibration_resumes_after_sigkill_without_paying_twice(tmp_path: Path) -> None:
    """Resumed where the sandbox would now time out, it judges the specimens it found
    before (journaled) and measures what an uninterrupted calibration does."""
    run_dir, log = tmp_path / "run", tmp_path / "requests.log"
    args = [
        "calibrate",
        f"run_dir={run_dir}",
        *SCRIPTED,
        *SMALL,
        KNOWS,
        f"+models.default.engine_args.request_log={log}",
    ]
    # answers take 50 ms, so the journal (flushed every 0.5 s) holds some when it dies
    killed = run_cli(*args, "+models.default.engine_args.latency_s=0.05", crash_at="judge:20")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not (run_dir / "calibration.json").exists()
    store = RunStore(run_dir)
    journaled = store.journal_keys()
    store.close()
    assert 0 < len(journaled) < 30
    before = len(log.read_text().split())
    resumed = run_cli(*args, command=OVERLOADED)
    assert resumed.returncode == 0, resumed.stderr
    sent = log.read_text().split()
    assert not journaled & set(sent[before:])  # no journaled answer paid for again
    assert len(set(sent)) == 30 and len(sent[before:]) == 30 - len(journaled)
    assert run_cli(
        "calibrate", f"run_dir={tmp_path / 'whole'}", *SCRIPTED, *SMALL, KNOWS
    ).stdout == resumed.stdout.replace(str(run_dir), str(tmp_path / "whole"))
    again = run_cli(*args)  # a valid stored calibration is reused, no request sent
    assert again.stdout == resumed.stdout and log.read_text().split() == sent


# -- a run with fitness.threshold=auto ------------------------------------------------------
RUN = [*SCRIPTED, *SMALL, "evolution.max_generations=1", "fitness.threshold=auto"]


def test_auto_gates_on_the_calibrated_threshold_when_the_judge_separates(
    tmp_path: Path,
) -> None:
    run_dir = tmp_path / "run"
    done = run_cli(f"run_dir={run_dir}", *RUN, KNOWS)
    assert done.returncode == 0, done.stderr
    stats = RunStore(run_dir).generation_stats()[-1]
    # this judge knows only the seeds' solutions right: every offspring scores 2 < 9
    assert stats.accepted == 0 and stats.rejected["below_fitness_threshold"] > 0
    report = json.loads((run_dir / "report.json").read_text())
    assert report["gate"] == "judge score ≥ 9 (calibrated)"
    assert report["calibration"]["auc"] == 1.0
    assert "Judge calibration: AUC 1.00" in (run_dir / "README.md").read_text()
    assert "Judge calibration" in (run_dir / "report.html").read_text()
    inspected = run_cli("inspect", f"run_dir={run_dir}")
    assert report["calibration"]["line"] in inspected.stdout.splitlines()


def test_auto_lets_every_readable_verdict_through_a_judge_without_signal(
    tmp_path: Path,
) -> None:
    run_dir = tmp_path / "run"
    done = run_cli(f"run_dir={run_dir}", *RUN, "calibration.tasks=24")
    assert done.returncode == 0, done.stderr
    stats = RunStore(run_dir).generation_stats()[-1]
    assert "below_fitness_threshold" not in stats.rejected and stats.accepted > 0
    report = json.loads((run_dir / "report.json").read_text())
    assert not report["calibration"]["gates"] and report["gate"].startswith("none")


def test_a_fixed_threshold_does_not_calibrate_unless_asked(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    assert run_cli(f"run_dir={plain}", *SCRIPTED, "evolution.max_generations=1").returncode == 0
    assert not (plain / "calibration.json").exists()
    asked = tmp_path / "asked"
    done = run_cli(
        f"run_dir={asked}",
        *SCRIPTED,
        *SMALL,
        "evolution.max_generations=1",
        "calibration.at_start=true",
        "fitness.threshold=6",
    )
    assert done.returncode == 0, done.stderr
    report = json.loads((asked / "report.json").read_text())
    assert report["calibration"] is not None and report["gate"] == "weighted score ≥ 6"


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("fitness.threshold=high", "config key fitness.threshold: must be a number in [1, 10]"),
        ("fitness.threshold=11", "config key fitness.threshold: must be a number in [1, 10]"),
        ("calibration.tasks=1", "config key calibration.tasks: must be >= 2"),
        ("calibration.keep_correct=0", "config key calibration.keep_correct"),
        ("calibration.confidence=1", "config key calibration.confidence"),
    ],
)
def test_calibration_settings_are_validated(override: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        make_config("engine=scripted", override)


def test_auto_needs_a_judge_criterion_to_gate_on() -> None:
    with pytest.raises(ConfigError, match="fitness.weights"):
        make_config(
            "engine=scripted",
            "fitness.threshold=auto",
            "~fitness.weights.quality",
            "~fitness.weights.correctness",
            "+fitness.weights.tests=1",
        )


def test_a_run_made_before_calibration_existed_resumes(tmp_path: Path) -> None:
    """Settings added by a later version, left at their defaults, are no change; changed
    ones are refused like any other."""
    from genetic_instruct.data_settings import fingerprint
    from genetic_instruct.run.compatibility import check_resume

    at_defaults = ("calibration.tasks=40", "calibration.faulty_per_task=2")  # not the demo's
    cfg = make_config("engine=scripted", f"run_dir={tmp_path / 'run'}", *at_defaults)
    store = RunStore(cfg.run_dir)
    store.journal_write([("judge", "key", Completion("answer"))])  # past its seeds
    older = {k: v for k, v in fingerprint(cfg).items() if not k.startswith("calibration.")}
    store.meta.set(SETTINGS, older)
    check_resume(store, cfg)
    refused = r"other settings: calibration.tasks \('<unset>' -> 12\)\. "
    with pytest.raises(ConfigError, match=refused):
        store.meta.set(SETTINGS, older)
        check_resume(
            store,
            make_config(
                "engine=scripted",
                f"run_dir={tmp_path / 'run'}",
                *at_defaults,
                "calibration.tasks=12",
            ),
        )
    store.close()


def test_independent_tests_report_how_often_they_agree_with_the_solution(
    tmp_path: Path,
) -> None:
    """With execution.tests_from=tester, the share of executed solutions that pass tests
    written apart from them is a second signal, in the report and the card."""
    run_dir = tmp_path / "run"
    done = run_cli(
        f"run_dir={run_dir}",
        *SCRIPTED,
        "evolution.max_generations=1",
        "execution.tests_from=tester",
    )
    assert done.returncode == 0, done.stderr
    report = json.loads((run_dir / "report.json").read_text())
    executions = report["generations"][-1]["executions"]
    agreement = report["test_agreement"]
    assert agreement["executed"] == sum(executions.values()) > 0
    assert agreement["agreed"] == executions.get("passed", 0)
    card = (run_dir / "README.md").read_text()
    assert (
        f"Independent tests (Tester) passed on {agreement['agreed']} of "
        f"{agreement['executed']} executed solutions"
    ) in card
    coder = tmp_path / "coder"
    assert run_cli(f"run_dir={coder}", *SCRIPTED, "evolution.max_generations=1").returncode == 0
    assert json.loads((coder / "report.json").read_text())["test_agreement"] is None


# -- calibration beside generation 1 --------------------------------------------------------
class _Timeline(ScriptedEngine):
    """The scripted engine, noting in order each batch's requests as sent and each answer,
    by request seed."""

    def __init__(self) -> None:
        super().__init__(malformed_rate=0)
        self.events: list[tuple[str, int]] = []

    def generate(self, requests, on_complete=None):  # type: ignore[no-untyped-def]
        self.events += [("sent", request.seed) for request in requests]

        def answered(i: int, completion: Completion) -> None:
            self.events.append(("answered", requests[i].seed))
            if on_complete is not None:
                on_complete(i, completion)

        return super().generate(requests, answered)


# Calibrated beside generation 1, whose random verdicts (fitness.threshold=6) wait for it.
BESIDE = [
    *SCRIPTED,
    "calibration.tasks=6",
    "calibration.faulty_per_task=1",
    "calibration.resamples=200",
    "calibration.at_start=true",
    "fitness.threshold=6",  # random verdicts: some kept, some below it, decided late
    "evolution.max_generations=1",
    "execution.enabled=false",
]


def test_calibration_runs_beside_generation_one_and_changes_no_record(tmp_path: Path) -> None:
    """Generation 1's Instructor requests go out before the calibration's last answer is in
    (its specimens are still in the sandbox then), and only verdicts wait for it: the
    records, counts and calibration are those of a run whose calibration came first."""
    beside = make_config(f"run_dir={tmp_path / 'beside'}", *BESIDE)
    engine = _Timeline()
    run(beside, engines={"default": engine})
    calibration = {request_seed(beside.seed, CALIBRATION_GENERATION, "judge", i) for i in range(12)}
    instructor = {request_seed(beside.seed, 1, "instructor", i) for i in range(12)}
    sent = [
        i for i, (what, seed) in enumerate(engine.events) if what == "sent" and seed in instructor
    ]
    answered = [
        i
        for i, (what, seed) in enumerate(engine.events)
        if what == "answered" and seed in calibration
    ]
    assert len(answered) == 12 and sent[0] < answered[-1]

    first = make_config(f"run_dir={tmp_path / 'first'}", *BESIDE)
    calibrate_run(first)
    run(first)
    records = dataset_records(tmp_path / "beside" / "dataset.jsonl")
    assert records == dataset_records(tmp_path / "first" / "dataset.jsonl")
    stats = [RunStore(tmp_path / name).generation_stats()[-1] for name in ("beside", "first")]
    assert stats[0].rejected == stats[1].rejected and stats[0].accepted == stats[1].accepted
    assert records and stats[0].rejected["below_fitness_threshold"] > 0
    found = [_calibration(tmp_path / name) for name in ("beside", "first")]
    assert [{**f, "seconds": None} for f in found] == [{**found[1], "seconds": None}] * 2


def test_a_run_killed_while_its_calibration_rides_along_resumes_without_paying_twice(
    tmp_path: Path,
) -> None:
    """Killed among the judge's answers of generation 1 and its calibration, the run
    resumes to the records and calibration of an uninterrupted one, and sends no
    journaled request again."""
    run_dir, log = tmp_path / "run", tmp_path / "requests.log"
    args = [f"run_dir={run_dir}", *BESIDE, f"+models.default.engine_args.request_log={log}"]
    # answers take 50 ms, so the journal (flushed every 0.5 s) holds some when it dies
    killed = run_cli(*args, "+models.default.engine_args.latency_s=0.05", crash_at="judge:8")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not (run_dir / "calibration.json").exists()
    with RunStore(run_dir) as store:
        journaled = store.journal_keys()
    before = len(log.read_text().split())
    assert run_cli(*args).returncode == 0
    assert journaled and not journaled & set(log.read_text().split()[before:])
    whole = tmp_path / "whole"
    assert run_cli(f"run_dir={whole}", *BESIDE).returncode == 0
    records = dataset_records(run_dir / "dataset.jsonl")
    assert records and records == dataset_records(whole / "dataset.jsonl")
    assert {**_calibration(run_dir), "seconds": None} == {**_calibration(whole), "seconds": None}
