"""The Judge: its prompt, its answer schema, and the reading of its verdict.

The schema puts the rationale first, so a judge constrained to it still reasons before it
scores. The verdict is the last schema-valid object of the final answer (a model may draft
a verdict, then revise it; reasoning is already removed), else the last "correctness: 7"
style lines. A score outside 1-10 is a rejection, never clamped: "100" is not "10".
"""

from __future__ import annotations

import json
import re
from typing import Any, Protocol

from genetic_instruct.config import JUDGE_CRITERIA
from genetic_instruct.evolution.fitness import SCORE_MAX, SCORE_MIN, JudgeVerdict
from genetic_instruct.evolution.roles.base import Role
from genetic_instruct.languages import Language
from genetic_instruct.prompts import PromptTemplate
from genetic_instruct.prompts.languages import fence_tag
from genetic_instruct.rejection import Rejection
from genetic_instruct.sandbox import ExecutionResult

RATIONALE_MAX_CHARS = 300
# Objects tried, from the end of the answer: a verdict is near its end, and each try decodes
# up to the rest of the text.
_MAX_OBJECTS_TRIED = 64

JUDGE_SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {
        "rationale": {"type": "string", "maxLength": RATIONALE_MAX_CHARS},
        **{
            name: {"type": "integer", "minimum": SCORE_MIN, "maximum": SCORE_MAX}
            for name in JUDGE_CRITERIA
        },
    },
    "required": ["rationale", *JUDGE_CRITERIA],
    "additionalProperties": False,
}

_LOOSE_SCORE = {
    name: re.compile(rf"\b{name}\W{{0,5}}(-?\d+(?:\.\d+)?)(?![\d.])", re.IGNORECASE)
    for name in JUDGE_CRITERIA
}


def _verdict(data: Any) -> JudgeVerdict:
    """A verdict from a decoded object; Rejection when it is not one."""
    if not isinstance(data, dict):
        raise Rejection("judge_not_object")
    scores: dict[str, float] = {}
    for name in JUDGE_CRITERIA:
        value = data.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise Rejection("judge_missing_score")
        try:
            score = float(value)
        except ValueError:
            raise Rejection("judge_missing_score") from None
        if not SCORE_MIN <= score <= SCORE_MAX:
            raise Rejection("judge_score_out_of_range")
        scores[name] = score
    rationale = data.get("rationale")
    text = rationale.strip() if isinstance(rationale, str) else ""
    return JudgeVerdict(scores, text[:RATIONALE_MAX_CHARS])


def _objects_from_end(text: str) -> list[Any]:
    """JSON objects in the text, the last-starting first; nesting too deep to decode is
    skipped like any other non-JSON brace."""
    decoder = json.JSONDecoder()
    found = []
    starts = [i for i, ch in enumerate(text) if ch == "{"][-_MAX_OBJECTS_TRIED:]
    for start in reversed(starts):
        try:
            found.append(decoder.raw_decode(text, start)[0])
        except (ValueError, RecursionError):
            continue
    return found


def parse_verdict(answer: str) -> JudgeVerdict:
    """The last schema-valid object; else the last loose score lines; else a rejection
    naming the first problem met (an out-of-range score, a missing one)."""
    first_error: Rejection | None = None
    for data in _objects_from_end(answer):
        try:
            return _verdict(data)
        except Rejection as error:
            first_error = first_error or error
    loose = {name: list(p.finditer(answer)) for name, p in _LOOSE_SCORE.items()}
    if all(loose.values()):
        return _verdict({name: found[-1].group(1) for name, found in loose.items()})
    raise first_error or Rejection("judge_unparseable")


class Judged(Protocol):
    """What the judge is shown: an offspring (Candidate) or a calibration specimen."""

    @property
    def instruction(self) -> str: ...
    @property
    def solution(self) -> str: ...
    @property
    def tests(self) -> str: ...
    @property
    def execution(self) -> ExecutionResult | None: ...
    @property
    def language(self) -> str: ...


def execution_summary(cand: Judged) -> str:
    """What the judge is told of the sandbox run, when there was one."""
    result = cand.execution
    if result is None:
        return "The tests were not run."
    line = f"The tests were run: {result.passed} of {result.total} passed ({result.status})."
    return f"{line} First problem: {result.detail}" if result.detail else line


class JudgeRole(Role[Judged, JudgeVerdict]):
    """Scores a task and its solution; sees the tests and the execution result."""

    engine_role = "judge"

    def __init__(self, template: PromptTemplate, structured_output: bool) -> None:
        super().__init__(template)
        self.json_schema = JUDGE_SCHEMA if structured_output else None

    def prompt(self, cand: Judged) -> str:
        fence = fence_tag(Language(cand.language))
        tests = f"Unit tests:\n```{fence}\n{cand.tests}\n```" if cand.tests else "No unit tests."
        return self.template.render(
            instruction=cand.instruction,
            solution=cand.solution,
            fence=fence,
            tests=tests,
            execution=execution_summary(cand),
        )

    def parse(self, answer: str, cand: Judged) -> JudgeVerdict:
        return parse_verdict(answer)
