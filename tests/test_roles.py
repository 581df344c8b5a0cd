"""The roles read answers written the way real models write them (tests/answers/corpus.py),
and no answer, however hostile, makes a parser raise anything but a counted Rejection."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genetic_instruct.config import DEFAULT_MUTATION_METHODS
from genetic_instruct.evolution import roles
from genetic_instruct.evolution.candidate import Candidate
from genetic_instruct.evolution.operators import CROSSOVER, MUTATION, OffspringPlan
from genetic_instruct.evolution.roles import (
    CoderRole,
    CrossoverRole,
    JudgeRole,
    MutationRole,
    Solved,
)
from genetic_instruct.evolution.roles.base import Role
from genetic_instruct.llm.base import Completion
from genetic_instruct.prompts import load_templates
from genetic_instruct.prompts.languages import language_prompts
from genetic_instruct.rejection import Rejection
from genetic_instruct.sandbox import run_tests

from .answers.corpus import CASES, Case

_TEMPLATES = load_templates()
ROLES: dict[str, Role] = {
    "crossover": CrossoverRole(language_prompts(_TEMPLATES, "crossover")),
    "mutation": MutationRole(
        _TEMPLATES["mutation"], DEFAULT_MUTATION_METHODS, _TEMPLATES["translation"]
    ),
    "coder_tests": CoderRole(language_prompts(_TEMPLATES, "coder_tests"), 8000),
    "tester": roles.TesterRole(language_prompts(_TEMPLATES, "tester")),
    "judge": JudgeRole(_TEMPLATES["judge"], structured_output=True),
}


def _subject(case: Case) -> OffspringPlan | Candidate:
    operator = MUTATION if case.role == "mutation" else CROSSOVER
    plan = OffspringPlan(0, operator, (), case.n_tasks, "erroneous_code")
    return plan if case.role in ("crossover", "mutation") else Candidate(plan, case.subject)


def _read(case: Case) -> object:
    """What reaches a record as the answer: a Coder's solution and tests, its reasoning
    aside (kept only with export.reasoning, tested on its own)."""
    completion = Completion(case.answer, finish_reason=case.finish_reason)
    reading = ROLES[case.role].read(completion, _subject(case))  # type: ignore[arg-type]
    return (reading.solution, reading.tests) if isinstance(reading, Solved) else reading


@pytest.mark.parametrize("case", CASES, ids=[f"{c.role}-{c.family}" for c in CASES])
def test_each_answer_reads_as_expected(case: Case) -> None:
    expected = case.expected
    if isinstance(expected, str) and expected.startswith("reject:"):
        with pytest.raises(Rejection, match=f"^{expected.removeprefix('reject:')}$"):
            _read(case)
        return
    reading = _read(case)
    if case.role == "judge":
        assert reading.scores == expected  # type: ignore[attr-defined]
    elif isinstance(expected, str):  # tests in another form, run in the sandbox as such
        solution, tests = reading  # type: ignore[misc]
        _, count = expected.split(":")
        result = run_tests(solution, tests)
        assert (result.status, result.total) == ("passed", int(count)), (tests, result)
        assert "TestCase" not in solution and "assert" not in solution
    else:
        assert reading == expected


def test_no_reading_keeps_reasoning_drafts_chatter_or_other_languages() -> None:
    for case in CASES:
        try:
            reading = _read(case)
        except Rejection:
            continue
        text = repr(reading)
        for leak in (
            "<think>",
            "</think>",
            "DRAFT",
            "Sure!",
            "Let me know",
            "I hope",
            "#Rewritten Prompt#",
            "pip install",
            "<|channel|>",
            "possible solution",
        ):
            assert leak not in text, (case.family, case.role, leak)


def test_the_judge_prompt_shows_tests_and_the_execution_result() -> None:
    from genetic_instruct.sandbox import ExecutionResult

    plan = OffspringPlan(0, CROSSOVER, (), 1)
    cand = Candidate(plan, "Write f.", solution="def f(): return 1", tests="assert f() == 2")
    cand.execution = ExecutionResult("failed", 0, 1, 0.0, 0.01, "", "", "line 1: assert f() == 2")
    prompt = ROLES["judge"].prompt(cand)
    assert "assert f() == 2" in prompt and "0 of 1 passed (failed)" in prompt
    assert ROLES["judge"].json_schema is not None
    assert list(ROLES["judge"].json_schema["properties"])[0] == "rationale"


_HOSTILE = st.one_of(
    st.text(),
    st.text(alphabet="<>/think`{}[]\"':,0123456789 \n\x00pythoncorectsqualiy"),
    st.builds(lambda n, s: "[" * n + s + "{" * n, st.integers(0, 3000), st.text()),
    st.builds(lambda a, b: f"<think>{a}</think>```python\n{b}\n```", st.text(), st.text()),
)


@settings(max_examples=150, deadline=None)
@given(_HOSTILE, st.sampled_from(sorted(ROLES)), st.sampled_from(["stop", "length"]))
def test_no_parser_raises_anything_but_a_rejection(text: str, role: str, finish: str) -> None:
    case = Case("fuzz", role, text, None, finish_reason=finish, subject=text[:50])
    try:
        reading = _read(case)
    except Rejection:
        return
    if role == "judge":
        assert all(1 <= s <= 10 for s in reading.scores.values())  # type: ignore[attr-defined]
