"""Never overwrite a file the tool did not write.

Datasets, cards and reports go where users point them (`export.path`, `report_dir`), often
beside files of their own: a hand-written README.md, a dataset from elsewhere. Before such a
file is replaced, it must be recognisably ours: a marker line in Markdown and HTML, a
`written_by` key opening JSON or in a Parquet schema's metadata, our record shape on the
first line of a JSONL dataset (or an empty file: nothing to lose). Otherwise the command
stops with one line naming the file and the setting that sends the output elsewhere,
before it writes anything. A symbolic link there is refused the same way: replacing it
would surprise whoever made it, and writing through it could reach any file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from genetic_instruct.errors import InputError
from genetic_instruct.files.plain import refuse_links

TOOL = "genetic-instruct"
TEXT_MARKER = f"<!-- written by {TOOL}: rewritten by each export or report -->"
JSON_OWNER: dict[str, str] = {"written_by": TOOL}  # the first key of a JSON file of ours
PARQUET_OWNER: dict[bytes, bytes] = {b"written_by": TOOL.encode()}  # a Parquet schema's
# What files of ours written before the marker existed carry instead, so that a run made
# by an earlier version still exports and reports in place.
_LEGACY_TEXT = (
    "\n# Genetic-Instruct coding instructions\n",
    "<title>genetic-instruct run report</title>",
    "<title>genetic-instruct sweep comparison</title>",
)
_LEGACY_JSON_KEYS = (
    frozenset({"schema", "run", "settings"}),
    frozenset({"schema", "runs"}),
    frozenset({"dataset", "clean", "checked", "records"}),
)
# Keys every exported sample has and a dataset from elsewhere is unlikely to have together.
_SAMPLE_KEYS = frozenset({"id", "messages", "instruction", "output", "origin", "prompt_hashes"})
_HEAD = 64 * 1024  # bytes read to find a marker; it sits near the top of our files
_MAX_JSON = 64 * 1024 * 1024  # our JSON reports are far smaller; a larger file is not one


class ForeignFile(InputError):
    """An output path holds a file this tool did not write."""


def is_ours(path: Path) -> bool:
    """Whether `path` (an existing file) carries one of this tool's marks; by content, not by
    name, since a dataset may be called anything (`export.path=train.json`)."""
    with open(path, "rb") as file:
        head = file.read(_HEAD)
        if not head.strip():
            return True
        if head.startswith(b"PAR1"):
            return _is_our_parquet(path)
        first_line = head.split(b"\n", 1)[0]
        if b"\n" not in head:  # a record longer than the head: read the rest of its line
            first_line += file.readline(_MAX_JSON)
    text = head.decode("utf-8", errors="replace")
    if any(marker in text for marker in (TEXT_MARKER, *_LEGACY_TEXT)):
        return True
    if _is_our_sample(first_line):
        return True
    return path.stat().st_size <= _MAX_JSON and _is_our_json(path.read_bytes())


def _is_our_parquet(path: Path) -> bool:
    try:
        import pyarrow.parquet as pq

        metadata = pq.read_schema(path).metadata or {}
    except (ImportError, OSError, ValueError):  # no pyarrow: not provably ours, left alone
        return False
    return all(metadata.get(k) == v for k, v in PARQUET_OWNER.items())


def _is_our_json(data: bytes) -> bool:
    try:
        doc = json.loads(data)
    except ValueError:
        return False
    return isinstance(doc, dict) and (
        doc.get("written_by") == TOOL or any(keys <= doc.keys() for keys in _LEGACY_JSON_KEYS)
    )


def _is_our_sample(line: bytes) -> bool:
    try:
        record = json.loads(line)
    except ValueError:
        return False
    return isinstance(record, dict) and _SAMPLE_KEYS <= record.keys()


def refuse_foreign(outputs: Iterable[tuple[Path, str]]) -> None:
    """Raise ForeignFile for the first (path, config key) whose path holds a file not ours;
    LinkedFile where it is a symbolic link (what it points at is never ours to replace)."""
    for path, key in outputs:
        refuse_links([path], f"the file at {key}")
        if path.is_file() and not is_ours(path):
            raise ForeignFile(
                f"{path}: a file genetic-instruct did not write is there and is left as it is; "
                f"move it, or write elsewhere with {key}=..."
            )
        if path.exists() and not path.is_file():
            raise ForeignFile(f"{path}: not a file (config key {key})")
