"""The Judge: its prompt's answer schema, a tolerant parser, and the fitness aggregate.

Engines that support structured output are given JUDGE_SCHEMA and return valid JSON; the
parser still accepts JSON buried in prose or plain "correctness: 7" lines, because HTTP
servers and small models do not always comply. Anything it cannot read is a rejection with
a reason, never an exception.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from genetic_instruct.config import JUDGE_CRITERIA

SCORE_MIN, SCORE_MAX = 1, 10
RATIONALE_MAX_CHARS = 300

JUDGE_SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {
        "correctness": {"type": "integer", "minimum": SCORE_MIN, "maximum": SCORE_MAX},
        "quality": {"type": "integer", "minimum": SCORE_MIN, "maximum": SCORE_MAX},
        "rationale": {"type": "string", "maxLength": RATIONALE_MAX_CHARS},
    },
    "required": ["correctness", "quality", "rationale"],
    "additionalProperties": False,
}

_JSON_OBJECT = re.compile(r"\{.*?\}", re.DOTALL)
_LOOSE_SCORE = {
    name: re.compile(rf"{name}\W{{0,5}}(\d{{1,2}})", re.IGNORECASE) for name in JUDGE_CRITERIA
}


@dataclass(frozen=True)
class JudgeVerdict:
    scores: dict[str, float]
    rationale: str


class VerdictError(ValueError):
    """The judge's answer could not be read; the message is the rejection reason."""


def _from_mapping(data: object) -> JudgeVerdict:
    if not isinstance(data, dict):
        raise VerdictError("judge_not_object")
    scores: dict[str, float] = {}
    for name in JUDGE_CRITERIA:
        value = data.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise VerdictError("judge_missing_score")
        try:
            score = float(value)
        except ValueError:
            raise VerdictError("judge_missing_score") from None
        if not SCORE_MIN <= score <= SCORE_MAX:
            raise VerdictError("judge_score_out_of_range")
        scores[name] = score
    rationale = data.get("rationale")
    text = rationale.strip() if isinstance(rationale, str) else ""
    return JudgeVerdict(scores, text[:RATIONALE_MAX_CHARS])


def parse_verdict(text: str) -> JudgeVerdict:
    """Read a verdict: strict JSON, then the first JSON object inside prose, then loose lines."""
    candidates = [text.strip()] + _JSON_OBJECT.findall(text)
    first_error: VerdictError | None = None
    for candidate in candidates:
        try:
            return _from_mapping(json.loads(candidate))
        except json.JSONDecodeError:
            continue
        except VerdictError as error:
            first_error = first_error or error
    if first_error is not None:
        raise first_error
    loose = {name: pattern.search(text) for name, pattern in _LOOSE_SCORE.items()}
    if all(loose.values()):
        return _from_mapping({name: m.group(1) for name, m in loose.items() if m})
    raise VerdictError("judge_unparseable")


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
