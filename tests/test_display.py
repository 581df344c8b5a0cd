"""The progress display: counts every answer, redraws the bar only a few times a second."""

from __future__ import annotations

from typing import Any

from genetic_instruct.console.display import StageTracker


class _Bar:
    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []

    def update(self, _task: object, **fields: Any) -> None:
        self.updates.append(fields)


def test_a_large_stage_counts_every_answer_but_redraws_rarely() -> None:
    bar = _Bar()
    tracker = StageTracker(bar, task=0, accepted_so_far="-")  # type: ignore[arg-type]
    for _ in range(20_000):
        tracker.answered("coder", 5)
    assert tracker.done == 20_000 and tracker.tokens == 100_000
    assert len(bar.updates) <= 1 + 10 * tracker.seconds  # at most ~10 redraws a second
