"""Getting a program out of the Coder's answer, and the cheap checks before judging it."""

from __future__ import annotations

import ast
import re

_FENCE = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL | re.IGNORECASE)


class SolutionError(ValueError):
    """The answer holds no usable program; the message is the rejection reason."""


def extract_code(text: str) -> str:
    """The first fenced code block, or the whole answer when it is bare Python."""
    match = _FENCE.search(text)
    code = match.group(1) if match else text
    code = code.strip("\n")
    if not code.strip():
        raise SolutionError("no_code")
    return code


def check_solution(text: str, max_chars: int) -> str:
    """Extract the program and reject it if it is too long or does not parse."""
    code = extract_code(text)
    if len(code) > max_chars:
        raise SolutionError("solution_too_long")
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):  # ValueError: null bytes in source
        raise SolutionError("code_syntax_error") from None
    return code


def as_markdown(code: str) -> str:
    """How a solution is shown as the assistant's message in the exported chat."""
    return f"```python\n{code}\n```"
