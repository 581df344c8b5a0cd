"""Tests checked by the attempts that did not write them, and what each attempt then scores.

A model writes an assert about code it imagined: the expected value may be wrong. Solutions
written without seeing the tests vote on each assert (CodeT's dual agreement, rStar-Coder's
mutual verification, at the level of asserts), through the per-assert outcomes the sandbox
reports (ExecutionResult.outcomes):

    an assert is suspect when some independent attempt passes every other assert, every
    such attempt fails it, and more independent attempts fail it than pass it.

So nothing is suspect while one independent attempt passes every assert, an assert is only
ever blamed for being the one thing that stands between a solution and a pass, and one odd
attempt cannot outvote the rest. Agreement is a vote: an edge case that every attempt
misses looks exactly like a wrong assert (bench/RESULTS.md measures how often on the
builtin seeds). An attempt that crashed or overran (error, timeout, killed) votes on
nothing and passes nothing.

Independent attempts are the solver's (attempts 2..k): the Coder's own answer wrote the
tests, or was shown to the Tester, so its agreement with them proves little.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from genetic_instruct.sandbox import ExecutionResult

# Statuses whose per-assert outcomes are whole: every assert ran, held or failed.
_COMPLETE = ("passed", "failed")
UNSOLVED = "unsolved"


def _failed(result: ExecutionResult) -> set[int] | None:
    """The asserts the run failed; None when it did not run them all (a crash, a limit).
    A pass journaled before outcomes were recorded passed them all."""
    if result.status == "passed" and not result.outcomes:
        return set()
    if result.status not in _COMPLETE or len(result.outcomes) != result.total:
        return None
    return {i for i, held in enumerate(result.outcomes) if held != "1"}


def suspect_asserts(independent: Sequence[ExecutionResult]) -> list[int]:
    """The asserts (0-based, in the harness's order) that the independent attempts' runs
    disagree with, as the module's docstring says."""
    failed = [f for f in map(_failed, independent) if f is not None]
    if not failed or any(not f for f in failed):
        return []
    blamed = {next(iter(f)) for f in failed if len(f) == 1}
    suspects = []
    for i in sorted(blamed):
        fail = sum(i in f for f in failed)
        if fail > len(failed) - fail:
            suspects.append(i)
    return suspects


def passes(result: ExecutionResult | None, dropped: Collection[int]) -> bool:
    """Whether a run passes every assert not dropped (a run with none left passes nothing)."""
    if result is None:
        return False
    failed = _failed(result)
    return failed is not None and failed <= set(dropped) and result.total > len(dropped)


def kept_fraction(result: ExecutionResult | None, dropped: Collection[int]) -> float:
    """The share of the asserts not dropped that the run passed."""
    if result is None:
        return 0.0
    kept = [i for i in range(result.total) if i not in dropped]
    held = sum(i < len(result.outcomes) and result.outcomes[i] == "1" for i in kept)
    return held / len(kept) if kept else 0.0


def kept_result(result: ExecutionResult, dropped: Collection[int]) -> ExecutionResult:
    """The run as if the dropped asserts had never been there."""
    if not dropped:
        return result
    outcomes = "".join(held for i, held in enumerate(result.outcomes) if i not in dropped)
    total = result.total - len(dropped)
    passed = outcomes.count("1")
    status, detail = result.status, result.detail
    if status in _COMPLETE:
        status = "passed" if passes(result, dropped) else "failed"
        if status == "passed":
            detail = f"{passed}/{total} asserts passed ({len(dropped)} suspect dropped)"
    return dataclasses.replace(
        result,
        status=status,
        passed=passed,
        total=total,
        pass_fraction=passed / total if total else 0.0,
        detail=detail,
        outcomes=outcomes,
    )


def difficulty(passed: int, attempts: int, easy_above: float, hard_below: float) -> str | None:
    """KodCode's label from the pass rate: easy above `easy_above`, hard below
    `hard_below`, medium between; unsolved when no attempt passed. None from one attempt:
    a pass or a fail says nothing of how hard a task is."""
    if attempts < 2:
        return None
    if passed == 0:
        return UNSOLVED
    rate = passed / attempts
    if rate > easy_above:
        return "easy"
    if rate < hard_below:
        return "hard"
    return "medium"


@dataclass(frozen=True)
class Verdicts:
    """Every attempt's run against a task's tests, judged together."""

    runs: tuple[ExecutionResult | None, ...]  # per attempt; None: its answer was unreadable
    unreadable: tuple[str | None, ...]  # per attempt: why its answer could not be read
    suspects: tuple[int, ...]  # asserts dropped or blamed

    @classmethod
    def judge(
        cls, runs: Sequence[ExecutionResult | None], unreadable: Sequence[str | None]
    ) -> Verdicts:
        independent = [run for run in runs[1:] if run is not None]
        return cls(tuple(runs), tuple(unreadable), tuple(suspect_asserts(independent)))

    def passing(self, dropped: Collection[int]) -> list[int]:
        """The attempts that pass every assert not dropped, in attempt order."""
        return [i for i, run in enumerate(self.runs) if passes(run, dropped)]

    def chosen(self, dropped: Collection[int]) -> int:
        """The exported attempt: the first that passes (the Coder's when it passes), else
        the one passing the largest share of the kept asserts (the first of equals)."""
        passing = self.passing(dropped)
        if passing:
            return passing[0]
        shares = [kept_fraction(run, dropped) for run in self.runs]
        return shares.index(max(shares))

    def counts(self, dropped: Collection[int]) -> dict[str, int]:
        """Attempts per verdict, for the row: passed, failed (asserts), error, timeout,
        killed, or the reason an answer was unreadable."""
        out: dict[str, int] = {}
        for run, reason in zip(self.runs, self.unreadable):
            if run is None:
                verdict = reason or "unreadable"
            elif run.status in _COMPLETE:
                verdict = "passed" if passes(run, dropped) else "failed"
            else:
                verdict = run.status
            out[verdict] = out.get(verdict, 0) + 1
        return dict(sorted(out.items()))


@dataclass(frozen=True)
class Attempted:
    """What a row carries of its attempts."""

    count: int
    passed: int
    difficulty: str | None
    verdicts: dict[str, int]  # verdict -> attempts (Verdicts.counts)
    suspects: tuple[str, ...]  # the source of each assert voted out

    def record(self) -> dict[str, Any]:
        """As Individual's fields."""
        return {
            "attempts": self.count,
            "passed_attempts": self.passed,
            "pass_rate": round(self.passed / self.count, 4),
            "difficulty": self.difficulty,
            "attempt_verdicts": dict(self.verdicts),
            "suspect_tests": list(self.suspects),
        }
