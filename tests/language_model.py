"""A model that writes tasks and programs in C++, Java, JavaScript, Rust, Go and Python.

Served by tests/fault_proxy.FaultServer(answer=LanguageModel()). Each task it writes is one
of the shipped seeds' tasks in the language the prompt asks for (a translation, a
mutation or a crossover), with the task's function renamed `<name>_v<n>`, n from the
request seed, so every task is new. The Coder answers as models do (a sentence, the
solution's fence, the tests' fence) with the seed's solution and tests renamed alike:
right, or deliberately wrong (n % 4 == 1: a mutant its tests fail), or not compiling
(n % 4 == 2: a statement only the compiler refuses). The judge passes everything.
"""

from __future__ import annotations

import json
import re
from typing import Any

from genetic_instruct.files.shipped import language_seeds_path
from genetic_instruct.languages import SYNTAX, Language
from genetic_instruct.prompts.languages import fence_tag
from genetic_instruct.sandbox import SandboxLimits, run_tests
from genetic_instruct.sandbox.tree_mutants import tree_mutants

WRONG, BROKEN = 1, 2  # n % 4
# A statement each compiler refuses that a parser reads: a call of nothing that exists, or
# in JavaScript (checked only as V8 compiles the script) a name declared twice.
UNCOMPILABLE = {Language.javascript: " let giTwice = 1; let giTwice = 2;"}


def seeds(language: Language) -> list[dict]:
    lines = language_seeds_path(language.value).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def function_name(seed: dict) -> str:
    found = re.search(r"`[^`]*?\b(\w+)\(", seed["instruction"])
    assert found is not None, seed["id"]
    return found.group(1)


def wrong(solution: str, tests: str, language: Language) -> str:
    """A mutant of the solution that its tests fail (run here, in the sandbox), rather than
    one that loops or that they miss."""
    limits = SandboxLimits(wall_seconds=20, cpu_seconds=2)
    for mutant in tree_mutants(solution, language, 8):
        if run_tests(mutant.source, tests, limits, language).status == "failed":
            return mutant.source
    raise AssertionError(f"no mutant of {solution!r} that its tests fail")


def kind(n: int) -> str:
    return {WRONG: "wrong", BROKEN: "broken"}.get(n % 4, "right")


class LanguageModel:
    """The response body for each request (FaultServer's `answer`)."""

    def __init__(self) -> None:
        self.seeds = {language: seeds(language) for language in Language}
        self.by_title = {SYNTAX[language].title: language for language in Language}

    def __call__(self, body: dict[str, Any]) -> dict[str, Any]:
        prompt = body["messages"][-1]["content"]
        n = int(body.get("seed") or 0) % 10_000
        if "strict reviewer" in prompt:
            content = json.dumps({"rationale": "fine", "correctness": 9, "quality": 8})
        elif "Original task:" in prompt:
            content = "New task: " + self._task_from(prompt, n)
        elif "Task 1:" in prompt:
            content = self._crossover(prompt, n)
        else:
            content = self._program(prompt)
        return {
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": len(prompt.split()),
                "completion_tokens": len(content.split()),
            },
        }

    def _language_asked(self, prompt: str, default: Language) -> Language:
        found = re.search(r"as a (\S+) programming task|example (\S+) coding tasks", prompt)
        if found is None:
            return default
        return self.by_title[found.group(1) or found.group(2)]

    def _task_from(self, prompt: str, n: int) -> str:
        original = prompt.split("Original task:\n", 1)[1].split("\n\nWrite only", 1)[0].strip()
        for language, tasks in self.seeds.items():
            for index, seed in enumerate(tasks):
                base = re.sub(r"_v\d+", "", original)
                if seed["instruction"] == base:
                    target = self._language_asked(prompt, language)
                    return self._renamed_task(target, index, n)
        return self._renamed_task(Language.python, n % 30, n)

    def _crossover(self, prompt: str, n: int) -> str:
        language = self._language_asked(prompt, Language.python)
        count = int(re.search(r"Write (\d+) new", prompt).group(1))  # type: ignore[union-attr]
        return "\n".join(
            f"Task {i + 1}: {self._renamed_task(language, (n + 7 * i) % 30, n + i)}"
            for i in range(count)
        )

    def _renamed_task(self, language: Language, index: int, n: int) -> str:
        seed = self.seeds[language][index]
        name = function_name(seed)
        return seed["instruction"].replace(name, f"{name}_v{n}")

    def _program(self, prompt: str) -> str:
        found = re.search(r"\b(\w+)_v(\d+)\(", prompt)
        assert found is not None, prompt
        base, n = found.group(1), int(found.group(2))
        language = next(
            (lang for title, lang in self.by_title.items() if f"following {title} " in prompt),
            Language.python,
        )
        seed = next(s for s in self.seeds[language] if function_name(s) == base)
        solution = seed["solution"]
        if kind(n) == "wrong":
            solution = wrong(solution, seed["tests"], language)
        elif kind(n) == "broken":  # parses, and does not compile
            body = solution.index("{", solution.index(base)) + 1
            error = UNCOMPILABLE.get(language, " gi_undefined_call();")
            solution = solution[:body] + error + solution[body:]
        fence, title = fence_tag(language), SYNTAX[language].title
        solution, tests = (code.replace(base, f"{base}_v{n}") for code in (solution, seed["tests"]))
        return (
            f"Here is a {title} solution.\n\n```{fence}\n{solution}```\n\n"
            f"And its tests:\n\n```{fence}\n{tests}```\n"
        )
