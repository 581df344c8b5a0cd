"""Rows a trainer selects on: `genetic-instruct export export.where.COLUMN=CONDITION ...`.

Each condition names a column of the exported rows and what it must hold:

    label columns   difficulty, origin, method       one value, or several: hard|medium
    number columns  pass_rate, fitness, mutation_score, attempts, passed_attempts, generation
                                                     a value, or a range LOW:HIGH with both
                                                     ends included and either left out
                                                     (0.5: at least, :0.5 at most)

A row is kept when it meets every condition; a row without the column (a seed has no pass
rate, a row made with one attempt no difficulty) meets none. The selection is a file of its
own beside its own card: the run's dataset keeps every row, and is never filtered in place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from genetic_instruct.config import ExportConfig, ExportFormat, WhereConfig
from genetic_instruct.errors import ConfigError
from genetic_instruct.export.dataset import sample_of_record
from genetic_instruct.export.identity import kept_in_export, refuse_other_runs
from genetic_instruct.export.parquet import write_parquet
from genetic_instruct.files.atomic import atomic_file
from genetic_instruct.files.ownership import refuse_foreign
from genetic_instruct.files.plain import refuse_links
from genetic_instruct.state.meta import WITHHELD_SEEDS
from genetic_instruct.state.store import RunStore

LABELS = ("difficulty", "origin", "method")
NUMBERS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "pass_rate": lambda r: r.get("pass_rate"),
    "fitness": lambda r: r.get("fitness"),
    "mutation_score": lambda r: (r.get("execution") or {}).get("mutation_score"),
    "attempts": lambda r: r.get("attempts"),
    "passed_attempts": lambda r: r.get("passed_attempts"),
    "generation": lambda r: r.get("generation"),
}


@dataclass(frozen=True)
class Condition:
    column: str
    text: str  # as written, for the counts printed
    labels: frozenset[str] = frozenset()
    low: float | None = None
    high: float | None = None

    def holds(self, record: Mapping[str, Any]) -> bool:
        if self.column in LABELS:
            return record.get(self.column) in self.labels
        value = NUMBERS[self.column](record)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return False
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)


def parse_where(where: WhereConfig | Mapping[str, Any]) -> list[Condition]:
    """The conditions set in export.where; ConfigError naming the key of the first bad one."""
    found = dataclasses.asdict(where) if isinstance(where, WhereConfig) else dict(where)
    return [_condition(column, str(text)) for column, text in found.items() if text is not None]


def _condition(column: str, text: str) -> Condition:
    key = f"config key export.where.{column}"
    if column in LABELS:
        labels = frozenset(part.strip() for part in text.split("|") if part.strip())
        if not labels:
            raise ConfigError(f"{key}: name a value, or several as a|b")
        return Condition(column, text, labels=labels)
    if column not in NUMBERS:
        known = ", ".join([*LABELS, *NUMBERS])
        raise ConfigError(f"{key}: no such column to select on; known: {known}")
    low, sep, high = text.partition(":")
    try:
        bounds = [float(part) if part.strip() else None for part in (low, high)]
    except ValueError:
        raise ConfigError(f"{key}: {text!r} is not a number or a range LOW:HIGH") from None
    if not sep:
        bounds[1] = bounds[0]
    if bounds == [None, None]:
        raise ConfigError(f"{key}: give a number or a range LOW:HIGH")
    return Condition(column, text, low=bounds[0], high=bounds[1])


@dataclass(frozen=True)
class Selection:
    rows: int  # the run's dataset rows considered
    kept: int
    per_condition: tuple[tuple[Condition, int], ...]  # each condition alone: rows it keeps

    def line(self) -> str:
        """The counts, for the terminal and the card."""
        alone = "; ".join(f"{c.column}={c.text}: {n:,}" for c, n in self.per_condition)
        return f"export.where kept {self.kept:,} of {self.rows:,} rows (each alone: {alone})"


def export_selection(
    store: RunStore, export: ExportConfig, conditions: list[Condition]
) -> Selection:
    """Write the rows meeting every condition to export.path (JSONL or Parquet), whole;
    return the counts."""
    target = Path(export.path)
    refuse_other_runs(store.path.parent, target, "export.path")
    refuse_links([target], "the file at export.path")
    withheld = frozenset(store.meta.get(WITHHELD_SEEDS) or ())
    counts = [0] * len(conditions)
    seen = [0]

    def rows() -> Iterator[dict[str, Any]]:
        """The rows kept; counted afresh by each pass (write_parquet makes two)."""
        seen[0], counts[:] = 0, [0] * len(conditions)
        for record in store.records():
            if not kept_in_export(record["origin"], record["id"], export.include_seeds, withheld):
                continue
            seen[0] += 1
            held = [condition.holds(record) for condition in conditions]
            for i, ok in enumerate(held):
                counts[i] += ok
            if all(held):
                yield sample_of_record(record)

    def every_row(_after: int) -> Iterator[tuple[int, dict[str, Any]]]:
        """Every kept row, each pass: a selection is written whole (no position needed)."""
        return ((0, sample) for sample in rows())

    if export.format == ExportFormat.parquet:
        kept, _ = write_parquet(every_row, export.path, export.rows_per_shard)
    else:
        refuse_foreign([(target, "export.path")])
        kept = 0
        with atomic_file(target) as out:
            for sample in rows():
                out.write(orjson.dumps(sample, option=orjson.OPT_APPEND_NEWLINE))
                kept += 1
    return Selection(seen[0], kept, tuple(zip(conditions, counts)))
