"""A sweep's runs side by side: comparison.html and comparison.json, one line per run.

Each run's report is rebuilt from its state and saved config (and its own page refreshed),
so the comparison never mixes a stale report with a fresh one. Runs are named by the sweep
overrides that tell them apart (`evolution.mutation_rate=0.25 seed=1`).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from genetic_instruct.config import ROLES
from genetic_instruct.errors import InputError
from genetic_instruct.files.atomic import atomic_file
from genetic_instruct.files.ownership import JSON_OWNER, refuse_foreign
from genetic_instruct.report.charts import line_chart
from genetic_instruct.report.page import (
    Section,
    document,
    figure,
    link,
    note,
    percent,
    share,
    table,
)
from genetic_instruct.report.run_page import REPORT_HTML, write_report
from genetic_instruct.report.saved_config import SAVED_CONFIG, SAVED_OVERRIDES, saved_config
from genetic_instruct.state.database import STATE_FILE
from genetic_instruct.state.store import RunStore

COMPARISON_HTML = "comparison.html"
COMPARISON_JSON = "comparison.json"
MAX_REASONS = 6  # reason columns in the rejection table; the rest add up in "other"


def sweep_runs(sweep_dir: Path) -> list[Path]:
    """The run directories of a sweep: its points that hold a run state, by name."""
    return sorted(p.parent for p in sweep_dir.glob(f"*/{STATE_FILE}"))


def write_comparison(run_dirs: Sequence[str | Path], out_dir: str | Path) -> dict[str, Any]:
    """Refresh every run's report, then write the comparison into `out_dir`; return it."""
    dirs = [Path(d) for d in run_dirs]
    if not dirs:
        raise InputError("no run directories to compare")
    runs = [
        {"label": label, "run_dir": str(d), "report": _run_report(d)}
        for d, label in zip(dirs, run_labels(dirs))
    ]
    comparison = {**JSON_OWNER, "schema": 1, "runs": runs}
    out = Path(out_dir)
    refuse_foreign((out / name, "run_dir") for name in (COMPARISON_JSON, COMPARISON_HTML))
    out.mkdir(parents=True, exist_ok=True)
    with atomic_file(out / COMPARISON_JSON) as file:
        file.write((json.dumps(comparison, indent=1) + "\n").encode("utf-8"))
    with atomic_file(out / COMPARISON_HTML) as file:
        file.write(render_comparison(comparison, out).encode("utf-8"))
    return comparison


def _run_report(run_dir: Path) -> dict[str, Any]:
    if not (run_dir / STATE_FILE).is_file():
        raise InputError(f"{run_dir}: no run state here")
    cfg = saved_config(run_dir)
    if cfg is None:
        raise InputError(f"{run_dir}: no saved config ({SAVED_CONFIG}) to describe the run")
    with RunStore(run_dir) as store:
        return write_report(store, cfg)


def run_labels(run_dirs: Sequence[Path]) -> list[str]:
    """The overrides that differ between runs, else the directory name; always unique."""
    overrides = [_overrides(d) for d in run_dirs]
    shared = Counter(o for run in overrides for o in set(run))
    labels = [
        " ".join(o for o in run if shared[o] < len(run_dirs)) or d.name
        for d, run in zip(run_dirs, overrides)
    ]
    repeated = Counter(labels)
    return [
        f"{label} ({d.name})" if repeated[label] > 1 else label
        for d, label in zip(run_dirs, labels)
    ]


def _overrides(run_dir: Path) -> list[str]:
    """The command-line overrides Hydra saved, less the ones every run has by construction."""
    path = run_dir / SAVED_OVERRIDES
    if not path.is_file():
        return []
    saved = OmegaConf.to_container(OmegaConf.load(path))
    assert isinstance(saved, list)
    return [str(o) for o in saved if not str(o).startswith(("run_dir=", "hydra.", "progress="))]


def render_comparison(comparison: Mapping[str, Any], out_dir: Path) -> str:
    runs = comparison["runs"]
    sections = [
        Section("outcome", "Outcome", _outcome(runs, out_dir)),
        Section(
            "growth",
            "Population growth",
            _per_generation(runs, "population", "individuals (seeds included)"),
        ),
        Section(
            "acceptance",
            "Acceptance per generation",
            _per_generation(runs, "acceptance", "accepted share of tried"),
        ),
        Section("rejections", "Rejection reasons", _rejections(runs)),
        Section("cost", "Tokens and throughput", _cost(runs)),
    ]
    intro = note(
        "Each run's own page is linked from the first table; the numbers are in "
        "comparison.json beside this page."
    )
    return document("genetic-instruct sweep comparison", f"{len(runs)} runs", intro, sections)


def _outcome(runs: Sequence[Mapping[str, Any]], out_dir: Path) -> str:
    criteria = sorted({c for run in runs for c in run["report"]["judge_scores"]})
    rows = []
    for run in runs:
        rep = run["report"]
        page = os.path.relpath(Path(run["run_dir"]) / REPORT_HTML, out_dir)
        survivors = rep["run"]["survivors"]
        mutations = rep["survivors"]["by_origin"].get("mutation", 0)
        rows.append(
            (
                link(page, run["label"]),
                rep["run"]["generation"],
                rep["run"]["population"],
                survivors,
                percent(rep["acceptance"]["rate"]),
                *(rep["judge_scores"].get(c, {}).get("mean") for c in criteria),
                share(mutations, survivors),
                rep["lineage_depth"]["mean"],
            )
        )
    headers = (
        "run",
        "generations",
        "population",
        "survivors",
        "acceptance",
        *(f"mean {c}" for c in criteria),
        "mutation share",
        "mean lineage depth",
    )
    return table(headers, rows)


def _per_generation(runs: Sequence[Mapping[str, Any]], key: str, y_label: str) -> str:
    generations = sorted(
        {row["generation"] for run in runs for row in run["report"]["generations"]}
    )
    series = {}
    for run in runs:
        by_generation = {row["generation"]: row[key] for row in run["report"]["generations"]}
        series[run["label"]] = [by_generation.get(g) for g in generations]
    chart = line_chart(generations, series, x_label="generation", y_label=y_label)
    return figure(chart, "One line per run.")


def _rejections(runs: Sequence[Mapping[str, Any]]) -> str:
    totals: Counter[str] = Counter()
    for run in runs:
        totals.update(run["report"]["acceptance"]["rejected"])
    reasons = [reason for reason, _ in totals.most_common(MAX_REASONS)]
    rows = []
    for run in runs:
        acc = run["report"]["acceptance"]
        other = sum(n for r, n in acc["rejected"].items() if r not in reasons)
        rows.append(
            (
                run["label"],
                acc["tried"],
                *(share(acc["rejected"].get(r, 0), acc["tried"]) for r in reasons),
                share(other, acc["tried"]),
            )
        )
    return table(("run", "tried", *reasons, "other"), rows) + note(
        "Share of the offspring tried that each filter rejected."
    )


def _cost(runs: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for run in runs:
        per = run["report"]["tokens_per_accepted"]
        speed = run["report"]["throughput"]
        rows.append(
            (
                run["label"],
                *(per[role]["total"] for role in ROLES),
                *(speed[role]["tokens_per_second"] for role in ROLES),
            )
        )
    headers = ("run", *(f"{r} tokens / accepted" for r in ROLES), *(f"{r} tokens/s" for r in ROLES))
    return table(headers, rows)
