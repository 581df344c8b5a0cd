"""The solution in a model's answer: which of its fenced blocks is the program.

An answer may hold several fenced blocks: shell commands, example output, a draft and a
revision, the solution, its tests. The solution is chosen by language and content: Python
blocks only (tagged, or untagged and parseable), the last one that defines what the task
names (a revision follows its draft), else the last that defines any function or class.
The Coder's answers are read this way, and so are seed files whose answers are Markdown
(seeding/formats.py).
"""

from __future__ import annotations

import ast
import re

from genetic_instruct.answers.text import PYTHON_TAGS, fences
from genetic_instruct.answers.written_tests import defined_names, parse_module, split_program
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


def _defines_callable(tree: ast.Module) -> bool:
    return any(
        isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for n in tree.body
    )
