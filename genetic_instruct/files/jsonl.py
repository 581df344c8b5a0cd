"""Reading user-supplied JSONL(.gz) files, with one-line errors that name file:line.

Benchmark files, seed files and exported datasets all come from outside the run; a bad
line must stop us with its place in the file, never a traceback or a silently skipped
record. Valid JSON is not always text: an escape like `\\ud800` (half of a surrogate pair,
alone) decodes to a string that cannot be written back as UTF-8, and broke whatever met it
later (hashing, SQLite, the export). `parse_object` refuses such a line where it is read.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from typing import Any

from genetic_instruct.errors import InputError

_SURROGATE = re.compile(r"[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # only these make one, in decoded text


class JsonlFormatError(InputError, ValueError):
    """A JSONL file that cannot be used; the message is one line naming file[:line]."""


def parse_object(line: str) -> dict[str, Any]:
    """One line's JSON object; ValueError, with a one-line reason, for anything else (bad
    JSON, another type, nesting too deep, a lone surrogate in a string)."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as fault:
        raise ValueError(f"invalid JSON: {fault.msg}") from None
    except RecursionError:
        raise ValueError("invalid JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    if _SURROGATE_ESCAPE.search(line):
        found = _lone_surrogate(data)
        if found is not None:
            raise ValueError(f"a string holds a lone surrogate (\\u{ord(found):04x}): not text")
    return data


def _lone_surrogate(data: Any) -> str | None:
    """The first lone surrogate in any string (key or value) of a decoded JSON value."""
    pending = [data]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            found = _SURROGATE.search(value)
            if found:
                return found.group()
        elif isinstance(value, dict):
            pending += [*value.keys(), *value.values()]
        elif isinstance(value, list):
            pending += value
    return None


def read_jsonl(
    path: str, error: type[JsonlFormatError] = JsonlFormatError
) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """``(line number, line, object)`` per non-blank line (the line as read, with its
    newline, so a copy can be written byte for byte); ``error`` is raised on a fault."""
    try:
        with (
            gzip.open(path, "rt", encoding="utf-8", newline="")
            if path.endswith(".gz")
            else open(path, encoding="utf-8", newline="") as lines
        ):
            for line_number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    record = parse_object(line)
                except ValueError as fault:
                    raise error(f"{path}:{line_number}: {fault}") from None
                yield line_number, line, record
    except UnicodeDecodeError:
        raise error(_first_non_text(path)) from None
    except (OSError, EOFError) as fault:  # missing file, unreadable, broken gzip
        raise error(f"{path}: cannot read: {fault}") from None


def not_text(raw: bytes, fault: UnicodeDecodeError) -> str:
    """What is wrong with a line that is not UTF-8, in words."""
    return f"not UTF-8 text (byte {raw[fault.start]:#04x} at column {fault.start + 1})"


def _first_non_text(path: str) -> str:
    """`path:line: not UTF-8 text (...)` for the first such line (the text reader decodes
    ahead of the line it gives, so the file is read again, as bytes, to find it)."""
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as lines:
        for line_number, raw in enumerate(lines, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as fault:
                return f"{path}:{line_number}: {not_text(raw, fault)}"
    return f"{path}: not UTF-8 text"
