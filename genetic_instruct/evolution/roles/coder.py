"""The Coder (solution, and tests when asked), the Solver (the task again, blind to its
tests) and the Tester (tests for a given solution).

The solution is one of the answer's Python blocks, chosen as answers/python_code.py says;
tests are taken from every Python block, in the forms models write them
(answers/written_tests.py). In the other languages the offspring's plan names, the prompt
is that language's (prompts/languages.py) and the answer is read as strictly by
answers/language_code.py. A solution keeps the model's reasoning beside it (the thoughts
before the final answer, or returned apart by the server): an answer whose reasoning was
cut or never ended is rejected before it is read, so what is kept is always whole.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from genetic_instruct.answers.language_code import language_files, read_program, tests_in
from genetic_instruct.answers.python_code import choose_solution, python_blocks
from genetic_instruct.answers.text import inline_reasoning
from genetic_instruct.answers.written_tests import (
    defined_names,
    is_test_node,
    parse_module,
    runnable_tests,
    split_program,
)
from genetic_instruct.evolution.candidate import Candidate
from genetic_instruct.evolution.roles.base import Role, storable
from genetic_instruct.languages import Language
from genetic_instruct.llm.base import Completion
from genetic_instruct.prompts import PromptTemplate
from genetic_instruct.prompts.languages import LanguagePrompts
from genetic_instruct.rejection import Rejection


def holds_tests(code: str) -> bool:
    tree = parse_module(code)
    return tree is not None and any(is_test_node(n) for n in tree.body)


def tests_of(blocks: list[str], solution_names: set[str]) -> str:
    """The runnable tests of each block that has any, together; blocks are read one by one
    so one that is not Python (example output, say) costs only itself."""
    return "\n".join(t for t in (runnable_tests(b, solution_names) for b in blocks) if t)


@dataclass(frozen=True)
class Solved:
    solution: str
    tests: str  # runnable tests, or ""
    reasoning: str | None = None  # the thoughts that led to it, whole; None: none written


def reasoning_of(completion: Completion) -> str | None:
    """The reasoning behind a completion: what the server returned apart, else the thoughts
    written before the final answer."""
    return completion.reasoning or inline_reasoning(completion.text)


class CoderRole(Role[Candidate, Solved]):
    """Solves a task; its tests too when the prompt asks for them."""

    engine_role = "coder"

    def __init__(self, prompts: LanguagePrompts, max_solution_chars: int) -> None:
        super().__init__(prompts.python)
        self.prompts = prompts
        self.max_solution_chars = max_solution_chars

    def template_for(self, cand: Candidate) -> PromptTemplate:
        return self.prompts.template(Language(cand.plan.language))

    def prompt(self, cand: Candidate) -> str:
        return self.prompts.render(Language(cand.plan.language), instruction=cand.instruction)

    def read(self, completion: Completion, cand: Candidate) -> Solved:
        solved = super().read(completion, cand)
        return dataclasses.replace(solved, reasoning=storable(reasoning_of(completion)))

    def parse(self, answer: str, cand: Candidate) -> Solved:
        language = Language(cand.plan.language)
        if language is not Language.python:  # answers/language_code.py, as strict
            solution, tests = read_program(answer, language, cand.instruction, False)
            if len(solution) > self.max_solution_chars:
                raise Rejection("solution_too_long")
            return Solved(solution, tests)
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
        return Solved(solution, tests_of([own_tests, *others], defined_names(tree)))


class SolverRole(CoderRole):
    """Solves a task again for the attempts (execution.attempts), shown neither its tests
    nor any other attempt; what tests its answer holds are not read."""

    engine_role = "solver"


class TesterRole(Role[Candidate, str]):
    """Writes tests for a candidate's solution, in its own request."""

    engine_role = "tester"

    def __init__(self, prompts: LanguagePrompts) -> None:
        super().__init__(prompts.python)
        self.prompts = prompts

    def template_for(self, cand: Candidate) -> PromptTemplate:
        return self.prompts.template(Language(cand.plan.language))

    def prompt(self, cand: Candidate) -> str:
        language = Language(cand.plan.language)
        return self.prompts.render(language, instruction=cand.instruction, solution=cand.solution)

    def parse(self, answer: str, cand: Candidate) -> str:
        language = Language(cand.plan.language)
        if language is not Language.python:
            files = [f.code for f in language_files(answer, language) if tests_in(f.code, language)]
            if not files:
                raise Rejection("no_tests")
            return files[-1]
        blocks = python_blocks(answer)
        if not blocks:
            raise Rejection("no_code")
        tree = parse_module(cand.solution)
        names = defined_names(tree) if tree is not None else set()
        tests = tests_of(blocks, names)
        if not tests:
            raise Rejection("no_tests")
        return tests
