"""A new run where data already lies: refused, unless `fresh=true` moves the old files aside.

A state file that is missing or empty while the dataset it made is still there means the
state was lost (deleted, truncated by a bad copy), not that no run was made: starting over
would overwrite that dataset with a different one. So `run` refuses, naming both files;
`fresh=true` starts over deliberately, moving everything of the earlier run into a
`superseded-<time>` folder of the run directory. Nothing is deleted.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from genetic_instruct.config import Config
from genetic_instruct.errors import InputError
from genetic_instruct.state.database import STATE_FILE, has_state

ASIDE_PREFIX = "superseded-"


def refuse_orphaned_dataset(cfg: Config) -> None:
    """Raise InputError when a new run would overwrite a dataset whose state is gone."""
    dataset = Path(cfg.export.path)
    if dataset.exists() and not has_state(cfg.run_dir):
        raise InputError(
            f"{Path(cfg.run_dir) / STATE_FILE}: missing or empty, but {dataset} holds a "
            "dataset that a new run would overwrite. Restore the state file, or start over "
            "with fresh=true (moves the old files aside, deletes nothing)"
        )


def move_aside(cfg: Config) -> tuple[Path, int] | None:
    """Move the earlier run's files (all of run_dir but earlier asides, and the dataset
    wherever export.path puts it) into a new superseded-<time> folder of run_dir; return it
    and how many entries moved, or None when there was nothing."""
    run_dir = Path(cfg.run_dir)
    inside = (
        [p for p in run_dir.iterdir() if not p.name.startswith(ASIDE_PREFIX)]
        if run_dir.is_dir()
        else []
    )
    dataset = Path(cfg.export.path)
    outside = dataset.exists() and not dataset.resolve().is_relative_to(run_dir.resolve())
    if not inside and not outside:
        return None
    run_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = Path(tempfile.mkdtemp(prefix=f"{ASIDE_PREFIX}{stamp}-", dir=run_dir))
    for entry in inside:
        shutil.move(str(entry), str(aside / entry.name))
    if outside:
        (aside / "export").mkdir()
        shutil.move(str(dataset), str(aside / "export" / dataset.name))
    return aside, len(inside) + outside
