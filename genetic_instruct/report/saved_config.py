"""The config a run was started with, as Hydra saved it in the run directory.

`genetic-instruct report run_dir=X` should describe the run as it was made, not the defaults
of the command that asks: Hydra writes the composed config to `X/.hydra/config.yaml` when the
run starts. `run_dir` is set to where the run is found now, so a moved run (or a sweep whose
run_dir was an interpolation only Hydra can resolve) still reads its own files.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from genetic_instruct.config import Config
from genetic_instruct.errors import ConfigError

SAVED_CONFIG = Path(".hydra") / "config.yaml"


def saved_config(run_dir: str | Path) -> Config | None:
    """The run's own config, or None for a run started from Python (nothing saved)."""
    path = Path(run_dir) / SAVED_CONFIG
    if not path.is_file():
        return None
    try:
        merged = OmegaConf.merge(
            OmegaConf.structured(Config), OmegaConf.load(path), {"run_dir": str(run_dir)}
        )
        config = OmegaConf.to_object(merged)
    except OmegaConfBaseException as error:
        reason = str(error).splitlines()[0]
        raise ConfigError(f"{path}: not a config this version reads: {reason}") from None
    assert isinstance(config, Config)
    return config
