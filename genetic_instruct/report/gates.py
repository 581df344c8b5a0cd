"""What a run measured and gated, in words: the truth the card and `inspect` tell of its rows.

A row is only as good as what stood between it and the dataset. The demo's judge gates
nothing (its calibration found no signal) and its tests gate nothing (its model rarely
writes any that run), so its rows are unverified: nothing but a syntax check vouches for
them, and the card and `inspect` must say so, not "passed an LLM judge". Every line here is
derived from the run's config and calibration, never assumed.
"""

from __future__ import annotations

from typing import Any

from genetic_instruct.config import Config, SuspectTests, TestsFrom, run_languages
from genetic_instruct.evolution.fitness import fitness_gate
from genetic_instruct.languages import SYNTAX
from genetic_instruct.state.meta import Calibration

UNVERIFIED = (
    "UNVERIFIED: nothing but a syntax check gated these rows (the judge gates nothing and "
    "neither do the tests); they are not fit for training as they are"
)


def tests_source(cfg: Config) -> str:
    """Who wrote the tests a generated row was run against."""
    if cfg.execution.tests_from == TestsFrom.tester:
        return "the Tester, in a request of its own"
    return "the Coder, with its solution"


def _tests_gate(cfg: Config) -> tuple[str, bool]:
    """(the line, whether the tests gate anything)."""
    ex = cfg.execution
    if not ex.enabled:
        return "tests: not run (execution.enabled=false)", False
    written = f"written by {tests_source(cfg)}"
    if ex.attempts > 1:
        unsolved = "kept, marked unsolved" if ex.keep_unsolved else "rejected (`unsolved`)"
        suspects = (
            "dropped" if ex.suspect_tests == SuspectTests.drop else "rejected (`suspect_test`)"
        )
        return (
            f"tests ({written}): each task solved {ex.attempts} times (the Coder once, the "
            f"solver {ex.attempts - 1} times, blind to the tests); a row is kept when an "
            f"attempt passes every kept assert, tasks no attempt solves are {unsolved}; "
            f"asserts the independent attempts vote out are {suspects}"
            + (
                "; a task without tests goes on unexecuted (execution.min_pass_fraction=0): "
                "its row carries attempts null and nothing but the judge vouches for it"
                if ex.min_pass_fraction == 0
                else ""
            ),
            True,
        )
    if ex.min_pass_fraction > 0:
        share = "all" if ex.min_pass_fraction == 1 else f"at least {ex.min_pass_fraction:.0%}"
        return f"tests ({written}): a row's solution passes {share} of them", True
    return (
        f"tests ({written}): run and recorded, gating nothing (execution.min_pass_fraction=0): "
        "a row's solution may fail them, or have none",
        False,
    )


def measured_and_gated(cfg: Config, calibration: Calibration | None) -> dict[str, Any]:
    """{"lines": what each check did, "unverified": whether nothing but syntax gated}."""
    ex = cfg.execution
    tests, tests_gate = _tests_gate(cfg)
    judge = fitness_gate(cfg, calibration)
    titles = [SYNTAX[language].title for language in run_languages(cfg)]
    lines = [f"syntax: every solution parses as {' or '.join(titles)}", tests]
    if ex.enabled and ex.mutants:
        gate = (
            f"survivors needed at least {ex.min_mutation_score}"
            if ex.min_mutation_score
            else "recorded, gating nothing"
        )
        lines.append(f"test strength: passing tests run against {ex.mutants} mutants; {gate}")
    lines.append(f"judge: {judge.describe()}")
    unverified = judge.threshold is None and not tests_gate
    return {"lines": lines, "unverified": unverified, "warning": UNVERIFIED if unverified else None}
