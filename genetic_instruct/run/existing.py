"""Commands on a run that exists: its state is opened, never created, and only read, so
they work on read-only media too, writing their outputs elsewhere (export.path,
report_dir). The one that may write the state is `export` to the run's own dataset, which
the run keeps up to date: it takes the run's lock for that.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from genetic_instruct.config import Config, ExportFormat
from genetic_instruct.errors import ConfigError
from genetic_instruct.export.card import check_export_target, write_dataset_card
from genetic_instruct.export.dataset import copy_export, export_parquet, is_run_dataset, sync_export
from genetic_instruct.export.selection import Selection, export_selection, parse_where
from genetic_instruct.report import current_report, saved_config
from genetic_instruct.run import lock
from genetic_instruct.state.database import require_state
from genetic_instruct.state.meta import RUN_ID
from genetic_instruct.state.store import RunStore


def open_existing(cfg: Config, read_only: bool = True) -> RunStore:
    """The run's state, never created here; read-only unless the caller keeps it current."""
    require_state(cfg.run_dir)
    return RunStore(cfg.run_dir, read_only=read_only)


def export_run(cfg: Config) -> tuple[int, Path, Selection | None]:
    """The `export` command's job: the dataset at export.path and its card; returns the
    record count, the card's path and, with export.where, what the selection kept.

    The run's own dataset is kept by its writer, so exporting there takes the run's lock;
    an export to any other path (also from a run on read-only media) only reads the run.
    """
    conditions = parse_where(cfg.export.where)
    selection = None
    with open_existing(cfg, read_only=not os.access(cfg.run_dir, os.W_OK)) as store:
        # the card's place too, before the dataset is written
        check_export_target(cfg.run_dir, store.meta.get(RUN_ID), cfg.export)
        saved = saved_config(cfg.run_dir) or cfg
        # what the run stored is the run's to say (export.reasoning); where it goes, ours
        export = dataclasses.replace(cfg.export, reasoning=saved.export.reasoning)
        run_cfg = dataclasses.replace(saved, export=export)
        if conditions:
            if is_run_dataset(store, cfg.export.path):
                raise ConfigError(
                    f"config key export.where: a selection is a file of its own; set "
                    f"export.path (the run's dataset {cfg.export.path} keeps every row)"
                )
            selection = export_selection(store, cfg.export, conditions)
            count = selection.kept
        elif cfg.export.format == ExportFormat.parquet:  # on demand: every shard written
            count = export_parquet(store, cfg.export, whole=True)
        elif is_run_dataset(store, cfg.export.path):
            with lock.exclusive(cfg.run_dir):
                count = sync_export(store, cfg.export.path, cfg.export.include_seeds)
        else:
            count = copy_export(store, cfg.export.path, cfg.export.include_seeds)
        card = write_dataset_card(
            cfg.export.path,
            run_cfg,
            store,
            count,
            report=current_report(store),
            selection=None if selection is None else selection.line(),
        )
    return count, card, selection
