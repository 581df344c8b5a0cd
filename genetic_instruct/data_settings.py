"""The settings that shape the data: what a resume must match and a calibration depends on.

A run's fingerprint is its config as dotted keys, without the keys that only say how long
to run, where to write or how to reach an engine (FREE_KEYS), plus the hash of each prompt
template as the run's languages fill it (what the models see, not how the file spells
it) and the digest of the seed tasks' content. Two configs with equal fingerprints make
the same data from the same seed. A new setting belongs in FREE_KEYS unless changing it
changes what the run makes.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from typing import Any

from genetic_instruct.config import Config, run_languages
from genetic_instruct.individual import text_hash
from genetic_instruct.languages import Language
from genetic_instruct.prompts import load_templates
from genetic_instruct.prompts.languages import as_seen

SEEDS_KEY = "seeds.sha256"  # the seed tasks' content; the path (`seeds`) may change
PROMPTS = "prompts."  # prompts.<template name>: its hash as the run's languages fill it
# Dotted keys (fnmatch patterns) that may change between a run and its resume.
FREE_KEYS = (
    "run_dir",
    "progress",
    "verbose",
    "force_resume",
    "fresh",
    "report_dir",
    "rejected_samples",  # what the state keeps to be looked at, not what the run makes
    "seeds",
    "seeds_format",  # how the file is read; the seeds' content is compared (SEEDS_KEY)
    "allow_failing_seeds",  # checked on a new run only
    "evolution.target_size",
    "evolution.max_generations",
    "evolution.stall_generations",
    "evolution.max_in_flight",  # how many steps overlap, not what they make
    # how the dataset is written and which rows a copy selects; not export.reasoning, which
    # decides what the run stores
    "export.path",
    "export.include_seeds",
    "export.card",
    "export.format",
    "export.rows_per_shard",
    "export.where.*",
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
    "dedup.ray_shards",  # where the buckets live; the decisions are the same
    "calibration.at_start",  # measures the judge; gates only with fitness.threshold=auto
)


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        items: dict[str, Any] = {}
        for key, inner in value.items():
            items.update(_flatten(inner, f"{prefix}{key}."))
        return items
    return {prefix.rstrip("."): value}


def matches(key: str, patterns: tuple[str, ...]) -> bool:
    """Whether a dotted key matches one of the fnmatch patterns."""
    return any(fnmatch.fnmatchcase(key, pattern) for pattern in patterns)


def fingerprint(cfg: Config, seeds_digest: str | None = None) -> dict[str, Any]:
    """The settings that shape the data, as dotted keys, plus the prompt templates' hashes
    (as the run's languages fill them) and the seed tasks' digest (when known)."""
    flat = _flatten(dataclasses.asdict(cfg))
    kept = {key: value for key, value in flat.items() if not matches(key, FREE_KEYS)}
    languages = [language for language in Language if language in run_languages(cfg)]
    templates = load_templates()
    for name in templates:
        kept[f"{PROMPTS}{name}"] = text_hash(as_seen(templates, name, languages))
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
