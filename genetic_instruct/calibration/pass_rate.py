"""Does the judge score harder-to-solve tasks lower? Its scores against the attempts' pass rate.

The AUC (measure.py) asks whether the judge tells a seed's reference from a mutant of it.
Where tasks were solved several times (execution.attempts), the run holds a second, larger
signal: each judged offspring's pass rate. Spearman's rank correlation between the judge's
score and the pass rate says whether the judge sees what the attempts found (ties take
their mean rank, as scores of 1-10 and rates in steps of 1/k tie a lot). It is measured
over the offspring of the run itself, rejected ones included, so it needs no extra call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

MIN_TASKS = 10  # fewer pairs than this say nothing worth printing


def _mean_ranks(values: np.ndarray) -> np.ndarray:
    """Rank of each value (1-based), tied values sharing the mean of their ranks."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    unique, inverse = np.unique(values, return_inverse=True)
    sums = np.bincount(inverse, weights=ranks, minlength=len(unique))
    counts = np.bincount(inverse, minlength=len(unique))
    return (sums / counts)[inverse]


def spearman(x: np.ndarray, y: np.ndarray) -> float | None:
    """Spearman's rho with tied ranks; None when either side is constant."""
    rx, ry = _mean_ranks(x), _mean_ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return None
    return float(np.corrcoef(rx, ry)[0, 1])


def judge_vs_pass_rate(joint: Mapping[str, Mapping[str, int]]) -> dict[str, Any] | None:
    """From {pass rate: {judge score: offspring}}: rho, the pair count and the mean judge
    score per pass rate; None without pairs."""
    rates, scores, counts = [], [], []
    for rate, hist in joint.items():
        for score, n in hist.items():
            rates.append(float(rate))
            scores.append(float(score))
            counts.append(int(n))
    if not counts or sum(counts) == 0:
        return None
    x = np.repeat(np.array(rates), counts)
    y = np.repeat(np.array(scores), counts)
    by_rate = {f"{rate:.2f}": round(float(y[x == rate].mean()), 2) for rate in sorted(set(rates))}
    rho = spearman(x, y) if len(x) >= MIN_TASKS else None
    return {
        "tasks": int(len(x)),
        "spearman": None if rho is None else round(rho, 3),
        "mean_score_by_pass_rate": by_rate,
        "line": _line(rho, len(x), by_rate),
    }


def _line(rho: float | None, n: int, by_rate: Mapping[str, float]) -> str:
    means = ", ".join(f"{score:g} at pass rate {rate}" for rate, score in by_rate.items())
    if rho is None:
        return (
            f"judge vs pass rate: too few or too alike to compare ({n} tasks; mean judge "
            f"score {means})"
        )
    verdict = (
        "the judge scores harder tasks lower"
        if rho >= 0.1
        else "the judge's scores do not follow the pass rate"
        if rho > -0.1
        else "the judge scores harder tasks higher"
    )
    return f"judge vs pass rate: Spearman rho {rho:.2f} over {n:,} tasks: {verdict} ({means})"
