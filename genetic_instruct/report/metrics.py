"""The run report's numbers, computed once from the run state and the run's config.

The HTML page and the dataset card are renderings of this dict (also saved as report.json),
so what a reader sees and what a script reads can never disagree. The population is read in
one pass that keeps only lineage fields, never the texts.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from genetic_instruct.config import ROLES, Config, TestsFrom, roles_in_use
from genetic_instruct.evolution.fitness import fitness_gate
from genetic_instruct.files.ownership import JSON_OWNER
from genetic_instruct.rejection import truncated_reason
from genetic_instruct.report.gates import measured_and_gated
from genetic_instruct.report.lineage import lineage_depths
from genetic_instruct.report.row_signals import row_signals
from genetic_instruct.state.generation_stats import GenerationStats
from genetic_instruct.state.meta import (
    CALIBRATION,
    FAILING_SEEDS,
    REPRODUCIBILITY,
    RUN_END,
    TEST_ORACLE,
)
from genetic_instruct.state.store import Lineage, RunStore

# 2: mutation_scores; 3: calibration, gate, test_agreement; 4: row_signals, gates,
# reproducibility, test_oracle, tokens_per_accepted["all"]
REPORT_SCHEMA = 4


def build_report(store: RunStore, cfg: Config) -> dict[str, Any]:
    """Every metric of the run, as plain JSON-ready values."""
    generations = [generation_row(stats) for stats in store.generation_stats()]
    offspring = [row for row in generations if row["generation"] > 0]  # 0 holds the seeds
    population = population_metrics(store.lineages())
    tried = sum(row["tried"] for row in offspring)
    accepted = sum(row["accepted"] for row in offspring)
    rejected = _sum_counts(row["rejected"] for row in offspring)
    calibration = store.meta.get(CALIBRATION)
    oracle = store.meta.get(TEST_ORACLE)
    reproducible = store.meta.get(REPRODUCIBILITY)
    end = store.meta.get(RUN_END)
    failing = store.meta.get(FAILING_SEEDS)
    return {
        **JSON_OWNER,
        "schema": REPORT_SCHEMA,
        "run": {
            "run_dir": str(store.path.parent),
            "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "generation": store.generation or 0,
            "population": population["population"],
            "seeds": population["seeds"],
            "survivors": population["population"] - population["seeds"],
            "dataset": cfg.export.path,
            # why it stopped (state/meta.py RunEnd); None while it has not stopped yet
            "end": None if end is None else dataclasses.asdict(end),
            # seeds kept although their solution fails its tests; None: never checked
            "failing_seeds": None if failing is None else len(failing),
        },
        "settings": settings(cfg),
        "generations": generations,
        "acceptance": {
            "tried": tried,
            "accepted": accepted,
            "rate": _ratio(accepted, tried),
            "rejected": rejected,
            # answers cut by max_tokens, per role: many means that role's max_tokens is short
            "truncated": {role: rejected.get(truncated_reason(role), 0) for role in ROLES},
        },
        "judge_scores": judge_totals(row["judge_scores"] for row in generations),
        "mutation_scores": mutation_totals(row["mutation_scores"] for row in generations),
        # the judge's calibration (calibration/), None when it was not calibrated
        "calibration": None if calibration is None else calibration.to_dict(),
        "gate": fitness_gate(cfg, calibration).describe(),  # what survival was gated on
        # every check a row went through, and whether anything but syntax gated it
        "gates": measured_and_gated(cfg, calibration),
        "test_agreement": test_agreement(generations, cfg),
        "row_signals": row_signals(generations, cfg),
        # how well kept asserts tell right from wrong on the seeds (calibration/test_oracle)
        "test_oracle": None if oracle is None else oracle.to_dict(),
        # whether the same seed makes the same dataset again, and why not (llm/)
        "reproducibility": None if reproducible is None else dataclasses.asdict(reproducible),
        "survivors": {**population["survivors"], "by_language": store.languages()},
        "lineage_depth": population["lineage_depth"],
        "tokens_per_accepted": tokens_per_accepted(generations, accepted),
        "throughput": throughput(generations),
    }


def settings(cfg: Config) -> dict[str, Any]:
    """The config choices that shape the data: what a reader needs to compare or reproduce."""
    evo = cfg.evolution
    return {
        "seed": cfg.seed,
        "seeds": cfg.seeds,
        "target_size": evo.target_size,
        "max_generations": evo.max_generations,
        "colonies": evo.colonies,
        "offspring_per_colony": evo.offspring_per_colony,
        "mutation_rate": evo.mutation_rate,
        "crossover_parents": evo.crossover_parents,
        "crossover_tasks_per_call": evo.crossover_tasks_per_call,
        "mutation_methods": sorted(evo.mutation_methods),
        "fitness": {"threshold": cfg.fitness.threshold, "weights": dict(cfg.fitness.weights)},
        "filters": dataclasses.asdict(cfg.filters),
        "dedup": dataclasses.asdict(cfg.dedup),
        "models": role_models(cfg),
    }


def role_models(cfg: Config) -> dict[str, dict[str, Any]]:
    """Model, engine and sampling per role the run asks (the tester only when it writes the
    tests); engine endpoints and key names are left out."""
    out: dict[str, dict[str, Any]] = {}
    for role in roles_in_use(cfg):
        role_cfg = getattr(cfg.roles, role)
        model = cfg.models[role_cfg.model]
        out[role] = {
            "model": model.path,
            "engine": model.engine,
            "temperature": role_cfg.temperature,
            "top_p": role_cfg.top_p,
            "max_tokens": role_cfg.max_tokens,
        }
    return out


def generation_row(stats: GenerationStats) -> dict[str, Any]:
    """One generation's stats as the report's JSON row, with what derives from them."""
    return {
        "generation": stats.generation,
        "population": stats.population,
        "tried": stats.tried,
        "accepted": stats.accepted,
        "acceptance": _ratio(stats.accepted, stats.tried),
        "rejected": dict(stats.rejected),
        "prompt_tokens": dict(stats.prompt_tokens),
        "completion_tokens": dict(stats.completion_tokens),
        "seconds": dict(stats.seconds),
        # stages overlap, so their seconds do not add up
        "wall_seconds": stats.wall_seconds,
        "tokens_per_second": {
            role: _ratio(
                stats.prompt_tokens.get(role, 0) + stats.completion_tokens.get(role, 0), seconds
            )
            for role, seconds in stats.seconds.items()
        },
        "replayed": stats.replayed,
        "judge_scores": {
            name: {str(score): n for score, n in sorted(hist.items())}
            for name, hist in stats.judge_scores.items()
        },
        "executions": dict(stats.executions),  # sandbox status -> programs
        # mutation score (one decimal) -> programs whose tests passed and were mutation-tested
        "mutation_scores": dict(sorted(stats.mutation_scores.items())),
        # the attempts (execution.attempts): report/row_signals.py reads these
        "difficulty": dict(stats.difficulty),
        "attempts": dict(stats.attempts),
        "suspect_asserts": stats.suspect_asserts,
        "suspect_tasks": stats.suspect_tasks,
        "judged_pass_rates": {rate: dict(h) for rate, h in stats.judged_pass_rates.items()},
    }


def population_metrics(individuals: Iterable[Lineage]) -> dict[str, Any]:
    """Operator and method mix of survivors, and their lineage depth, in one pass."""
    parents: dict[str, tuple[str, ...]] = {}
    seeds = 0
    by_origin: Counter[str] = Counter()
    by_method: Counter[str] = Counter()
    by_generation: dict[int, Counter[str]] = {}
    for ind in individuals:
        parents[ind.id] = ind.parents
        if ind.origin == "seed":
            seeds += 1
            continue
        by_origin[ind.origin] += 1
        if ind.method is not None:
            by_method[ind.method] += 1
        by_generation.setdefault(ind.generation, Counter())[operator_label(ind)] += 1
    return {
        "population": len(parents),
        "seeds": seeds,
        "survivors": {
            "by_origin": _by_count(by_origin),
            "by_method": _by_count(by_method),
            "by_generation": {str(g): _by_count(c) for g, c in sorted(by_generation.items())},
        },
        "lineage_depth": depth_summary(lineage_depths(parents), len(parents) - seeds),
    }


def operator_label(ind: Lineage) -> str:
    """`crossover`, or `mutation/<method>`: operator and method in one category."""
    return ind.origin if ind.method is None else f"{ind.origin}/{ind.method}"


def depth_summary(depths: Mapping[str, int], survivors: int) -> dict[str, Any]:
    """Histogram, mean and maximum depth of the survivors (seeds, at depth 0, left out)."""
    histogram = Counter(depth for depth in depths.values() if depth > 0)
    reached = sum(histogram.values())
    return {
        "histogram": {str(d): n for d, n in sorted(histogram.items())},
        "mean": _ratio(sum(d * n for d, n in histogram.items()), reached),
        "max": max(histogram, default=0),
        "unreached": survivors - reached,  # survivors whose parents are not in the population
    }


def judge_totals(histograms: Iterable[Mapping[str, Mapping[str, int]]]) -> dict[str, Any]:
    """Score histogram and mean per criterion, over every judged offspring of the run."""
    totals: dict[str, Counter[int]] = {}
    for generation in histograms:
        for criterion, hist in generation.items():
            totals.setdefault(criterion, Counter()).update({int(s): n for s, n in hist.items()})
    return {
        criterion: {
            "histogram": {str(s): n for s, n in sorted(hist.items())},
            "mean": _ratio(sum(s * n for s, n in hist.items()), sum(hist.values())),
        }
        for criterion, hist in sorted(totals.items())
    }


def mutation_totals(histograms: Iterable[Mapping[str, int]]) -> dict[str, Any]:
    """Mutation-score histogram and mean over every mutation-tested program of the run
    (rejected ones included): how strong the tests that decided survival were. The mean
    is taken over the one-decimal bins (exact with 5 mutants a program: steps of 0.2)."""
    total: Counter[str] = Counter()
    for generation in histograms:
        total.update(generation)
    measured = sum(total.values())
    return {
        "histogram": dict(sorted(total.items())),
        "measured": measured,
        "mean": _ratio(sum(float(s) * n for s, n in total.items()), measured),
    }


def test_agreement(generations: list[dict[str, Any]], cfg: Config) -> dict[str, Any] | None:
    """With tests written apart from the solution (execution.tests_from=tester): how often
    they agree with it, i.e. the share of executed programs that pass them. A second signal
    beside the judge's; None when the Coder writes its own tests."""
    ex = cfg.execution
    if not ex.enabled or ex.tests_from != TestsFrom.tester:
        return None
    executed = sum(sum(row["executions"].values()) for row in generations)
    agreed = sum(row["executions"].get("passed", 0) for row in generations)
    return {"executed": executed, "agreed": agreed, "rate": _ratio(agreed, executed)}


def tokens_per_accepted(generations: list[dict[str, Any]], accepted: int) -> dict[str, Any]:
    """What one surviving sample costs in tokens, per role and in all ("all"), rejected
    offspring included: k attempts multiply the solver's share."""
    out: dict[str, Any] = {}
    totals = {"prompt": 0, "completion": 0}
    for role in ROLES:
        prompt = sum(row["prompt_tokens"].get(role, 0) for row in generations)
        completion = sum(row["completion_tokens"].get(role, 0) for row in generations)
        totals["prompt"] += prompt
        totals["completion"] += completion
        out[role] = {
            "prompt": _ratio(prompt, accepted),
            "completion": _ratio(completion, accepted),
            "total": _ratio(prompt + completion, accepted),
        }
    out["all"] = {
        "prompt": _ratio(totals["prompt"], accepted),
        "completion": _ratio(totals["completion"], accepted),
        "total": _ratio(totals["prompt"] + totals["completion"], accepted),
    }
    return out


def throughput(generations: list[dict[str, Any]]) -> dict[str, Any]:
    """Tokens per second of each role's stage (prompt and completion tokens over its time).

    Generations with answers replayed from the journal after a resume are left out: their
    tokens were generated by an earlier process, in time this one did not measure.
    """
    measured = [row for row in generations if row["replayed"] == 0]
    out: dict[str, Any] = {
        "excluded_generations": [row["generation"] for row in generations if row["replayed"]]
    }
    for role in ROLES:
        completion = sum(row["completion_tokens"].get(role, 0) for row in measured)
        tokens = completion + sum(row["prompt_tokens"].get(role, 0) for row in measured)
        seconds = round(sum(row["seconds"].get(role, 0.0) for row in measured), 3)
        out[role] = {
            "tokens": tokens,
            "seconds": seconds,
            "tokens_per_second": _ratio(tokens, seconds),
            "completion_tokens_per_second": _ratio(completion, seconds),
        }
    return out


def _sum_counts(counts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for count in counts:
        total.update(count)
    return _by_count(total)


def _by_count(counter: Counter[str]) -> dict[str, int]:
    """Most frequent first, so the JSON and the tables read in the same order."""
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def _ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 4) if denominator else None
