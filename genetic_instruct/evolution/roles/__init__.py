"""One object per LLM role: its prompt template, structured-output schema, parser, provenance.

    CrossoverRole, MutationRole   the Instructor's two operators (engine role "instructor")
    CoderRole                     a solution, and tests when the prompt asks for them
    SolverRole                    another solution, blind to the tests (execution.attempts)
    TesterRole                    tests for a given solution (execution.tests_from=tester)
    JudgeRole                     a verdict (scores and rationale)

Each has `prompt(subject) -> str` and `read(completion, subject)`, which returns what the
answer means or raises Rejection with a counted reason (roles/base.py says which answers
no role reads). The loop (evolution/loop.py) only orders them.
"""

from genetic_instruct.evolution.roles.base import Role
from genetic_instruct.evolution.roles.coder import CoderRole, Solved, SolverRole, TesterRole
from genetic_instruct.evolution.roles.instructor import CrossoverRole, MutationRole
from genetic_instruct.evolution.roles.judge import JUDGE_SCHEMA, JudgeRole

__all__ = [
    "JUDGE_SCHEMA",
    "CoderRole",
    "CrossoverRole",
    "JudgeRole",
    "MutationRole",
    "Role",
    "Solved",
    "SolverRole",
    "TesterRole",
]
