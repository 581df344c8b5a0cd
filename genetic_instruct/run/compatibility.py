"""May this config resume this run? Settings that shape the data must match the stored ones.

Changing how long to run, where to export, or how to reach a server is fine; changing
models, prompts, operators, filters, dedup, the seed tasks (by content, not by path) or
engine arguments that change what a model answers would mix incompatible data in one
population, so it is refused with every differing key named, unless `force_resume=true`.
A run that holds no more than its seeds (say its engine failed to start) may change any
setting those seeds do not depend on: the corrected command just goes on.
"""

from __future__ import annotations

import functools
from typing import Any

from omegaconf import OmegaConf

from genetic_instruct.config import Config
from genetic_instruct.data_settings import SEEDS_KEY, differences, fingerprint, matches
from genetic_instruct.errors import ConfigError
from genetic_instruct.state.meta import FORCED_RESUMES, SETTINGS
from genetic_instruct.state.store import RunStore

# What generation 0 (the seeds and their dedup signatures, checked against the benchmark
# sets) depends on: a run holding only its seeds must still match these.
GENERATION_0_KEYS = ("seed", SEEDS_KEY, "dedup.*", "decontamination.*")


def check_resume(store: RunStore, cfg: Config, seeds_digest: str | None = None) -> None:
    """Record the fingerprint on a new run; on a resume, refuse a data-changing config.

    `seeds_digest` None (the seed file is gone) or a run recorded before digests were kept:
    the seed tasks are not compared, since the stored population already holds them.
    """
    current = fingerprint(cfg, seeds_digest)
    stored = store.meta.get(SETTINGS)
    if stored is None:
        store.meta.set(SETTINGS, current)
        return
    changed = [
        key for key in differences(stored, current) if not _new_at_default(key, stored, current)
    ]
    if seeds_digest is None or SEEDS_KEY not in stored:
        changed = [key for key in changed if key != SEEDS_KEY]
    if store.generation in (None, 0) and not store.journal_keys():
        changed = [key for key in changed if matches(key, GENERATION_0_KEYS)]
    recorded = {**current, **_kept_digest(stored, current)}
    if not changed:
        if recorded != stored:
            store.meta.set(SETTINGS, recorded)
        return
    described = [
        f"{key} ({stored.get(key, '<unset>')!r} -> {current.get(key, '<unset>')!r})"
        for key in changed
    ]
    if not cfg.force_resume:
        raise ConfigError(
            f"config key run_dir: {cfg.run_dir} was made with other settings: "
            f"{'; '.join(described)}. Use a new run_dir, or force_resume=true to mix them"
        )
    forced = store.meta.get(FORCED_RESUMES) or []
    store.meta.set(FORCED_RESUMES, [*forced, described])
    store.meta.set(SETTINGS, recorded)


def _new_at_default(key: str, stored: dict[str, Any], current: dict[str, Any]) -> bool:
    """A setting added after the run was made (its fingerprint lacks the key), set to its
    default: the run was made the way that default behaves, so it is no change."""
    defaults = _defaults()
    return key not in stored and key in defaults and current.get(key) == defaults[key]


@functools.cache
def _defaults() -> dict[str, Any]:
    """The structured config's own defaults, keyed as fingerprints are (interpolations
    such as the solver's `${roles.coder.model}` resolved, as in a composed config)."""
    defaults = OmegaConf.to_object(OmegaConf.structured(Config))
    assert isinstance(defaults, Config)
    return fingerprint(defaults)


def _kept_digest(stored: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """The stored seed digest survives a resume that could not read the seed file."""
    if SEEDS_KEY in stored and SEEDS_KEY not in current:
        return {SEEDS_KEY: stored[SEEDS_KEY]}
    return {}
