"""Extracting and checking the Coder's program."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genetic_instruct.solutions import SolutionError, check_solution, extract_code


def test_first_fenced_block_wins() -> None:
    text = "Here:\n```python\ndef f():\n    return 1\n```\nand\n```python\nx = 2\n```"
    assert extract_code(text) == "def f():\n    return 1"


def test_unterminated_fence_and_bare_code() -> None:
    assert extract_code("```py\nx = 1\n") == "x = 1"
    assert extract_code("def g(a):\n    return a") == "def g(a):\n    return a"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "no_code"),
        ("```python\n\n```", "no_code"),
        ("```python\ndef f(:\n```", "code_syntax_error"),
        ("This is prose, not code.", "code_syntax_error"),
        ("```python\nx = 1\n" + "y = 2\n" * 100 + "```", "solution_too_long"),
        ("x = '\x00'", "code_syntax_error"),
    ],
)
def test_rejections_name_their_reason(text: str, reason: str) -> None:
    with pytest.raises(SolutionError, match=reason):
        check_solution(text, max_chars=200)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_checker_raises_only_solution_errors(text: str) -> None:
    try:
        check_solution(text, max_chars=10_000)
    except SolutionError:
        pass
