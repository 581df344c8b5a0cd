"""The dataset users train on: JSONL, one chat sample per line, with its lineage.

The dataset grows with the run: after each generation only the new records are appended.
Exactly-once across crashes comes from the store: it records how many bytes of the file
are confirmed and up to which population position, so a resume first cuts off whatever a
crash left half-written and then appends from there. A change of export settings (path,
seeds in or out) rewrites the whole file atomically (temporary file, fsync, rename).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from genetic_instruct import faults
from genetic_instruct.records import Individual
from genetic_instruct.solutions import as_markdown
from genetic_instruct.store import RunStore

_META_KEY = "export"


def sample(ind: Individual) -> dict[str, Any]:
    """One training sample: chat `messages`, the flat instruction/output pair, the lineage."""
    output = as_markdown(ind.solution)
    record = {
        "id": ind.id,
        "messages": [
            {"role": "user", "content": ind.instruction},
            {"role": "assistant", "content": output},
        ],
        "instruction": ind.instruction,
        "output": output,
    }
    lineage = ind.to_dict()
    for key in ("id", "instruction", "solution"):
        lineage.pop(key)
    record.update(lineage)
    return record


def _write(out: IO[bytes], population: Iterable[Individual], include_seeds: bool) -> int:
    count = 0
    for ind in population:
        if ind.origin == "seed" and not include_seeds:
            continue
        out.write((json.dumps(sample(ind), ensure_ascii=False) + "\n").encode("utf-8"))
        count += 1
    out.flush()
    os.fsync(out.fileno())
    return count


def export_jsonl(population: Iterable[Individual], path: str | Path, include_seeds: bool) -> int:
    """Write the dataset atomically; return the number of records written."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            count = _write(out, population, include_seeds)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a dataset is meant to be shared
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count


def sync_export(store: RunStore, path: str | Path, include_seeds: bool) -> int:
    """Bring the dataset file up to date with the store; return its record count."""
    target = Path(path)
    state = store.get_meta(_META_KEY)
    last_seq = store.population_size()
    reusable = (
        state is not None
        and state["path"] == str(target.resolve())
        and state["include_seeds"] == include_seeds
        and target.is_file()
        and target.stat().st_size >= state["bytes"]
    )
    if not reusable:
        count = export_jsonl(store.individuals(), target, include_seeds)
        size = target.stat().st_size
    else:
        with open(target, "r+b") as out:
            out.truncate(state["bytes"])  # drop what a crash left after the last confirmation
            out.seek(state["bytes"])
            count = state["count"] + _write(
                out, store.individuals(after_seq=state["seq"]), include_seeds
            )
            size = out.tell()
    faults.point("export")
    store.set_meta(
        _META_KEY,
        {
            "path": str(target.resolve()),
            "include_seeds": include_seeds,
            "bytes": size,
            "seq": last_seq,
            "count": count,
        },
    )
    return count
