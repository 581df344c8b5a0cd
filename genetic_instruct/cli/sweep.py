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
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from genetic_instruct.errors import ConfigError

_EXCLUDE_KEYS = "hydra.job.config.override_dirname.exclude_keys"


def point_run_dir(cfg: DictConfig) -> None:
    """In a multirun, make this job's run_dir its own sweep subdirectory (in place)."""
    if not HydraConfig.initialized():
        return
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode == RunMode.MULTIRUN:
        OmegaConf.update(cfg, "run_dir", hydra_cfg.runtime.output_dir)


def swept_keys(overrides: list[str]) -> list[str]:
    """The keys a sweep varies (`key=a,b`, `key=range(...)`, ...), as written."""
    parsed = OverridesParser.create().parse_overrides(overrides)
    return [o.get_key_element() for o in parsed if o.is_sweep_override()]


def refuse_unnamed_sweeps(args: list[str]) -> None:
    """Refuse a sweep over run_dir: its points live under run_dir, so it cannot name them."""
    if not {"-m", "--multirun"} & set(args):
        return
    overrides = [a for a in args if "=" in a and not a.startswith("-")]
    try:
        swept = swept_keys(overrides)
    except Exception:  # a malformed override: Hydra reports it with its grammar
        return
    if "run_dir" in swept:
        raise ConfigError(
            "config key run_dir: cannot be swept; each sweep point gets its "
            "own directory under run_dir"
        )


def name_swept_keys(config: DictConfig) -> None:
    """Make every swept key part of its points' directory names (in place).

    Keys a resume may change are left out of the names (conf/config.yaml), so re-running a
    sweep with a later target finds its directories; but a key the sweep itself varies must
    tell its points apart, or they would share one directory and resume each other.
    """
    swept = swept_keys(list(config.hydra.overrides.task))
    excluded = list(OmegaConf.select(config, _EXCLUDE_KEYS))
    named = [key for key in excluded if key not in swept]
    if named != excluded:
        with read_write(config), open_dict(config):  # the launcher builds each point from these
            config.hydra.overrides.hydra.append(f"{_EXCLUDE_KEYS}=[{','.join(named)}]")


class WriteComparison(Callback):
    """Before a multirun, name its points apart; after it, compare every run directory."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        name_swept_keys(config)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from genetic_instruct.report.comparison import sweep_runs, write_comparison

        sweep_dir = Path(config.hydra.sweep.dir)
        run_dirs = sweep_runs(sweep_dir)
        if run_dirs:
            write_comparison(run_dirs, sweep_dir)
            print(f"comparison of {len(run_dirs)} runs: {sweep_dir / 'comparison.html'}")
            for run_dir in run_dirs:
                print(f"  {inspect_command(run_dir)}")


def inspect_command(run_dir: Path) -> str:
    """`genetic-instruct inspect run_dir=...`, quoted for Hydra and then for the shell."""
    escaped = str(run_dir).replace("\\", "\\\\").replace('"', '\\"')
    return "genetic-instruct inspect " + shlex.quote(f'run_dir="{escaped}"')
