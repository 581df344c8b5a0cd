"""A judge calibration's outcome: what it measured, the threshold it found, whether to gate.

Kept in the run state (meta key `calibration`) and written to run_dir/calibration.json, so
the report, the dataset card and a resumed run read the same figures.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from genetic_instruct.files.atomic import atomic_file
from genetic_instruct.files.ownership import JSON_OWNER

CALIBRATION_JSON = "calibration.json"
META_KEY = "calibration"


@dataclass(frozen=True)
class Calibration:
    key: str  # digest of what it depends on (judge, prompt, seeds, settings)
    judge_model: str
    tasks: int
    correct: int  # readable verdicts on correct solutions
    faulty: int  # readable verdicts on faulty ones
    unreadable: dict[str, int]  # rejection reason -> verdicts that could not be read
    auc: float | None  # None: nothing to compare (no faulty or no correct verdict)
    auc_interval: tuple[float, float] | None
    confidence: float
    keep_correct: float
    threshold: float | None  # the highest that keeps keep_correct of the correct solutions
    correct_kept: float | None  # share of correct ones reaching it (ties: keep_correct or more)
    faulty_let_through: float | None  # share of faulty ones reaching that threshold
    gates: bool  # the AUC is clearly above chance: the threshold may gate survival
    scores: dict[str, dict[str, int]] = field(default_factory=dict)  # correct/faulty -> hist
    faulty_by_operator: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # sandbox (variants), judge

    def line(self) -> str:
        """The one line a user reads."""
        measured = (
            f"{self.correct} correct and {self.faulty} faulty solutions of {self.tasks} tasks"
        )
        if self.unreadable:
            measured += f" ({sum(self.unreadable.values())} verdicts unreadable)"
        if self.auc is None or self.auc_interval is None:
            needs = "" if self.tasks else "; it needs seed tasks with tests that pass"
            return (
                f"judge calibration: nothing to compare ({measured}{needs}); its verdict "
                "will not gate survival"
            )
        auc = f"AUC {self.auc:.2f} [{self.auc_interval[0]:.2f}, {self.auc_interval[1]:.2f}]"
        if not self.gates:
            return (
                f"judge calibration: the judge does not separate correct from faulty "
                f"solutions: {auc} over {measured}; its verdict will not gate survival"
            )
        return (
            f"judge calibration: {auc} over {measured}; threshold {self.threshold:g} keeps "
            f"{self.correct_kept:.0%} of correct solutions and lets "
            f"{self.faulty_let_through:.0%} of faulty ones through"
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "line": self.line()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        interval = known.get("auc_interval")
        return cls(**{**known, "auc_interval": tuple(interval) if interval else None})

    def write(self, run_dir: str | Path) -> Path:
        path = Path(run_dir) / CALIBRATION_JSON
        with atomic_file(path) as out:
            text = json.dumps({**JSON_OWNER, **self.to_dict()}, indent=2)
            out.write((text + "\n").encode("utf-8"))
        return path


def histogram(scores: list[float]) -> dict[str, int]:
    """Scores (weighted means, so not always whole) to one decimal -> count, in order."""
    counts = Counter(f"{s:.1f}" for s in scores)
    return dict(sorted(counts.items(), key=lambda kv: float(kv[0])))
