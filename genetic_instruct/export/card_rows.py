"""The card's account of its rows: what was measured and gated for this run, the signals a
trainer selects on (difficulty, the test oracle), what a kept row cost, and whether the
run can be made again.

Every line is read from the run report (report/gates.py, report/row_signals.py), so a card
never says more of a row than the run checked: a run whose judge and tests gate nothing
says, first, that its rows are unverified.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from genetic_instruct.report.row_signals import difficulty_line, tokens_line

# The columns this attempts add to a row, explained (card.FIELDS holds them all).
ROW_SIGNAL_FIELDS: dict[str, str] = {
    "attempts": "how many solutions were tried for the task (execution.attempts), each run "
    "against its tests; null when not executed",
    "passed_attempts": "how many of them passed every kept assert",
    "pass_rate": "passed_attempts / attempts",
    "difficulty": "`easy`, `medium` or `hard` from the pass rate (`unsolved` where such rows "
    "were kept); null from a single attempt",
    "attempt_verdicts": "attempts per verdict: passed, failed, compile_error, runtime_error, "
    "timeout, killed, or why an answer was unreadable",
    "suspect_tests": "asserts the independent attempts voted out as wrong (dropped from `tests`)",
    "reasoning": "the reasoning that led to the solution, from a passing attempt and never "
    "truncated (export.reasoning=true; also the assistant message's `reasoning_content`)",
}


def verification(report: Mapping[str, Any]) -> list[str]:
    """The card's "What was checked" section: the unverified warning first, where due."""
    gates = report["gates"]
    warning = [f"**{gates['warning']}.**", ""] if gates["unverified"] else []
    return [
        "## What was checked",
        "",
        *warning,
        *(f"- {line}" for line in gates["lines"]),
        "",
    ]


def row_signals(report: Mapping[str, Any], selection: str | None) -> list[str]:
    """Difficulty, the test oracle, the cost of a kept row, reproducibility, and the
    selection this file is (export.where); [] where none applies."""
    signals = report["row_signals"]
    oracle = report["test_oracle"]
    suspects = signals["suspect_tests"]
    reproducible = report["reproducibility"]
    lines = [
        difficulty_line(signals),
        _by_generation(signals),
        (
            f"Asserts voted out by the independent attempts: {suspects['asserts']:,}, in "
            f"{suspects['tasks']:,} tasks (policy: {suspects['policy']})"
            if signals["difficulty"]["measured"]
            else None
        ),
        None if oracle is None else _capital(oracle["line"]),
        tokens_line(report["tokens_per_accepted"]),
        None if reproducible is None else _reproducible(reproducible),
        None if selection is None else f"This file is a selection: {selection}",
    ]
    found = [f"- {line}" for line in lines if line]
    return ["## Row signals", "", *found, ""] if found else []


def _by_generation(signals: Mapping[str, Any]) -> str | None:
    by_generation = signals["difficulty"]["by_generation"]
    if len(by_generation) < 2:
        return None
    return "Difficulty per generation: " + "; ".join(
        f"{generation}: " + ", ".join(f"{label} {n}" for label, n in counts.items())
        for generation, counts in by_generation.items()
    )


def _reproducible(found: Mapping[str, Any]) -> str:
    verdict = {True: "yes", False: "no", None: "unknown"}[found["reproducible"]]
    return f"Reproducible from its config and seed: {verdict}: {found['why']}"


def _capital(line: str) -> str:
    return line[:1].upper() + line[1:]
