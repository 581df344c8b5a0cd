"""What a config must mean beyond its types: ranges, and references between sections.

Hydra checks types; `validate` checks meaning, so that a bad setting fails in a second,
naming its key, before any model is loaded or anything is written.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from genetic_instruct.config import (
    AUTO_THRESHOLD,
    FITNESS_TERMS,
    JUDGE_CRITERIA,
    ROLES,
    SEEDS_FORMATS,
    Config,
    EngineKind,
    ExecutorConfig,
    ExecutorKind,
    RoleConfig,
    run_languages,
)
from genetic_instruct.errors import ConfigError


def _require(condition: bool, key: str, message: str) -> None:
    if not condition:
        raise ConfigError(f"config key {key}: {message}")


def validate(cfg: Config) -> None:
    """Check meanings Hydra's types cannot express; raise ConfigError naming the key."""
    run_languages(cfg)
    evo = cfg.evolution
    _require(evo.target_size > 0, "evolution.target_size", "must be positive")
    _require(evo.max_generations >= 0, "evolution.max_generations", "must be >= 0")
    _require(evo.colonies >= 1, "evolution.colonies", "must be >= 1")
    _require(evo.stall_generations >= 0, "evolution.stall_generations", "must be >= 0")
    _require(evo.offspring_per_colony >= 1, "evolution.offspring_per_colony", "must be >= 1")
    _require(0.0 <= evo.mutation_rate <= 1.0, "evolution.mutation_rate", "must be in [0, 1]")
    _require(evo.crossover_parents >= 1, "evolution.crossover_parents", "must be >= 1")
    _require(evo.max_in_flight >= 1, "evolution.max_in_flight", "must be >= 1")
    _require(
        evo.crossover_tasks_per_call >= 1, "evolution.crossover_tasks_per_call", "must be >= 1"
    )
    _require(
        evo.mutation_rate == 0.0 or len(evo.mutation_methods) > 0,
        "evolution.mutation_methods",
        "is empty but evolution.mutation_rate > 0",
    )
    for name, model in cfg.models.items():
        _require(
            bool(model.path),
            f"models.{name}.path",
            "must be set (a folder, a hub id or a served name)",
        )
        _require(model.max_model_len > 0, f"models.{name}.max_model_len", "must be positive")
        if model.engine == EngineKind.openai:
            _require(len(model.base_urls) > 0, f"models.{name}.base_urls", "needs at least one URL")
            _require(model.max_concurrency >= 1, f"models.{name}.max_concurrency", "must be >= 1")
            _require(model.max_retries >= 0, f"models.{name}.max_retries", "must be >= 0")
            _require(model.outage_deadline_s > 0, f"models.{name}.outage_deadline_s", "must be > 0")
    for role in ROLES:
        role_cfg: RoleConfig = getattr(cfg.roles, role)
        _require(
            role_cfg.model in cfg.models,
            f"roles.{role}.model",
            f"names model {role_cfg.model!r}, not one of models: {sorted(cfg.models)}",
        )
        _require(role_cfg.temperature >= 0.0, f"roles.{role}.temperature", "must be >= 0")
        _require(0.0 < role_cfg.top_p <= 1.0, f"roles.{role}.top_p", "must be in (0, 1]")
        _require(role_cfg.max_tokens > 0, f"roles.{role}.max_tokens", "must be positive")
    _require(cfg.seeds_format in SEEDS_FORMATS, "seeds_format", f"must be one of {SEEDS_FORMATS}")
    _require(cfg.rejected_samples >= 0, "rejected_samples", "must be >= 0")
    card = cfg.export.card
    _require(
        bool(card) and Path(card).name == card and card != Path(cfg.export.path).name,
        "export.card",
        "must be a file name (no folder), other than the dataset's",
    )
    flt = cfg.filters
    _require(flt.min_instruction_words >= 1, "filters.min_instruction_words", "must be >= 1")
    _require(
        flt.max_instruction_words > flt.min_instruction_words,
        "filters.max_instruction_words",
        "must be greater than filters.min_instruction_words",
    )
    _validate_fitness(cfg)
    for criterion, weight in cfg.fitness.weights.items():
        _require(
            criterion in FITNESS_TERMS,
            f"fitness.weights.{criterion}",
            f"unknown criterion; known: {FITNESS_TERMS}",
        )
        _require(
            criterion != "tests" or cfg.execution.enabled,
            "fitness.weights.tests",
            "needs execution.enabled=true",
        )
        _require(weight >= 0.0, f"fitness.weights.{criterion}", "must be >= 0")
    _require(sum(cfg.fitness.weights.values()) > 0, "fitness.weights", "must not all be zero")
    cal = cfg.calibration
    _require(cal.tasks >= 2, "calibration.tasks", "must be >= 2")
    _require(cal.faulty_per_task >= 1, "calibration.faulty_per_task", "must be >= 1")
    _require(0.0 < cal.keep_correct <= 1.0, "calibration.keep_correct", "must be in (0, 1]")
    _require(0.5 <= cal.confidence < 1.0, "calibration.confidence", "must be in [0.5, 1)")
    _require(cal.resamples >= 100, "calibration.resamples", "must be >= 100")
    dc = cfg.decontamination
    _require(dc.ngram >= 1, "decontamination.ngram", "must be >= 1")
    _require(0.0 < dc.minhash_threshold <= 1.0, "decontamination.minhash_threshold", "in (0, 1]")
    for i, bench in enumerate(dc.benchmarks):
        _require(
            bool(bench.name and bench.path and bench.text_fields),
            f"decontamination.benchmarks[{i}]",
            "needs name, path and text_fields",
        )
    ex = cfg.execution
    _require(0.0 <= ex.min_pass_fraction <= 1.0, "execution.min_pass_fraction", "must be in [0, 1]")
    _require(ex.workers >= 0, "execution.workers", "must be >= 0")
    _require(ex.mutants >= 0, "execution.mutants", "must be >= 0")
    _require(
        0.0 <= ex.min_mutation_score <= 1.0, "execution.min_mutation_score", "must be in [0, 1]"
    )
    _require(
        ex.min_mutation_score == 0.0 or ex.mutants > 0,
        "execution.min_mutation_score",
        "needs execution.mutants > 0",
    )
    _validate_attempts(cfg)
    dd = cfg.dedup
    _require(0.0 < dd.threshold < 1.0, "dedup.threshold", "must be in (0, 1)")
    _require(dd.num_perm >= 16, "dedup.num_perm", "must be >= 16")
    _require(
        dd.bands is None or (dd.bands > 0 and dd.num_perm % dd.bands == 0),
        "dedup.bands",
        "must divide dedup.num_perm",
    )
    _require(dd.shingle_size >= 1, "dedup.shingle_size", "must be >= 1")
    _require(dd.ray_shards >= 0, "dedup.ray_shards", "must be >= 0 (0: buckets in this process)")
    _require(
        dd.ray_shards == 0 or importlib.util.find_spec("ray") is not None,
        "dedup.ray_shards",
        "shards live on Ray actors: pip install 'genetic-instruct[ray]'",
    )
    _require(cfg.export.rows_per_shard >= 1, "export.rows_per_shard", "must be >= 1")
    _validate_executor(cfg.executor)


def _validate_attempts(cfg: Config) -> None:
    ex = cfg.execution
    _require(ex.attempts >= 1, "execution.attempts", "must be >= 1")
    _require(
        ex.attempts == 1 or ex.enabled,
        "execution.attempts",
        "more than one attempt needs execution.enabled=true (each attempt runs the tests)",
    )
    _require(ex.oracle_seeds >= 0, "execution.oracle_seeds", "must be >= 0")
    _require(0.0 <= ex.hard_below <= 1.0, "execution.hard_below", "must be in [0, 1]")
    _require(
        ex.hard_below <= ex.easy_above <= 1.0,
        "execution.easy_above",
        "must be in [execution.hard_below, 1]",
    )
    _require(
        not cfg.export.reasoning or ex.enabled,
        "export.reasoning",
        "keeps only the reasoning of solutions that pass their tests: needs execution.enabled=true",
    )


def _validate_fitness(cfg: Config) -> None:
    threshold = cfg.fitness.threshold
    if threshold == AUTO_THRESHOLD:
        _require(
            any(cfg.fitness.weights.get(name, 0) > 0 for name in JUDGE_CRITERIA),
            "fitness.weights",
            f"fitness.threshold=auto gates on the judge: weigh one of {JUDGE_CRITERIA}",
        )
        return
    number = isinstance(threshold, (int, float)) and not isinstance(threshold, bool)
    _require(
        number and 1.0 <= threshold <= 10.0,
        "fitness.threshold",
        f"must be a number in [1, 10] or {AUTO_THRESHOLD}, not {threshold!r}",
    )


def _validate_executor(ex: ExecutorConfig) -> None:
    _require(ex.num_cpus_per_colony >= 0, "executor.num_cpus_per_colony", "must be >= 0")
    _require(ex.num_gpus_per_colony >= 0, "executor.num_gpus_per_colony", "must be >= 0")
    _require(ex.max_restarts >= 0, "executor.max_restarts", "must be >= 0")
    _require(ex.start_timeout_s > 0, "executor.start_timeout_s", "must be positive")
    _require(
        ex.kind != ExecutorKind.ray or importlib.util.find_spec("ray") is not None,
        "executor.kind",
        "ray needs Ray installed: pip install 'genetic-instruct[ray]'",
    )
