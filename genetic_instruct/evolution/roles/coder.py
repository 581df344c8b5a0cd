"""The Coder (solution, and tests when asked) and the Tester (tests for a given solution).

The solution is one of the answer's Python blocks, chosen as answers/python_code.py says;
tests are taken from every Python block, in the forms models write them
(answers/written_tests.py).
"""

from __future__ import annotations

from genetic_instruct.answers.python_code import choose_solution, python_blocks
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


def holds_tests(code: str) -> bool:
    tree = parse_module(code)
    return tree is not None and any(is_test_node(n) for n in tree.body)


def tests_of(blocks: list[str], solution_names: set[str]) -> str:
    """The runnable tests of each block that has any, together; blocks are read one by one
    so one that is not Python (example output, say) costs only itself."""
    return "\n".join(t for t in (runnable_tests(b, solution_names) for b in blocks) if t)


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
