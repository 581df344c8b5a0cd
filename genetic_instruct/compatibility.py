"""May this config resume this run? Settings that shape the data must match the stored ones.

Changing how long to run, where to export, or how to reach a server is fine; changing
models, prompts, operators, filters or dedup would mix incompatible data in one population,
so it is refused with every differing key named, unless `force_resume=true`.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from typing import Any

from genetic_instruct.config import Config
from genetic_instruct.errors import ConfigError
from genetic_instruct.prompts import load_templates
from genetic_instruct.store import RunStore

_META_KEY = "config"
# Dotted keys (fnmatch patterns) that may change between a run and its resume.
FREE_KEYS = (
    "run_dir",
    "progress",
    "force_resume",
    "seeds",  # only read for generation 0
    "evolution.target_size",
    "evolution.max_generations",
    "export.*",
    "models.*.base_urls*",
    "models.*.api_key_env",
    "models.*.max_concurrency",
    "models.*.request_timeout_s",
    "models.*.max_retries",
    "models.*.kv_cache_gib",
    "models.*.tensor_parallel_size",
    "models.*.enforce_eager",
    "models.*.engine_args*",
    "executor.*",  # where colonies run, not what they make
)


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        items: dict[str, Any] = {}
        for key, inner in value.items():
            items.update(_flatten(inner, f"{prefix}{key}."))
        return items
    return {prefix.rstrip("."): value}


def fingerprint(cfg: Config) -> dict[str, Any]:
    """The settings that shape the data, as dotted keys, plus the prompt templates' hashes."""
    flat = _flatten(dataclasses.asdict(cfg))
    kept = {
        key: value
        for key, value in flat.items()
        if not any(fnmatch.fnmatchcase(key, pattern) for pattern in FREE_KEYS)
    }
    for name, template in load_templates().items():
        kept[f"prompts.{name}"] = template.hash
    return kept


def differences(stored: dict[str, Any], current: dict[str, Any]) -> list[str]:
    keys = sorted(set(stored) | set(current))
    return [
        f"{key} ({stored.get(key, '<unset>')!r} -> {current.get(key, '<unset>')!r})"
        for key in keys
        if stored.get(key, "<unset>") != current.get(key, "<unset>")
    ]


def check_resume(store: RunStore, cfg: Config) -> None:
    """Record the fingerprint on a new run; on a resume, refuse a data-changing config."""
    current = fingerprint(cfg)
    stored = store.get_meta(_META_KEY)
    if stored is None:
        store.set_meta(_META_KEY, current)
        return
    changed = differences(stored, current)
    if not changed:
        return
    if not cfg.force_resume:
        raise ConfigError(
            f"config key run_dir: {cfg.run_dir} was made with other settings: "
            f"{'; '.join(changed)}. Use a new run_dir, or force_resume=true to mix them"
        )
    forced = store.get_meta("forced_resumes") or []
    store.set_meta("forced_resumes", [*forced, changed])
    store.set_meta(_META_KEY, current)
