"""The report's numbers about what each row carries: difficulty, attempts, suspect tests,
the judge against the pass rate, and what a kept row cost in tokens.

Built from the generations' stats (state/generation_stats.py), like the rest of the report,
so the card, report.json and report.html agree and no record is read for them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from genetic_instruct.calibration.pass_rate import judge_vs_pass_rate
from genetic_instruct.config import Config

DIFFICULTIES = ("easy", "medium", "hard", "unsolved")  # the order charts and tables use


def _total(counts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for count in counts:
        total.update(count)
    return dict(total)


def row_signals(generations: Sequence[Mapping[str, Any]], cfg: Config) -> dict[str, Any]:
    """Difficulty per generation and in all, the attempts' verdicts, the asserts voted out,
    and the judge's agreement with the pass rate."""
    ex = cfg.execution
    offspring = [row for row in generations if row["generation"] > 0]
    total = _total(row["difficulty"] for row in offspring)
    joint: dict[str, Counter[str]] = {}
    for row in offspring:
        for rate, hist in row["judged_pass_rates"].items():
            joint.setdefault(rate, Counter()).update(hist)
    return {
        "attempts": ex.attempts,
        "thresholds": {"easy_above": ex.easy_above, "hard_below": ex.hard_below},
        "difficulty": {
            "total": {label: total[label] for label in DIFFICULTIES if label in total},
            "measured": sum(total.values()),
            "by_generation": {
                str(row["generation"]): dict(row["difficulty"])
                for row in offspring
                if row["difficulty"]
            },
        },
        "attempt_verdicts": dict(sorted(_total(row["attempts"] for row in offspring).items())),
        "suspect_tests": {
            "asserts": sum(row["suspect_asserts"] for row in offspring),
            "tasks": sum(row["suspect_tasks"] for row in offspring),
            "policy": str(ex.suspect_tests),
        },
        "judge_vs_pass_rate": judge_vs_pass_rate(joint),
    }


def difficulty_line(signals: Mapping[str, Any]) -> str | None:
    """The difficulty distribution in one line; None where nothing was measured."""
    difficulty = signals["difficulty"]
    if not difficulty["measured"]:
        return None
    shares = ", ".join(
        f"{label} {n:,} ({n / difficulty['measured']:.0%})"
        for label, n in difficulty["total"].items()
    )
    limits = signals["thresholds"]
    return (
        f"difficulty over {signals['attempts']} attempts per task, of {difficulty['measured']:,} "
        f"tasks measured (rejected ones included): {shares}; easy above a pass rate of "
        f"{limits['easy_above']:g}, hard below {limits['hard_below']:g}"
    )


def tokens_line(tokens_per_accepted: Mapping[str, Mapping[str, Any]]) -> str | None:
    """What one kept row cost, in all and by role; None before any was kept."""
    total = tokens_per_accepted["all"]
    if total["total"] is None:
        return None
    roles = ", ".join(
        f"{role} {cost['total']:,.0f}"
        for role, cost in tokens_per_accepted.items()
        if role != "all" and cost["total"]
    )
    return (
        f"a kept row cost {total['total']:,.0f} tokens ({total['prompt']:,.0f} prompt, "
        f"{total['completion']:,.0f} completion; {roles})"
    )
