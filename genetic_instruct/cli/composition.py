"""Config composition problems as one line each, in the words of our config keys.

Hydra reports a bad override (wrong type, unknown key, missing group option) in several
lines with advice of its own; its advice for an unknown key (`+key=value`) would run with
the typo silently ignored, so keys the schema does not have are refused here too.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterator
from typing import Any

from hydra.errors import MissingConfigException, OverrideParseException
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import (
    ConfigAttributeError,
    ConfigKeyError,
    MissingMandatoryValue,
    OmegaConfBaseException,
)

from genetic_instruct.config import Config, register_configs
from genetic_instruct.config_checks import validate
from genetic_instruct.errors import ConfigError

register_configs()  # the schema conf/config.yaml is checked against (its base_config)


def one_line(error: Exception) -> str:
    """What went wrong while composing the config, on one line, naming the key."""
    cause = error.__cause__ if isinstance(error.__cause__, OmegaConfBaseException) else error
    if isinstance(cause, OmegaConfBaseException) and cause.full_key:
        if isinstance(cause, (ConfigKeyError, ConfigAttributeError)):
            return unknown_key_message(cause.full_key, _siblings(cause))
        return f"config key {cause.full_key}: {(cause.msg or type(cause).__name__).splitlines()[0]}"
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if isinstance(error, MissingConfigException) and error.options:
        first += f" (options: {', '.join(error.options)})"
    if isinstance(error, OverrideParseException):
        first = f"override {error.override!r}: {first}"
    return first


def unknown_key_message(full_key: str, known: list[str]) -> str:
    parent, _, name = full_key.rpartition(".")
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {parent + '.' if parent else ''}{close[0]}?" if close else ""
    return f"config key {full_key}: no such setting{hint}"


def _siblings(error: OmegaConfBaseException) -> list[str]:
    return _field_names(error.object_type) or []


def _field_names(kind: type[Any] | None) -> list[str] | None:
    """The settings of a schema (a dataclass); None for a free-form map."""
    if kind is None or not dataclasses.is_dataclass(kind):
        return None
    return [f.name for f in dataclasses.fields(kind)]


def reject_unknown_keys(cfg: DictConfig) -> None:
    """Raise ConfigError for a key added (`+key=...`) where the schema has no such setting;
    free-form maps (models, engine_args, weights, ...) take any key."""
    for full_key, known in _unknown_keys(cfg, ""):
        raise ConfigError(unknown_key_message(full_key, known))


def _unknown_keys(node: DictConfig | ListConfig, prefix: str) -> Iterator[tuple[str, list[str]]]:
    if isinstance(node, ListConfig):
        children = [(f"{prefix}{i}", node._get_node(i)) for i in range(len(node))]
    else:
        known = _field_names(OmegaConf.get_type(node))
        children = []
        for key in node.keys():
            if known is not None and key not in known:
                yield f"{prefix}{key!s}", known
            children.append((f"{prefix}{key!s}", node._get_node(key)))
    for full_key, child in children:
        if isinstance(child, (DictConfig, ListConfig)) and not (
            child._is_missing() or child._is_none()
        ):
            yield from _unknown_keys(child, f"{full_key}.")


def to_config(cfg: DictConfig) -> Config:
    """The typed config, validated; missing, unknown or invalid keys become a ConfigError."""
    reject_unknown_keys(cfg)
    try:
        config = OmegaConf.to_object(cfg)
    except MissingMandatoryValue as error:
        raise ConfigError(f"config key {error.full_key}: must be set") from None
    except OmegaConfBaseException as error:
        raise ConfigError(f"config key {error.full_key}: {error.msg}") from None
    assert isinstance(config, Config)
    validate(config)
    return config
