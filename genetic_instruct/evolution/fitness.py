"""A judge's verdict and the fitness aggregate over it and the execution result.

How a verdict is read from a model's answer belongs to the judge role (roles/judge.py);
whether a calibrated threshold gates, to the calibration (calibration/).
"""

from __future__ import annotations

from dataclasses import dataclass

from genetic_instruct.config import AUTO_THRESHOLD, Config
from genetic_instruct.state.meta import Calibration

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


def judge_score(verdict: JudgeVerdict, weights: dict[str, float]) -> float:
    """The fitness over the judge's own criteria only (execution left out): what the
    calibration measures, and so what a calibrated threshold gates."""
    return fitness(verdict, {k: w for k, w in weights.items() if k in verdict.scores})


@dataclass(frozen=True)
class FitnessGate:
    """What a judged offspring must reach to survive.

    A fixed `fitness.threshold` gates the fitness (execution term included, when weighed);
    a calibrated one gates the judge's own score, the scale it was measured on; None lets
    every readable verdict through (a judge whose scores carry no measured signal).
    """

    threshold: float | None
    judge_only: bool = False

    def describe(self) -> str:
        """The gate in words, for the report and the dataset card."""
        if self.threshold is None:
            return "none: no measured signal in the judge's scores, so they gate nothing"
        if self.judge_only:
            return f"judge score ≥ {self.threshold:g} (calibrated)"
        return f"weighted score ≥ {self.threshold:g}"

    def admits(self, verdict: JudgeVerdict, weights: dict[str, float], value: float) -> bool:
        if self.threshold is None:
            return True
        score = judge_score(verdict, weights) if self.judge_only else value
        return score >= self.threshold


def fitness_gate(cfg: Config, calibration: Calibration | None) -> FitnessGate:
    """The gate a run applies: the fixed threshold, or the calibrated one when it gates."""
    if cfg.fitness.threshold != AUTO_THRESHOLD:
        return FitnessGate(float(cfg.fitness.threshold))
    if calibration is None or not calibration.gates:
        return FitnessGate(None)
    return FitnessGate(calibration.threshold, judge_only=True)
