"""The config a run was started with, as Hydra saved it in the run directory.

`genetic-instruct report run_dir=X` should describe the run as it was made, not the defaults
of the command that asks: Hydra writes the composed config to `X/.hydra/config.yaml` when the
run starts. `run_dir` is set to where the run is found now, so a moved run (or a sweep whose
run_dir was an interpolation only Hydra can resolve) still reads its own files.

The CLI writes these files itself (`save_config`), and only once a run has accepted its
config: a resume that is refused must leave the run's record of its settings as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from genetic_instruct.config import Config
from genetic_instruct.errors import ConfigError
from genetic_instruct.files.atomic import atomic_file

SAVED_CONFIG = Path(".hydra") / "config.yaml"
SAVED_OVERRIDES = Path(".hydra") / "overrides.yaml"


def save_config(run_dir: str | Path, composed: DictConfig, overrides: Sequence[str]) -> None:
    """Record the config a run goes on with, as Hydra would: interpolations kept, and the
    command-line overrides (sweep comparisons label runs by them). Each file appears whole."""
    files = ((SAVED_CONFIG, composed), (SAVED_OVERRIDES, OmegaConf.create(list(overrides))))
    for name, node in files:
        with atomic_file(Path(run_dir) / name) as out:
            out.write(OmegaConf.to_yaml(node).encode("utf-8"))


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
