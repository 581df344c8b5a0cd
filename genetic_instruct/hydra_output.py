"""The run directory's `.hydra/` (config, hydra, overrides), written under the run's lock.

Hydra writes these files before it calls the task, so before the task can take the run's
lock: a second writer, refused by the lock, would already have replaced the first one's
record of its config. conf/config.yaml turns Hydra's own writing off
(`hydra.output_subdir: null`) and `run` writes the same three files once it holds the
lock. report/saved_config.py reads config.yaml back; comparison pages read overrides.yaml.
"""

from __future__ import annotations

from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from genetic_instruct.config import Config

SUBDIR = ".hydra"


def save(cfg: Config) -> None:
    """Write .hydra/ into cfg.run_dir, as Hydra would have; nothing outside a Hydra app."""
    if not HydraConfig.initialized():
        return
    hydra_cfg = HydraConfig.instance().cfg
    out = Path(cfg.run_dir) / SUBDIR
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "config.yaml": OmegaConf.structured(cfg),
        "hydra.yaml": hydra_cfg,
        "overrides.yaml": hydra_cfg.hydra.overrides.task,
    }
    for name, node in files.items():
        (out / name).write_text(OmegaConf.to_yaml(node), encoding="utf-8")
