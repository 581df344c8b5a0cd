"""A judge's verdict and the fitness aggregate over it and the execution result.

How a verdict is read from a model's answer belongs to the judge role (roles/judge.py).
"""

from __future__ import annotations

from dataclasses import dataclass

SCORE_MIN, SCORE_MAX = 1, 10


@dataclass(frozen=True)
class JudgeVerdict:
    scores: dict[str, float]
    rationale: str


def fitness(
    verdict: JudgeVerdict, weights: dict[str, float], pass_fraction: float | None = None
) -> float:
    """Weighted mean of the terms named in `weights`, on the judge's 1-10 scale.

    The term "tests" is the sandbox's pass fraction scaled to 10, so a weight on it lets
    execution results and judge scores trade off; gates are applied by the caller.
    """
    terms = dict(verdict.scores)
    if pass_fraction is not None:
        terms["tests"] = SCORE_MAX * pass_fraction
    total = sum(weights.values())
    return sum(terms[name] * w for name, w in weights.items()) / total
