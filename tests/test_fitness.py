"""The judge's verdicts: strict JSON, JSON in prose, loose lines, and garbage."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genetic_instruct.fitness import JudgeVerdict, VerdictError, fitness, parse_verdict


def test_strict_json() -> None:
    verdict = parse_verdict('{"correctness": 8, "quality": 6, "rationale": "fine"}')
    assert verdict == JudgeVerdict({"correctness": 8.0, "quality": 6.0}, "fine")


def test_json_inside_prose_and_loose_lines() -> None:
    prose = 'Here you go: {"correctness": "9", "quality": 7, "rationale": "ok"} thanks'
    assert parse_verdict(prose).scores == {"correctness": 9.0, "quality": 7.0}
    loose = "Correctness: 7/10\nQuality - 5\nThe code works."
    assert parse_verdict(loose).scores == {"correctness": 7.0, "quality": 5.0}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "judge_unparseable"),
        ("I like it", "judge_unparseable"),
        ('{"correctness": 11, "quality": 5, "rationale": ""}', "judge_score_out_of_range"),
        ('{"correctness": 5, "rationale": ""}', "judge_missing_score"),
        ('{"correctness": true, "quality": 5}', "judge_missing_score"),
        ("[1, 2]", "judge_not_object"),
    ],
)
def test_unreadable_verdicts_are_reasons(text: str, reason: str) -> None:
    with pytest.raises(VerdictError, match=reason):
        parse_verdict(text)


def test_fitness_is_the_weighted_mean() -> None:
    verdict = JudgeVerdict({"correctness": 10.0, "quality": 5.0}, "")
    assert fitness(verdict, {"correctness": 0.6, "quality": 0.4}) == pytest.approx(8.0)
    assert fitness(verdict, {"quality": 1.0}) == 5.0


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parser_raises_only_verdict_errors(text: str) -> None:
    try:
        verdict = parse_verdict(text)
    except VerdictError:
        return
    assert all(1 <= s <= 10 for s in verdict.scores.values())
