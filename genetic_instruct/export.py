"""The dataset users train on: JSONL, one chat sample per line, with its lineage.

The dataset grows with the run: after each generation only the new records are appended.
Exactly-once across crashes comes from the store: it records how many bytes of the file
are confirmed and up to which population position, so a resume first cuts off whatever a
crash left half-written and then appends from there. A change of export settings (path,
seeds in or out) rewrites the whole file atomically (temporary file, fsync, rename).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import orjson

from genetic_instruct import faults
from genetic_instruct.records import Individual
from genetic_instruct.solutions import as_markdown
from genetic_instruct.store import RunStore

_META_KEY = "export"


def sample(ind: Individual) -> dict[str, Any]:
    """One training sample: chat `messages`, the flat instruction/output pair, the lineage."""
    return sample_of_record(ind.to_dict())


def sample_of_record(record: dict[str, Any]) -> dict[str, Any]:
    """`sample` from a stored record (Individual.to_dict()), without building an Individual.

    The export streams stored records straight through this; at 800k records the dataclass
    round trip would cost more than reading and writing the file.
    """
    lineage = dict(record)
    ident = lineage.pop("id")
    instruction = lineage.pop("instruction")
    output = as_markdown(lineage.pop("solution"))
    return {
        "id": ident,
        "messages": [
            {"role": "user", "content": instruction},
            {"role": "assistant", "content": output},
        ],
        "instruction": instruction,
        "output": output,
        **lineage,
    }


def _write(out: IO[bytes], records: Iterable[dict[str, Any]], include_seeds: bool) -> int:
    count = 0
    for record in records:
        if record["origin"] == "seed" and not include_seeds:
            continue
        out.write(orjson.dumps(sample_of_record(record), option=orjson.OPT_APPEND_NEWLINE))
        count += 1
    out.flush()
    os.fsync(out.fileno())
    return count


def export_jsonl(population: Iterable[Individual], path: str | Path, include_seeds: bool) -> int:
    """Write the dataset atomically; return the number of records written."""
    return _write_atomically((ind.to_dict() for ind in population), Path(path), include_seeds)


def _write_atomically(records: Iterable[dict[str, Any]], target: Path, include_seeds: bool) -> int:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            count = _write(out, records, include_seeds)
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
        count = _write_atomically(store.records(), target, include_seeds)
        size = target.stat().st_size
    else:
        with open(target, "r+b") as out:
            out.truncate(state["bytes"])  # drop what a crash left after the last confirmation
            out.seek(state["bytes"])
            count = state["count"] + _write(
                out, store.records(after_seq=state["seq"]), include_seeds
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
