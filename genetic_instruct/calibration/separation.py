"""How well scores separate correct from faulty solutions: ROC AUC, its interval, a threshold.

AUC is the chance that a correct solution scores above a faulty one (ties count half), so
0.5 is a judge that cannot tell them apart. Its interval is a percentile bootstrap over
tasks, not over solutions: a task's reference and its mutants share a prompt and are scored
alike, so resampling solutions one by one would claim more certainty than the data holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Scored:
    task: str
    correct: bool
    score: float


@dataclass(frozen=True)
class Separation:
    auc: float
    low: float  # the interval at the configured confidence
    high: float

    @property
    def above_chance(self) -> bool:
        """Clearly better than chance: the whole interval is above 0.5."""
        return self.low > 0.5


def auc(correct: np.ndarray, faulty: np.ndarray) -> float:
    """P(correct scores above faulty) + half P(tie), over every pair."""
    above = (correct[:, None] > faulty[None, :]).mean()
    ties = (correct[:, None] == faulty[None, :]).mean()
    return float(above + 0.5 * ties)


def separation(
    scored: Sequence[Scored], confidence: float, resamples: int, seed: int
) -> Separation | None:
    """AUC and its bootstrap interval; None without at least one correct and one faulty."""
    correct = np.array([s.score for s in scored if s.correct])
    faulty = np.array([s.score for s in scored if not s.correct])
    if not len(correct) or not len(faulty):
        return None
    tasks = sorted({s.task for s in scored})
    by_task = {
        task: (
            np.array([s.score for s in scored if s.task == task and s.correct]),
            np.array([s.score for s in scored if s.task == task and not s.correct]),
        )
        for task in tasks
    }
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xB007]))
    aucs = []
    for _ in range(resamples):
        drawn = [by_task[tasks[i]] for i in rng.integers(len(tasks), size=len(tasks))]
        c = np.concatenate([pair[0] for pair in drawn])
        f = np.concatenate([pair[1] for pair in drawn])
        if len(c) and len(f):
            aucs.append(auc(c, f))
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(aucs, [tail, 100 - tail])
    return Separation(auc(correct, faulty), float(low), float(high))


def keeping_threshold(correct: Sequence[float], share: float) -> float:
    """The highest threshold that `share` of the correct scores reach (score >= threshold)."""
    ordered = sorted(correct, reverse=True)
    return float(ordered[max(0, int(np.ceil(share * len(ordered))) - 1)])


def share_reaching(scores: Sequence[float], threshold: float) -> float:
    return float(np.mean([s >= threshold for s in scores])) if scores else 0.0
