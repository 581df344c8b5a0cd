"""The run report page: a rendering of the report dict, one section per metric."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from genetic_instruct.config import ROLES, Config
from genetic_instruct.files.atomic import atomic_file
from genetic_instruct.files.ownership import refuse_foreign
from genetic_instruct.report.charts import bar_chart, line_chart
from genetic_instruct.report.metrics import REPORT_SCHEMA, build_report
from genetic_instruct.report.page import (
    Section,
    document,
    figure,
    folded,
    note,
    number,
    percent,
    share,
    table,
)
from genetic_instruct.report.signals_page import signals_section
from genetic_instruct.state.store import RunStore

REPORT_HTML = "report.html"
REPORT_JSON = "report.json"
MAX_REASONS = 8  # more rejection reasons than colours that stay distinguishable: "other"


def write_report(store: RunStore, cfg: Config) -> dict[str, Any]:
    """Write report.json and report.html into `report_dir` (the run directory unless set
    elsewhere, as for a run on read-only media); return the report."""
    refuse_foreign(report_outputs(cfg.report_dir))
    report = build_report(store, cfg)
    out = Path(cfg.report_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_file(out / REPORT_JSON) as file:
        file.write((json.dumps(report, indent=1) + "\n").encode("utf-8"))
    with atomic_file(out / REPORT_HTML) as file:
        file.write(render_run(report).encode("utf-8"))
    return report


def report_outputs(report_dir: str | Path) -> list[tuple[Path, str]]:
    """The files `write_report` replaces, with the key that moves them."""
    return [(Path(report_dir) / name, "report_dir") for name in (REPORT_JSON, REPORT_HTML)]


def current_report(store: RunStore) -> dict[str, Any] | None:
    """The run directory's report.json when it describes the state as it is now, else None.

    The report only changes when a generation commits, so `export` reuses it for the card
    instead of re-reading every record (about 30 s at 800k).
    """
    path = store.path.parent / REPORT_JSON
    try:
        report: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        run = report["run"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if report.get("schema") != REPORT_SCHEMA:
        return None  # an older tool's report lacks fields the card reads
    if (run.get("generation"), run.get("population")) != (
        store.generation or 0,
        store.population_size(),
    ):
        return None
    return report


def render_run(report: Mapping[str, Any]) -> str:
    run = report["run"]
    sections = [
        Section("summary", "Summary", summary_table(report)),
        Section("growth", "Population growth", _growth(report)),
        Section("acceptance", "Acceptance and rejection reasons", _acceptance(report)),
        Section("calibration", "Judge calibration", _calibration(report)),
        Section("judge", "Judge scores", _judge(report)),
        Section("tests", "Test strength", _test_strength(report)),
        Section("signals", "Row signals: what was checked, difficulty", signals_section(report)),
        Section("operators", "Operators and methods of survivors", _operators(report)),
        Section("lineage", "Lineage depth", _lineage(report)),
        Section("tokens", "Tokens per accepted sample", _tokens(report)),
        Section("throughput", "Throughput", _throughput(report)),
        Section("generations", "Per generation", _generation_table(report)),
    ]
    subtitle = f"{run['run_dir']} · generation {run['generation']} · written {run['generated_at']}"
    end = run.get("end")
    stopped = f"The run {end['message']}. " if end else "The run has not stopped yet. "
    intro = note(stopped + "The same numbers are in report.json beside this page.")
    return document("genetic-instruct run report", subtitle, intro, sections)


def summary_table(report: Mapping[str, Any]) -> str:
    run, cfg, acc = report["run"], report["settings"], report["acceptance"]
    by_origin = report["survivors"]["by_origin"]
    models = "; ".join(
        f"{role}: {m['model']} ({m['engine']}, T={m['temperature']})"
        for role, m in cfg["models"].items()
    )
    rows: list[tuple[str, Any]] = [
        ("run directory", run["run_dir"]),
        ("generations", f"{run['generation']} (limit {cfg['max_generations'] or 'none'})"),
        (
            "population",
            f"{run['population']:,} of target {cfg['target_size']:,} "
            f"({run['population'] / cfg['target_size']:.0%})",
        ),
        ("seeds", f"{run['seeds']:,} ({cfg['seeds']})"),
        (
            "survivors",
            f"{run['survivors']:,} (" + ", ".join(f"{k} {v:,}" for k, v in by_origin.items()) + ")",
        ),
        (
            "offspring tried / accepted",
            f"{acc['tried']:,} / {acc['accepted']:,} ({percent(acc['rate'])})",
        ),
        ("colonies × offspring per colony", f"{cfg['colonies']} × {cfg['offspring_per_colony']}"),
        ("mutation rate", str(cfg["mutation_rate"])),
        (
            "fitness",
            f"gate: {report['gate']}; threshold setting {cfg['fitness']['threshold']}, "
            "weights " + ", ".join(f"{k} {v}" for k, v in cfg["fitness"]["weights"].items()),
        ),
        ("dedup", f"Jaccard ≥ {cfg['dedup']['threshold']} on {cfg['dedup']['compare']}"),
        ("models", models),
        ("dataset", run["dataset"]),
    ]
    return table(None, rows)


def _generations(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The generations that made offspring (generation 0 is the seeds)."""
    return [row for row in report["generations"] if row["generation"] > 0]


def _growth(report: Mapping[str, Any]) -> str:
    rows = report["generations"]
    target = report["settings"]["target_size"]
    chart = line_chart(
        [row["generation"] for row in rows],
        {
            "population": [row["population"] for row in rows],
            "target size": [target] * len(rows),
        },
        x_label="generation",
        y_label="individuals (seeds included)",
    )
    return figure(chart, "Population after each generation; generation 0 is the seed set.")


def _acceptance(report: Mapping[str, Any]) -> str:
    rows = _generations(report)
    acc = report["acceptance"]
    reasons = list(acc["rejected"])
    shown, other = reasons[:MAX_REASONS], reasons[MAX_REASONS:]
    series: dict[str, list[float | None]] = {"accepted": [row["accepted"] for row in rows]}
    for reason in shown:
        series[reason] = [row["rejected"].get(reason, 0) for row in rows]
    if other:
        series["other"] = [sum(row["rejected"].get(r, 0) for r in other) for row in rows]
    chart = bar_chart(
        [str(row["generation"]) for row in rows],
        series,
        stacked=True,
        x_label="generation",
        y_label="offspring tried",
    )
    tried = acc["tried"]
    totals = [("accepted", acc["accepted"], percent(acc["rate"]))] + [
        (reason, count, share(count, tried)) for reason, count in acc["rejected"].items()
    ]
    caption = (
        "What became of each generation's offspring: accepted, or the first filter "
        "that rejected them."
    )
    truncated = ", ".join(f"{role} {n:,}" for role, n in acc.get("truncated", {}).items() if n)
    cut = (
        note(
            f"Answers cut by max_tokens, rejected: {truncated}. Many of them mean that "
            "role's roles.<role>.max_tokens is too short."
        )
        if truncated
        else ""
    )
    return figure(chart, caption) + table(("outcome", "offspring", "share of tried"), totals) + cut


def _judge(report: Mapping[str, Any]) -> str:
    scores = report["judge_scores"]
    if not scores:
        return note("No judge verdicts recorded.")
    levels = sorted({int(s) for c in scores.values() for s in c["histogram"]})
    chart = bar_chart(
        [str(s) for s in levels],
        {name: [c["histogram"].get(str(s), 0) for s in levels] for name, c in scores.items()},
        x_label="score",
        y_label="judged offspring",
    )
    rows = [(name, sum(c["histogram"].values()), c["mean"]) for name, c in scores.items()]
    caption = (
        f"Judge scores of every judged offspring, rejected ones included; survival "
        f"gate: {report['gate']}."
    )
    return figure(chart, caption) + table(("criterion", "judged", "mean score"), rows)


def _calibration(report: Mapping[str, Any]) -> str:
    found = report["calibration"]
    judge = report["row_signals"]["judge_vs_pass_rate"]  # beside the AUC: the attempts' view
    against_attempts = "" if judge is None else note(judge["line"])
    if found is None:
        return against_attempts + note(
            "The judge was not calibrated: run `genetic-instruct calibrate`, or set "
            "fitness.threshold=auto (or calibration.at_start=true)."
        )
    levels = sorted({float(s) for hist in found["scores"].values() for s in hist})
    chart = bar_chart(
        [f"{s:g}" for s in levels],
        {kind: [hist.get(f"{s:.1f}", 0) for s in levels] for kind, hist in found["scores"].items()},
        x_label="judge score",
        y_label="solutions",
    )
    caption = (
        "Judge scores of seed reference solutions (correct) and of mutants of them "
        "that fail the seed's own tests (faulty), the judge shown neither tests nor "
        "their results. " + found["line"] + "."
    )
    interval = found["auc_interval"]
    rows: list[tuple[str, Any]] = [
        (
            "ROC AUC",
            "-"
            if found["auc"] is None
            else f"{found['auc']:.3f} [{interval[0]:.3f}, {interval[1]:.3f}] "
            f"({found['confidence']:.0%} bootstrap over tasks)",
        ),
        ("tasks / correct / faulty", f"{found['tasks']} / {found['correct']} / {found['faulty']}"),
        (
            "threshold",
            f"{found['threshold']} (keeps {percent(found['correct_kept'])} of "
            f"correct, {percent(found['faulty_let_through'])} of faulty)",
        ),
        ("gates survival", "yes" if found["gates"] else "no (AUC not clearly above 0.5)"),
        (
            "unreadable verdicts",
            ", ".join(f"{k} {v}" for k, v in found["unreadable"].items()) or "none",
        ),
        (
            "faulty by mutation",
            ", ".join(f"{k} {v}" for k, v in found["faulty_by_operator"].items()),
        ),
        ("time", ", ".join(f"{part} {s} s" for part, s in found["seconds"].items())),
    ]
    return figure(chart, caption) + table(None, rows) + against_attempts + _agreement(report)


def _agreement(report: Mapping[str, Any]) -> str:
    agreement = report["test_agreement"]
    if agreement is None or not agreement["executed"]:
        return ""
    return note(
        f"Independent tests (written by the Tester, not the Coder) passed on "
        f"{agreement['agreed']:,} of {agreement['executed']:,} executed solutions "
        f"({percent(agreement['rate'])}): a second signal beside the judge's."
    )


def _test_strength(report: Mapping[str, Any]) -> str:
    scores = report["mutation_scores"]
    if not scores["measured"]:
        return note("No mutation scores recorded (execution off, or no tests passed).")
    rows = [row for row in report["generations"] if row["mutation_scores"]]
    chart = bar_chart(
        [str(row["generation"]) for row in rows],
        {
            f"score {b}": [row["mutation_scores"].get(b, 0) for row in rows]
            for b in scores["histogram"]
        },
        stacked=True,
        x_label="generation",
        y_label="mutation-tested programs",
    )
    caption = (
        f"Mutation score (share of its own mutants each passing program's tests "
        f"killed) per generation; mean {scores['mean']} over {scores['measured']:,} "
        "programs. Tests that never call the solution score 0."
    )
    return figure(chart, caption)


def _operators(report: Mapping[str, Any]) -> str:
    survivors = report["survivors"]
    by_generation = survivors["by_generation"]
    labels = sorted({label for counts in by_generation.values() for label in counts})
    chart = bar_chart(
        list(by_generation),
        {label: [counts.get(label, 0) for counts in by_generation.values()] for label in labels},
        stacked=True,
        x_label="generation",
        y_label="survivors",
    )
    total = sum(survivors["by_origin"].values())
    rows = [(origin, n, share(n, total)) for origin, n in survivors["by_origin"].items()]
    rows += [(f"mutation/{m}", n, share(n, total)) for m, n in survivors["by_method"].items()]
    caption = (
        "Survivors of each generation by operator (crossover) and evolution method (mutation/…)."
    )
    return figure(chart, caption) + table(("operator / method", "survivors", "share"), rows)


def _lineage(report: Mapping[str, Any]) -> str:
    depth = report["lineage_depth"]
    histogram = depth["histogram"]
    chart = bar_chart(
        list(histogram),
        {"survivors": list(histogram.values())},
        x_label="depth (operator steps from the nearest seed)",
        y_label="survivors",
    )
    text = (
        f"Mean depth {number(depth['mean'])}, deepest {depth['max']}; "
        f"{depth['unreached']} survivors have no recorded path to a seed."
    )
    return figure(chart, "Shortest distance to a seed through parent links.") + note(text)


def _tokens(report: Mapping[str, Any]) -> str:
    per = report["tokens_per_accepted"]
    chart = bar_chart(
        list(ROLES),
        {part: [per[role][part] for role in ROLES] for part in ("prompt", "completion")},
        stacked=True,
        x_label="role",
        y_label="tokens per accepted sample",
    )
    rows = [
        (role, per[role]["prompt"], per[role]["completion"], per[role]["total"])
        for role in (*ROLES, "all")
    ]
    caption = (
        "All tokens spent (on rejected offspring too) divided by the number of survivors; "
        "the solver's share grows with execution.attempts."
    )
    return figure(chart, caption) + table(("role", "prompt", "completion", "total"), rows)


def _throughput(report: Mapping[str, Any]) -> str:
    rows = [row for row in _generations(report) if row["replayed"] == 0]
    chart = line_chart(
        [row["generation"] for row in rows],
        {role: [row["tokens_per_second"].get(role) for row in rows] for role in ROLES},
        x_label="generation",
        y_label="tokens per second",
    )
    totals = report["throughput"]
    table_rows = [
        (
            role,
            totals[role]["tokens"],
            totals[role]["seconds"],
            totals[role]["tokens_per_second"],
            totals[role]["completion_tokens_per_second"],
        )
        for role in ROLES
    ]
    excluded = totals["excluded_generations"]
    caveat = (
        f" Generations {', '.join(map(str, excluded))} replayed answers from the journal "
        "after a resume and are left out."
        if excluded
        else ""
    )
    return (
        figure(
            chart,
            "Prompt and completion tokens per second of wall time in each role's "
            "stage (from its first request to its last answer; stages overlap).",
        )
        + table(("role", "tokens", "seconds", "tokens/s", "completion tokens/s"), table_rows)
        + note("Time is the stage's wall time, waiting on the engine included." + caveat)
    )


def _generation_table(report: Mapping[str, Any]) -> str:
    rows = []
    for row in report["generations"]:
        reasons = list(row["rejected"].items())
        reasons.sort(key=lambda kv: -kv[1])
        rows.append(
            (
                row["generation"],
                row["population"],
                row["tried"],
                row["accepted"],
                percent(row["acceptance"]),
                ", ".join(f"{reason} {n}" for reason, n in reasons[:3]),
                sum(row["prompt_tokens"].values()) + sum(row["completion_tokens"].values()),
                round(row["wall_seconds"], 2),
                row["replayed"],
            )
        )
    headers = (
        "generation",
        "population",
        "tried",
        "accepted",
        "acceptance",
        "top rejection reasons",
        "tokens",
        "seconds",
        "replayed",
    )
    return folded(f"{len(rows)} generations", table(headers, rows)) + note(
        "Replayed: answers taken from the journal after a resume."
    )
