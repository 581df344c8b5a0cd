"""Reading user-supplied JSONL(.gz) files, with one-line errors that name file:line.

Benchmark files and exported datasets both come from outside the run; a bad line must stop
us with its place in the file, never a traceback or a silently skipped record.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from typing import Any

from genetic_instruct.errors import InputError


class JsonlFormatError(InputError, ValueError):
    """A JSONL file that cannot be used; the message is one line naming file[:line]."""


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
                    record = json.loads(line)
                except json.JSONDecodeError as fault:
                    raise error(f"{path}:{line_number}: invalid JSON: {fault.msg}") from None
                if not isinstance(record, dict):
                    raise error(
                        f"{path}:{line_number}: expected a JSON object, got {type(record).__name__}"
                    )
                yield line_number, line, record
    except UnicodeDecodeError:
        raise error(f"{path}: not UTF-8 text") from None
    except (OSError, EOFError) as fault:  # missing file, unreadable, broken gzip
        raise error(f"{path}: cannot read: {fault}") from None
