"""Re-check an exported dataset against benchmark sets after the fact.

Benchmarks appear after a dataset is made (a new LiveCodeBench release, a private test
set), so the loop's decontamination cannot have known them. This reads a JSONL dataset
(ours, or any with an ``instruction`` field or chat ``messages``), checks each record's
instruction with the same :class:`ContaminationChecker` the loop uses, and writes beside
it a clean copy (the kept lines, byte for byte) and a JSON report naming, per dropped
record, the benchmark problem it matched and why. Both files appear whole or not at all,
so a bad line or a crash midway leaves nothing half-written.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genetic_instruct.config import DecontaminationConfig
from genetic_instruct.dedup.decontamination import Contamination, ContaminationChecker
from genetic_instruct.dedup.from_config import build_contamination_checker
from genetic_instruct.files.atomic import atomic_file
from genetic_instruct.files.jsonl import JsonlFormatError, read_jsonl
from genetic_instruct.files.ownership import JSON_OWNER, is_ours, refuse_foreign

_BATCH = 10_000  # records per check: bounded memory for an 800k-record export
Entry = tuple[int, str, str, Any]  # line number, line as read, instruction, record id


class DatasetFormatError(JsonlFormatError):
    """A dataset record without an instruction to check; the message names file:line."""


@dataclass(frozen=True)
class RecheckResult:
    checked: int
    dropped: int
    clean_path: Path
    report_path: Path
    benchmark_texts: int  # the problems checked against


def output_paths(dataset: str | Path) -> tuple[Path, Path]:
    """Where the clean copy and the report go: ``x.jsonl[.gz]`` -> ``x.clean.jsonl`` and
    ``x.contamination.json``, beside it."""
    path = Path(dataset)
    stem = path.name.removesuffix(".gz").removesuffix(".jsonl")
    return path.with_name(f"{stem}.clean.jsonl"), path.with_name(f"{stem}.contamination.json")


def recheck_against(
    dataset: str | Path, sets: DecontaminationConfig, run_seed: int
) -> RecheckResult | None:
    """`recheck_dataset` against the benchmark sets configured (the checker the run's own
    decontamination builds from them); None when they name none to check against."""
    checker = build_contamination_checker(sets, run_seed)
    if checker is None:
        return None
    return recheck_dataset(dataset, checker, dataclasses.asdict(sets))


def recheck_dataset(
    dataset: str | Path, checker: ContaminationChecker, checked_against: dict[str, Any]
) -> RecheckResult:
    """Check every record of ``dataset``; write the clean copy and the report (which
    records ``checked_against``, the settings that make "clean" mean something)."""
    clean_path, report_path = output_paths(dataset)
    refuse_foreign([(report_path, "export.path")])
    if not (report_path.is_file() and is_ours(report_path)):  # it vouches for its clean copy
        refuse_foreign([(clean_path, "export.path")])
    dropped: list[dict[str, Any]] = []
    checked = 0
    with atomic_file(clean_path) as clean:
        for batch in _batches(str(dataset)):
            checked += len(batch)
            matches = checker.matches([text for _, _, text, _ in batch])
            for (line_number, line, _, record_id), match in zip(batch, matches):
                if match is None:
                    clean.write(line.rstrip("\r\n").encode("utf-8") + b"\n")
                else:
                    dropped.append({"line": line_number, "id": record_id, **_without_none(match)})
        report = {
            **JSON_OWNER,
            "dataset": str(dataset),
            "clean": str(clean_path),
            "checked": checked,
            "kept": checked - len(dropped),
            "dropped": len(dropped),
            "by_method": dict(Counter(d["method"] for d in dropped)),
            "checked_against": checked_against,
            "records": dropped,
        }
        with atomic_file(report_path) as out:
            out.write(json.dumps(report, indent=2, ensure_ascii=False).encode("utf-8") + b"\n")
    return RecheckResult(checked, len(dropped), clean_path, report_path, len(checker))


def _without_none(match: Contamination) -> dict[str, Any]:
    return {k: v for k, v in dataclasses.asdict(match).items() if v is not None}


def _batches(path: str) -> Iterator[list[Entry]]:
    batch: list[Entry] = []
    for line_number, line, record in read_jsonl(path, DatasetFormatError):
        batch.append((line_number, line, _instruction(path, line_number, record), record.get("id")))
        if len(batch) == _BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _instruction(path: str, line_number: int, record: dict[str, Any]) -> str:
    """What the loop checks: the instruction, or in a chat-only file the first user turn."""
    if isinstance(record.get("instruction"), str):
        return record["instruction"]
    messages = record.get("messages")
    if isinstance(messages, list):
        for message in messages:
            if isinstance(message, dict) and message.get("role") == "user":
                if isinstance(message.get("content"), str):
                    return message["content"]
                break
    raise DatasetFormatError(
        f"{path}:{line_number}: no 'instruction' string and no user message in 'messages'"
    )
