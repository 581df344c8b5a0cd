"""Seed records in the shapes users already have, read into the project's own fields.

- native: {"instruction", "solution", "tests"?, "id"?, "topic"?, "difficulty"?}
- messages: {"messages": [{"role": "user", ...}, {"role": "assistant", ...}]}, a system
  turn first allowed (the format most chat datasets use)
- prompt_response: {"prompt", "response"}

The optional fields of the native format go beside the others in every format. An answer
(the assistant turn, the response) is usually Markdown: its Python block is the solution,
chosen as the Coder's answer is (answers/python_code.py). `auto` reads a file in the format of its
first record. A field that is not known but close to one (`solutoin`) is a typo, not data.
"""

from __future__ import annotations

import difflib
from typing import Any

from genetic_instruct.answers.python_code import choose_solution, python_blocks
from genetic_instruct.errors import SeedFileError
from genetic_instruct.rejection import Rejection

OPTIONAL = ("tests", "id", "topic", "difficulty", "language")
_REQUIRED = {
    "native": ("instruction", "solution"),
    "messages": ("messages",),
    "prompt_response": ("prompt", "response"),
}
_KNOWN = [*(key for keys in _REQUIRED.values() for key in keys), *OPTIONAL]


def detect(record: dict[str, Any]) -> str:
    """The format a record is in, by the fields that only that format has."""
    if "messages" in record:
        return "messages"
    if "prompt" in record or "response" in record:
        return "prompt_response"
    return "native"


def to_native(where: str, record: dict[str, Any], fmt: str) -> dict[str, Any]:
    """The record's instruction, solution (code) and optional fields; SeedFileError naming
    `where` (file:line) and the field on anything missing or misspelt."""
    _refuse_misspelt(where, record)
    if fmt == "messages":
        instruction, answer = _chat_turns(where, _field(where, record, "messages", fmt))
        answer_field = "the assistant message"
    elif fmt == "prompt_response":
        instruction = _text(where, record, "prompt", fmt)
        answer, answer_field = _text(where, record, "response", fmt), "field 'response'"
    else:
        return {
            **record,
            "instruction": _text(where, record, "instruction", fmt),
            "solution": _text(where, record, "solution", fmt),
        }
    return {
        **record,
        "instruction": instruction,
        "solution": _code(where, answer, answer_field, instruction),
    }


def _field(where: str, record: dict[str, Any], key: str, fmt: str) -> Any:
    if key not in record:
        raise SeedFileError(
            f"{where}: field {key!r} is missing (read as seeds_format={fmt}: "
            f"{'/'.join(_REQUIRED[fmt])}; see seeds_format for the others)"
        )
    return record[key]


def _refuse_misspelt(where: str, record: dict[str, Any]) -> None:
    for key in record:
        if key in _KNOWN:
            continue
        close = difflib.get_close_matches(key, _KNOWN, n=1, cutoff=0.75)
        if close:
            raise SeedFileError(f"{where}: unknown field {key!r} (did you mean {close[0]!r}?)")


def _text(where: str, record: dict[str, Any], key: str, fmt: str) -> str:
    value = _field(where, record, key, fmt)
    if not isinstance(value, str) or not value.strip():
        raise SeedFileError(f"{where}: field {key!r} must be a non-empty string")
    return value


def _chat_turns(where: str, messages: Any) -> tuple[str, str]:
    """The user turn and the assistant turn of a one-task chat (a system turn may lead)."""
    turns = messages if isinstance(messages, list) else None
    if turns and isinstance(turns[0], dict) and turns[0].get("role") == "system":
        turns = turns[1:]
    roles = [t.get("role") if isinstance(t, dict) else None for t in turns or []]
    if roles != ["user", "assistant"]:
        raise SeedFileError(
            f"{where}: field 'messages' must be one user message then one assistant message "
            f"(a system message may lead); found roles {roles}"
        )
    assert turns is not None
    contents = [t.get("content") for t in turns]
    for role, content in zip(roles, contents):
        if not isinstance(content, str) or not content.strip():
            raise SeedFileError(
                f"{where}: the {role} message's 'content' must be a non-empty string"
            )
    return contents[0], contents[1]


def _code(where: str, answer: str, field: str, instruction: str) -> str:
    """The solution in an answer: its Python block (the one defining what the task names)."""
    try:
        return choose_solution(python_blocks(answer), instruction)  # none that parses: raises
    except Rejection:
        raise SeedFileError(
            f"{where}: no Python code in {field} (a ```python block, or the answer as plain Python)"
        ) from None
