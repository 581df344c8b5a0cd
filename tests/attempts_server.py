"""A model whose attempts at each task are right, wrong or cut as the test decides.

Served by tests/fault_proxy.FaultServer(answer=ControlledModel(...)). Every mutation makes a
task of a kind drawn from its request seed; the kind's plan says, per attempt (the Coder's
first, then the solver's, told apart by their request seeds, which the run fixes), whether
the answer is right (R), wrong (W) or cut by max_tokens mid-thought (T). The Coder's tests
are right, but for the `suspect` kind, which adds one wrong assert. Every answer thinks
aloud first (<think>), naming its attempt and whether it is right, so a test can tell
whose reasoning a row kept. The judge passes everything.
"""

from __future__ import annotations

import json
import re
from typing import Any

from genetic_instruct.evolution.requests import request_seed

PLANS = {  # per kind: the Coder's attempt, then the solver's
    "easy": "RRRR",
    "mostly": "RRTR",
    "medium": "RRWW",
    "hard": "WRWW",
    "unsolved": "WWWW",
    "suspect": "RRRW",
}
WRONG_ASSERT = "assert {name}(4) == 13"


def planned(kind: str) -> tuple[float, str | None]:
    """(pass rate, difficulty) the plan makes; difficulty None: rejected as unsolved."""
    rate = PLANS[kind].count("R") / len(PLANS[kind])
    label = None if rate == 0 else "easy" if rate > 0.667 else "hard" if rate < 0.333 else "medium"
    return rate, label


def kind_of(instruction: str) -> str:
    found = re.search(r"`(\w+?)_\d+\(x\)`", instruction)
    assert found is not None, instruction
    return found.group(1)


class ControlledModel:
    """The response body for each request (FaultServer's `answer`)."""

    def __init__(self, run_seed: int, generations: int, offspring: int, attempts: int) -> None:
        self.attempt_of_seed = {
            request_seed(run_seed, generation, "solver", number, attempt): attempt
            for generation in range(1, generations + 1)
            for number in range(offspring)
            for attempt in range(1, attempts)
        }

    def __call__(self, body: dict[str, Any]) -> dict[str, Any]:
        prompt = body["messages"][-1]["content"]
        seed = int(body.get("seed") or 0)
        finish = "stop"
        if "Original task:" in prompt:
            kind = sorted(PLANS)[seed % len(PLANS)]
            content = (
                f"New task: Write a Python function `{kind}_{seed}(x)` that returns three "
                "times the integer x, for any integer x given to it."
            )
        elif "response_format" in body or "strict reviewer" in prompt:
            content = json.dumps({"rationale": "fine", "correctness": 9, "quality": 8})
        else:
            content, finish = self._solution(prompt, seed)
        return {
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": finish,
                }
            ],
            "usage": {
                "prompt_tokens": len(prompt.split()),
                "completion_tokens": len(content.split()),
            },
        }

    def _solution(self, prompt: str, seed: int) -> tuple[str, str]:
        name = re.search(r"`(\w+)\(x\)`", prompt).group(1)  # type: ignore[union-attr]
        kind = kind_of(prompt)
        coder = "assert statements" in prompt
        attempt = 0 if coder else self.attempt_of_seed[seed]
        outcome = PLANS[kind][attempt]
        thought = (
            f"<think>\nREASONING {name} attempt {attempt} {'right' if outcome != 'W' else 'wrong'}"
        )
        if outcome == "T":
            return f"{thought} TRUNCATED and still thinking", "length"
        body = "x * 3" if outcome == "R" else "x * 3 + 100"
        answer = f"{thought}\n</think>\n\n```python\ndef {name}(x):\n    return {body}\n```"
        if coder:
            asserts = [f"assert {name}({x}) == {3 * x}" for x in (1, 2, 5, 0)]
            if kind == "suspect":
                asserts.append(WRONG_ASSERT.format(name=name))
            answer += "\n\n```python\n" + "\n".join(asserts) + "\n```"
        return answer, "stop"
