"""May this config resume this run? Settings that shape the data must match the stored ones.

Changing how long to run, where to export, or how to reach a server is fine; changing
models, prompts, operators, filters, dedup, the seed tasks (by content, not by path) or
engine arguments that change what a model answers would mix incompatible data in one
population, so it is refused with every differing key named, unless `force_resume=true`.
A run that holds no more than its seeds (say its engine failed to start) may change any
setting those seeds do not depend on: the corrected command just goes on.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
from typing import Any

from genetic_instruct.config import Config
from genetic_instruct.errors import ConfigError
from genetic_instruct.prompts import load_templates
from genetic_instruct.state.store import RunStore

_META_KEY = "config"
SEEDS_KEY = "seeds.sha256"  # the seed tasks' content; the path (`seeds`) may change
# Dotted keys (fnmatch patterns) that may change between a run and its resume.
FREE_KEYS = (
    "run_dir",
    "progress",
    "verbose",
    "force_resume",
    "fresh",
    "report_dir",
    "seeds",
    "seeds_format",  # how the file is read; the seeds' content is compared (SEEDS_KEY)
    "allow_failing_seeds",  # checked on a new run only
    "evolution.target_size",
    "evolution.max_generations",
    "evolution.stall_generations",
    "evolution.max_in_flight",  # how many steps overlap, not what they make
    "export.*",
    "models.*.base_urls*",
    "models.*.api_key_env",
    "models.*.max_concurrency",
    "models.*.request_timeout_s",
    "models.*.max_retries",
    "models.*.outage_deadline_s",
    "models.*.kv_cache_gib",
    "models.*.tensor_parallel_size",
    "models.*.enforce_eager",
    # engine_args pass through to the engine; only these are known to leave answers as they
    # are (memory, batching, logging). Any other (quantization, seed, ...) shapes the data.
    *(
        f"models.*.engine_args.{name}"
        for name in (
            "gpu_memory_utilization",
            "max_num_seqs",
            "max_num_batched_tokens",
            "swap_space",
            "enable_prefix_caching",
            "disable_log_stats",
            "block_size",
            "latency_s",
            "request_log",  # the scripted engine's test hooks
            "lost_after",
        )
    ),
    "executor.*",  # where colonies run, not what they make
    "calibration.at_start",  # measures the judge; gates only with fitness.threshold=auto
)
# What generation 0 (the seeds and their dedup signatures, checked against the benchmark
# sets) depends on: a run holding only its seeds must still match these.
GENERATION_0_KEYS = ("seed", SEEDS_KEY, "dedup.*", "decontamination.*")


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        items: dict[str, Any] = {}
        for key, inner in value.items():
            items.update(_flatten(inner, f"{prefix}{key}."))
        return items
    return {prefix.rstrip("."): value}


def _matches(key: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(key, pattern) for pattern in patterns)


def fingerprint(cfg: Config, seeds_digest: str | None = None) -> dict[str, Any]:
    """The settings that shape the data, as dotted keys, plus the prompt templates' hashes
    and the seed tasks' digest (when known)."""
    flat = _flatten(dataclasses.asdict(cfg))
    kept = {key: value for key, value in flat.items() if not _matches(key, FREE_KEYS)}
    for name, template in load_templates().items():
        kept[f"prompts.{name}"] = template.hash
    if seeds_digest is not None:
        kept[SEEDS_KEY] = seeds_digest
    return kept


def differences(stored: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """The keys whose values differ (a key only one side has counts as changed)."""
    return sorted(
        key
        for key in set(stored) | set(current)
        if stored.get(key, "<unset>") != current.get(key, "<unset>")
    )


def check_resume(store: RunStore, cfg: Config, seeds_digest: str | None = None) -> None:
    """Record the fingerprint on a new run; on a resume, refuse a data-changing config.

    `seeds_digest` None (the seed file is gone) or a run recorded before digests were kept:
    the seed tasks are not compared, since the stored population already holds them.
    """
    current = fingerprint(cfg, seeds_digest)
    stored = store.get_meta(_META_KEY)
    if stored is None:
        store.set_meta(_META_KEY, current)
        return
    changed = [
        key for key in differences(stored, current) if not _new_at_default(key, stored, current)
    ]
    if seeds_digest is None or SEEDS_KEY not in stored:
        changed = [key for key in changed if key != SEEDS_KEY]
    if store.generation in (None, 0) and not store.journal_keys():
        changed = [key for key in changed if _matches(key, GENERATION_0_KEYS)]
    recorded = {**current, **_kept_digest(stored, current)}
    if not changed:
        if recorded != stored:
            store.set_meta(_META_KEY, recorded)
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
    forced = store.get_meta("forced_resumes") or []
    store.set_meta("forced_resumes", [*forced, described])
    store.set_meta(_META_KEY, recorded)


def _new_at_default(key: str, stored: dict[str, Any], current: dict[str, Any]) -> bool:
    """A setting added after the run was made (its fingerprint lacks the key), set to its
    default: the run was made the way that default behaves, so it is no change."""
    defaults = _defaults()
    return key not in stored and key in defaults and current.get(key) == defaults[key]


@functools.cache
def _defaults() -> dict[str, Any]:
    """The structured config's own defaults, keyed as fingerprints are."""
    return fingerprint(Config())


def _kept_digest(stored: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """The stored seed digest survives a resume that could not read the seed file."""
    if SEEDS_KEY in stored and SEEDS_KEY not in current:
        return {SEEDS_KEY: stored[SEEDS_KEY]}
    return {}
