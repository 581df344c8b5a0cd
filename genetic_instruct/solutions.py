"""Getting a program (and its unit tests) out of a model's answer; the cheap checks on both."""

from __future__ import annotations

import ast
import re

_FENCE = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL | re.IGNORECASE)


class SolutionError(ValueError):
    """The answer holds no usable program; the message is the rejection reason."""


def _blocks(text: str) -> list[str]:
    """Fenced code blocks, or the whole answer when it has none (bare Python)."""
    blocks = [b.strip("\n") for b in _FENCE.findall(text)]
    blocks = [b for b in blocks if b.strip()]
    if blocks:
        return blocks
    return [text.strip("\n")] if text.strip() and "```" not in text else []


def _parses(code: str) -> ast.Module | None:
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError):  # ValueError: null bytes in source
        return None


def extract_code(text: str) -> str:
    """The first fenced code block, or the whole answer when it is bare Python."""
    blocks = _blocks(text)
    if not blocks:
        raise SolutionError("no_code")
    return blocks[0]


def check_solution(text: str, max_chars: int) -> str:
    """Extract the program and reject it if it is too long or does not parse."""
    code = extract_code(text)
    if len(code) > max_chars:
        raise SolutionError("solution_too_long")
    if _parses(code) is None:
        raise SolutionError("code_syntax_error")
    return code


def split_solution_and_tests(text: str, max_chars: int) -> tuple[str, str]:
    """The solution (first block) and its tests: later blocks with asserts, plus any
    top-level asserts the model left in the solution block (small models often do)."""
    code = check_solution(text, max_chars)
    tree = _parses(code)
    assert tree is not None
    lines = code.splitlines()
    moved = [n for n in tree.body if isinstance(n, ast.Assert)]
    drop = {i for n in moved for i in range(n.lineno - 1, (n.end_lineno or n.lineno))}
    solution = "\n".join(line for i, line in enumerate(lines) if i not in drop).strip("\n")
    tests = [ast.get_source_segment(code, n) or "" for n in moved]
    tests += [b for b in _blocks(text)[1:] if "assert" in b]
    if not solution.strip() or _parses(solution) is None:
        raise SolutionError("code_syntax_error")
    return solution, "\n".join(tests)


def check_tests(tests: str) -> str:
    """Tests must parse and hold at least one top-level assert."""
    tree = _parses(tests)
    if tree is None:
        raise SolutionError("tests_syntax_error")
    if not any(isinstance(n, ast.Assert) for n in tree.body):
        raise SolutionError("no_tests")
    return tests


def as_markdown(code: str) -> str:
    """How a solution is shown as the assistant's message in the exported chat."""
    return f"```python\n{code}\n```"
