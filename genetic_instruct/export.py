"""The dataset users train on: JSONL, one chat sample per line, with its lineage.

Written to a temporary file beside the target and renamed into place, so a reader (or a
crash) never sees half a dataset.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from genetic_instruct.records import Individual
from genetic_instruct.solutions import as_markdown


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


def export_jsonl(population: Iterable[Individual], path: str | Path, include_seeds: bool) -> int:
    """Write the dataset atomically; return the number of records written."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}-", dir=target.parent)
    count = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            for ind in population:
                if ind.origin == "seed" and not include_seeds:
                    continue
                out.write(json.dumps(sample(ind), ensure_ascii=False) + "\n")
                count += 1
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a dataset is meant to be shared
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count
