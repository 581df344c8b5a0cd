"""A synthetic engine for tests and benchmarks: instant, deterministic, never the default.

It answers like the three roles would (tasks with "Task N:" headers, a fenced program, a
JSON verdict), each answer a pure function of the request's seed and prompt, with a
controlled share of malformed answers and near-copies, so the loop's parsing, filtering and
dedup paths all get exercised without a model.
"""

from __future__ import annotations

import ast
import json
import re
import time
from collections.abc import Sequence

import numpy as np

from genetic_instruct.errors import EngineLost
from genetic_instruct.files.jsonl import read_jsonl
from genetic_instruct.files.shipped import resolve_seeds_path
from genetic_instruct.llm.base import ChatRequest, Completion, CompletionCallback

_WORDS = (
    "list string integer matrix graph tree queue stack interval prefix suffix window "
    "palindrome anagram frequency histogram median mode parity prime factor divisor "
    "path cycle component bracket token parser date duration ledger inventory schedule "
    "cache buffer stream iterator generator matrix diagonal spiral rotation bitmask "
    "checksum encoding cipher vowel consonant digit sum product minimum maximum range"
).split()
_VERBS = "count find return compute build merge split sort group validate encode decode".split()
_N_TASKS = re.compile(r"Write (\d+) new", re.IGNORECASE)
_FACTOR = re.compile(r"x \* (\d+)")
_JUDGED_SOLUTION = re.compile(r"Solution:\n```python\n(.*?)\n```", re.DOTALL)


class ScriptedEngine:
    """Answers from a seeded RNG; `malformed_rate` and `copy_rate` control the faults.

    `trivial_tests_rate` is the share of programs whose tests are `assert True` (they
    pass, and test nothing). `latency_s` makes each answer take that long (to test
    interruption mid-stage); `request_log` names a file that gets each received request's
    journal key, flushed before answering, so crash tests can prove no finished request
    was sent twice. `judge_references` names a seed file whose solutions this engine, as
    judge, knows to be right: it scores them 9 and any other solution 2 (a judge that
    scores by correctness, to test calibration against); without it, verdicts are random.
    `lost_after` makes it raise EngineLost once it has answered that many requests (an
    engine that dies mid-run; each Ray colony's engine counts its own).
    """

    def __init__(
        self,
        model_name: str = "scripted",
        malformed_rate: float = 0.1,
        copy_rate: float = 0.05,
        trivial_tests_rate: float = 0.0,
        latency_s: float = 0.0,
        request_log: str | None = None,
        judge_references: str | None = None,
        lost_after: int = 0,
    ) -> None:
        self.model_name = model_name
        self.malformed_rate = malformed_rate
        self.copy_rate = copy_rate
        self.trivial_tests_rate = trivial_tests_rate
        self.latency_s = latency_s
        self._log = open(request_log, "a", encoding="utf-8") if request_log else None  # noqa: SIM115
        self.calls = 0  # requests answered, so tests can prove what was (not) sent
        self._correct = _solutions(judge_references) if judge_references else None
        self.lost_after = lost_after

    def generate(
        self, requests: Sequence[ChatRequest], on_complete: CompletionCallback | None = None
    ) -> list[Completion]:
        results = []
        for i, request in enumerate(requests):
            if self.lost_after and self.calls >= self.lost_after:
                raise EngineLost(
                    f"{self.model_name}: gone after {self.calls} answers (engine_args.lost_after)"
                )
            if self._log is not None:
                self._log.write(request.journal_key(self.model_name) + "\n")
                self._log.flush()
            if self.latency_s:
                time.sleep(self.latency_s)
            completion = self._answer(request)
            self.calls += 1
            results.append(completion)
            if on_complete is not None:
                on_complete(i, completion)
        return results

    def close(self) -> None:
        if self._log is not None:
            self._log.close()

    def _answer(self, request: ChatRequest) -> Completion:
        prompt = request.messages[-1][1]
        rng = np.random.default_rng([request.seed, len(prompt)])
        if rng.random() < self.malformed_rate:
            text = "".join(rng.choice(list("{}[]`#:*  abc\n"), size=40))
        elif request.json_schema is not None:
            text = self._verdict(rng, self._judged_correct(prompt))
        elif "Solve the" in prompt:
            text = self._program(rng, "assert statements" in prompt, self.trivial_tests_rate)
        elif "Write unit tests" in prompt:
            factor = _FACTOR.search(prompt)  # tests for the program this engine wrote
            text = self._tests(rng, int(factor.group(1)) if factor else 1)
        elif "Original task:" in prompt:
            text = "New task: " + self._task(rng, prompt)
        else:
            match = _N_TASKS.search(prompt)
            n = int(match.group(1)) if match else 1
            text = "\n".join(f"Task {k}: {self._task(rng, prompt)}" for k in range(1, n + 1))
        tokens = len(text.split())
        return Completion(text, len(prompt.split()), min(tokens, request.sampling.max_tokens))

    def _task(self, rng: np.random.Generator, prompt: str) -> str:
        if rng.random() < self.copy_rate:  # a near-copy of something in the prompt
            lines = [ln for ln in prompt.splitlines() if len(ln.split()) >= 8]
            if lines:
                return str(lines[int(rng.integers(len(lines)))])
        words = " ".join(rng.choice(_WORDS, size=int(rng.integers(12, 30))))
        name = f"{rng.choice(_VERBS)}_{rng.choice(_WORDS)}_{int(rng.integers(10**6))}"
        return (
            f"Write a Python function `{name}(data)` that uses {words}. "
            f"Return the result and handle empty input."
        )

    @classmethod
    def _program(cls, rng: np.random.Generator, with_tests: bool, trivial_rate: float) -> str:
        k = int(rng.integers(1, 9))
        program = f"```python\ndef solve(data):\n    return [x * {k} for x in data]\n```"
        if not with_tests:
            return program
        # Drawn only when asked for, so the default answers stay what they were.
        if trivial_rate > 0 and rng.random() < trivial_rate:
            return program + "\n```python\nassert True\nassert True\n```"
        return program + "\n" + cls._tests(rng, k)

    @staticmethod
    def _tests(rng: np.random.Generator, k: int) -> str:
        """Four asserts about `solve`; about one answer in five gets one of them wrong."""
        wrong = int(rng.integers(4)) if rng.random() < 0.2 else -1
        lines = [
            f"assert solve([{i}, {i + 1}]) == [{i * k + (j == wrong)}, {(i + 1) * k}]"
            for j, i in enumerate(range(1, 5))
        ]
        return "```python\n" + "\n".join(lines) + "\n```"

    def _judged_correct(self, prompt: str) -> bool | None:
        """Whether the solution shown is a known right one; None: this judge does not know."""
        if self._correct is None:
            return None
        shown = _JUDGED_SOLUTION.search(prompt)
        return shown is not None and _normal_form(shown.group(1)) in self._correct

    @staticmethod
    def _verdict(rng: np.random.Generator, correct: bool | None = None) -> str:
        scores = rng.integers(3, 11, size=2) if correct is None else [9 if correct else 2] * 2
        return json.dumps(
            {"correctness": int(scores[0]), "quality": int(scores[1]), "rationale": "scripted"}
        )


def _normal_form(source: str) -> str:
    """A program's text up to formatting (mutants are written back by ast.unparse)."""
    try:
        return ast.dump(ast.parse(source))
    except SyntaxError:
        return source


def _solutions(seed_file: str) -> set[str]:
    """The solutions of a seed file in the native format (`builtin`: the shipped seeds)."""
    path = resolve_seeds_path(seed_file)
    return {_normal_form(record["solution"]) for _, _, record in read_jsonl(str(path))}
