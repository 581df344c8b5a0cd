"""The Coder (solution, and tests when asked) and the Tester (tests for a given solution).

A model's answer may hold several fenced blocks: shell commands, example output, a draft and
a revision, the solution, its tests. The solution is chosen by language and content: Python
blocks only (tagged, or untagged and parseable), the last one that defines what the task
names (a revision follows its draft), else the last that defines any function or class.
Tests are taken from every Python block, in the forms models write them (answers/written_tests.py).
"""

from __future__ import annotations

import ast
import re

from genetic_instruct.answers.text import PYTHON_TAGS, fences
from genetic_instruct.answers.written_tests import (
    defined_names,
    is_test_node,
    parse_module,
    runnable_tests,
    split_program,
)
from genetic_instruct.evolution.candidate import Candidate
from genetic_instruct.evolution.roles.base import Role
from genetic_instruct.prompts import PromptTemplate
from genetic_instruct.rejection import Rejection

# Names a task asks for: `name`, name(...) .
_NAMED = re.compile(r"`([A-Za-z_]\w*)|\b([A-Za-z_]\w*)\s*\(")


def python_blocks(answer: str) -> list[str]:
    """Python code in the answer: tagged blocks, untagged blocks that parse, or the whole
    answer when it has no fence and is itself Python."""
    blocks = fences(answer)
    if not blocks:
        tree = parse_module(answer)
        return [answer.strip("\n")] if tree is not None and defined_names(tree) else []
    return [
        b.code
        for b in blocks
        if b.code.strip()
        and (b.language in PYTHON_TAGS or (not b.language and parse_module(b.code) is not None))
    ]


def named_in(instruction: str) -> set[str]:
    return {a or b for a, b in _NAMED.findall(instruction)}


def choose_solution(blocks: list[str], instruction: str) -> str:
    """The block that holds the solution (see the module docstring)."""
    programs = [(code, parse_module(split_program(code)[0])) for code in blocks]
    parsed = [(code, tree) for code, tree in programs if tree is not None]
    if not parsed:
        raise Rejection("code_syntax_error")
    wanted = named_in(instruction)
    defining = [code for code, tree in parsed if defined_names(tree) & wanted]
    if defining:
        return defining[-1]
    defining = [code for code, tree in parsed if _defines_callable(tree)]
    return defining[-1] if defining else parsed[0][0]


def holds_tests(code: str) -> bool:
    tree = parse_module(code)
    return tree is not None and any(is_test_node(n) for n in tree.body)


def tests_of(blocks: list[str], solution_names: set[str]) -> str:
    """The runnable tests of each block that has any, together; blocks are read one by one
    so one that is not Python (example output, say) costs only itself."""
    return "\n".join(t for t in (runnable_tests(b, solution_names) for b in blocks) if t)


def _defines_callable(tree: ast.Module) -> bool:
    return any(
        isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for n in tree.body
    )


class CoderRole(Role[Candidate, tuple[str, str]]):
    """Solves a task; (solution, runnable tests or "")."""

    engine_role = "coder"

    def __init__(self, template: PromptTemplate, max_solution_chars: int) -> None:
        super().__init__(template)
        self.max_solution_chars = max_solution_chars

    def prompt(self, cand: Candidate) -> str:
        return self.template.render(instruction=cand.instruction)

    def parse(self, answer: str, cand: Candidate) -> tuple[str, str]:
        blocks = python_blocks(answer)
        if not blocks:
            raise Rejection("no_code")
        chosen = choose_solution(blocks, cand.instruction)
        solution, own_tests = split_program(chosen)
        if len(solution) > self.max_solution_chars:
            raise Rejection("solution_too_long")
        tree = parse_module(solution)
        if not solution.strip() or tree is None:
            raise Rejection("code_syntax_error")
        others = [b for b in blocks if b is not chosen and holds_tests(b)]
        return solution, tests_of([own_tests, *others], defined_names(tree))


class TesterRole(Role[Candidate, str]):
    """Writes tests for a candidate's solution, in its own request."""

    engine_role = "tester"

    def prompt(self, cand: Candidate) -> str:
        return self.template.render(instruction=cand.instruction, solution=cand.solution)

    def parse(self, answer: str, cand: Candidate) -> str:
        blocks = python_blocks(answer)
        if not blocks:
            raise Rejection("no_code")
        tree = parse_module(cand.solution)
        names = defined_names(tree) if tree is not None else set()
        tests = tests_of(blocks, names)
        if not tests:
            raise Rejection("no_tests")
        return tests
