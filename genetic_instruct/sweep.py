"""Hydra sweeps: one resumable run directory per sweep point, and a comparison at the end.

`genetic-instruct -m evolution.mutation_rate=0.25,0.5 seed=1,2 run_dir=runs/sweep` runs each
point in `runs/sweep/<its overrides>` (named by the overrides, not by job number, so
re-running the same sweep finds and resumes each point's directory), then writes
`runs/sweep/comparison.html` across all points found there, and prints the command that
inspects each point: its directory's name holds "=" and ",", which Hydra reads as syntax
unless the value is quoted, so the command carries the quotes the shell must pass on.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from genetic_instruct.store import STATE_FILE


def point_run_dir(cfg: DictConfig) -> None:
    """In a multirun, make this job's run_dir its own sweep subdirectory (in place)."""
    if not HydraConfig.initialized():
        return
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode == RunMode.MULTIRUN:
        OmegaConf.update(cfg, "run_dir", hydra_cfg.runtime.output_dir)


class WriteComparison(Callback):
    """After a multirun, compare every run directory of the sweep."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from genetic_instruct.report import write_comparison

        sweep_dir = Path(config.hydra.sweep.dir)
        run_dirs = sorted(p.parent for p in sweep_dir.glob(f"*/{STATE_FILE}"))
        if run_dirs:
            write_comparison(run_dirs, sweep_dir)
            print(f"comparison of {len(run_dirs)} runs: {sweep_dir / 'comparison.html'}")
            for run_dir in run_dirs:
                print(f"  {inspect_command(run_dir)}")


def inspect_command(run_dir: Path) -> str:
    """`genetic-instruct inspect run_dir=...`, quoted for Hydra and then for the shell."""
    escaped = str(run_dir).replace("\\", "\\\\").replace('"', '\\"')
    return "genetic-instruct inspect " + shlex.quote(f'run_dir="{escaped}"')
