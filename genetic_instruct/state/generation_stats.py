"""One generation's counts, in one shape for every generation, as the run state keeps them.

Generation 0 is the seeds: nothing tried, every seed accepted into the population. The loop
fills a GenerationStats while a generation runs, the store commits it with the survivors,
and the stall check, `inspect` and the report read it back. Rows written by earlier
versions (generation 0 as {"seeds": n}; rows from before wall_seconds, replayed,
executions, the score histograms or the attempts were counted) are converted here, as they are read,
so no reader guesses at a row's shape.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class GenerationStats:
    generation: int
    tried: int = 0  # offspring asked of the Instructor
    accepted: int = 0  # offspring that joined the population (generation 0: the seeds)
    population: int = 0  # its size once the generation was committed
    rejected: Counter[str] = field(default_factory=Counter)  # reason -> offspring
    prompt_tokens: dict[str, int] = field(default_factory=dict)  # role -> tokens
    completion_tokens: dict[str, int] = field(default_factory=dict)
    # per stage, from its first request to its last answer: stages overlap
    seconds: dict[str, float] = field(default_factory=dict)
    wall_seconds: float = 0.0
    replayed: int = 0  # answers taken from the journal
    # criterion -> score -> count, over every readable verdict (rejected offspring included)
    judge_scores: dict[str, Counter[int]] = field(default_factory=dict)
    executions: Counter[str] = field(default_factory=Counter)  # sandbox status -> count
    # mutation score to one decimal -> count, over every program whose tests passed
    mutation_scores: Counter[str] = field(default_factory=Counter)
    # Over the offspring whose attempts all ran (execution.attempts), rejected ones too:
    difficulty: Counter[str] = field(default_factory=Counter)  # label -> offspring
    attempts: Counter[str] = field(default_factory=Counter)  # verdict -> attempts
    suspect_asserts: int = 0  # asserts the independent attempts voted out
    suspect_tasks: int = 0  # offspring with at least one
    # pass rate (2 decimals) -> judge score (1 decimal) -> offspring judged with both
    judged_pass_rates: dict[str, Counter[str]] = field(default_factory=dict)

    @classmethod
    def of_seeds(cls, count: int) -> GenerationStats:
        """Generation 0: the seeds, every one accepted."""
        return cls(0, accepted=count, population=count)

    @property
    def acceptance(self) -> float | None:
        """Accepted over tried; None where nothing was tried (the seeds)."""
        return self.accepted / self.tried if self.tried else None

    def count_tokens(self, role: str, prompt: int, completion: int) -> None:
        self.prompt_tokens[role] = self.prompt_tokens.get(role, 0) + prompt
        self.completion_tokens[role] = self.completion_tokens.get(role, 0) + completion

    def count_attempts(self, label: str | None, verdicts: Mapping[str, int], suspects: int) -> None:
        """One offspring's attempts: its difficulty, its attempts' verdicts, the asserts
        voted out."""
        if label is not None:
            self.difficulty[label] += 1
        self.attempts.update(verdicts)
        self.suspect_asserts += suspects
        self.suspect_tasks += bool(suspects)

    def count_judged(self, pass_rate: float, judge_score: float) -> None:
        """An offspring that has both a pass rate and a judge's score (calibration/
        measures how well the one predicts the other)."""
        scores = self.judged_pass_rates.setdefault(f"{pass_rate:.2f}", Counter())
        scores[f"{judge_score:.1f}"] += 1

    def count_scores(self, scores: Mapping[str, float]) -> None:
        """One verdict's scores, rounded to whole points."""
        for name, score in scores.items():
            self.judge_scores.setdefault(name, Counter())[round(score)] += 1

    def to_stored(self) -> dict[str, Any]:
        """As the store keeps it (the generation is the row's key). Reasons most frequent
        first: they are counted as answers arrive, and the row must not depend on that."""
        return {
            "tried": self.tried,
            "accepted": self.accepted,
            "rejected": dict(sorted(self.rejected.items(), key=lambda kv: (-kv[1], kv[0]))),
            "population": self.population,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "seconds": self.seconds,
            "wall_seconds": self.wall_seconds,
            "replayed": self.replayed,
            "executions": dict(self.executions),
            "mutation_scores": dict(sorted(self.mutation_scores.items())),
            "difficulty": dict(sorted(self.difficulty.items())),
            "attempts": dict(sorted(self.attempts.items())),
            "suspect_asserts": self.suspect_asserts,
            "suspect_tasks": self.suspect_tasks,
            "judged_pass_rates": {
                rate: dict(sorted(hist.items()))
                for rate, hist in sorted(self.judged_pass_rates.items())
            },
            "judge_scores": {
                name: {str(k): v for k, v in sorted(hist.items())}
                for name, hist in self.judge_scores.items()
            },
        }

    @classmethod
    def from_stored(cls, generation: int, row: Mapping[str, Any]) -> GenerationStats:
        """A stored row, of this version or an earlier one (the one place that knows them)."""
        if "seeds" in row:  # generation 0 before its row had this shape
            return cls.of_seeds(row["seeds"])
        seconds = dict(row.get("seconds", {}))
        return cls(
            generation,
            tried=row.get("tried", 0),
            accepted=row.get("accepted", 0),
            population=row.get("population", 0),
            rejected=Counter(row.get("rejected", {})),
            prompt_tokens=dict(row.get("prompt_tokens", {})),
            completion_tokens=dict(row.get("completion_tokens", {})),
            seconds=seconds,
            # stages overlap, so their seconds do not add up (runs before streaming: they did)
            wall_seconds=row.get("wall_seconds", round(sum(seconds.values()), 3)),
            replayed=row.get("replayed", 0),
            judge_scores={
                name: Counter({int(score): n for score, n in hist.items()})
                for name, hist in row.get("judge_scores", {}).items()
            },
            executions=Counter(row.get("executions", {})),
            mutation_scores=Counter(row.get("mutation_scores", {})),
            difficulty=Counter(row.get("difficulty", {})),
            attempts=Counter(row.get("attempts", {})),
            suspect_asserts=row.get("suspect_asserts", 0),
            suspect_tasks=row.get("suspect_tasks", 0),
            judged_pass_rates={
                rate: Counter(hist) for rate, hist in row.get("judged_pass_rates", {}).items()
            },
        )
