"""Runs in C++, Java, JavaScript, Rust and Go against an HTTP server whose answers the test
controls (engine=openai, tests/language_model.py): the exported rows are in the language,
compile and pass their tests in the sandbox; wrong programs are rejected as failed, ones
that do not compile as compile_error; a run in two languages exports both, with counts in
the card.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genetic_instruct.sandbox import SandboxLimits, run_many

from .conftest import STEADY_SANDBOX, run_cli
from .fault_proxy import FaultServer
from .language_model import LanguageModel
from .test_sandbox_languages import LANGUAGES, needs

RUN = [
    "engine=openai",
    "models.default.path=languages",
    "models.default.api_key_env=null",
    "progress=false",
    "seed=3",
    "evolution.mutation_rate=0.5",
    "evolution.offspring_per_colony=10",
    "evolution.colonies=1",
    "evolution.max_generations=1",
    "evolution.target_size=1000",
    "fitness.threshold=5",
    "dedup.threshold=0.99",  # tasks differ from their seed in a function's name only
    "execution.mutants=1",
    "execution.min_pass_fraction=1.0",  # wrong programs go (the demo only records them)
    "execution.oracle_seeds=0",
    STEADY_SANDBOX,
]


def run(tmp_path: Path, *settings: str) -> tuple[Path, str]:
    run_dir = tmp_path / "run"
    with FaultServer(answer=LanguageModel(), served=("languages",)) as server:
        done = run_cli(
            *RUN, *settings, f"run_dir={run_dir}", f"models.default.base_urls=[{server.base_url}]"
        )
    assert done.returncode == 0, done.stderr[-3000:]
    return run_dir, done.stdout


def rows(run_dir: Path) -> list[dict]:
    lines = (run_dir / "dataset.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def rejected(run_dir: Path) -> dict[str, int]:
    report = json.loads((run_dir / "report.json").read_text())
    return report["acceptance"]["rejected"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_run_in_each_language_exports_rows_that_pass_and_rejects_the_rest(
    tmp_path: Path, language: str
) -> None:
    needs(language)
    run_dir, _ = run(tmp_path, f"language={language}")
    exported = rows(run_dir)
    assert exported and {row["language"] for row in exported} == {language}
    fence = "```" + {"javascript": "javascript"}.get(language, language)
    assert all(row["output"].startswith(fence) for row in exported)
    results = run_many(
        [
            (row["output"].split("\n", 1)[1].rsplit("```", 1)[0], row["tests"], language)
            for row in exported
        ],
        SandboxLimits(wall_seconds=30),
    )
    assert [r.status for r in results] == ["passed"] * len(exported)
    reasons = rejected(run_dir)
    assert reasons.get("tests_failed", 0) > 0 and reasons.get("tests_compile_error", 0) > 0


def test_a_run_in_two_languages_exports_both_and_the_card_counts_each(tmp_path: Path) -> None:
    for language in ("cpp", "go"):
        needs(language)
    run_dir, _ = run(tmp_path, "languages={cpp: 0.5, go: 0.5}", "evolution.mutation_rate=0.7")
    exported = rows(run_dir)
    counts = {
        language: sum(r["language"] == language for r in exported) for language in ("cpp", "go")
    }
    assert counts["cpp"] > 0 and counts["go"] > 0 and sum(counts.values()) == len(exported)
    card = (run_dir / "README.md").read_text()
    assert f"| written in C++ | {counts['cpp']} |" in card
    assert f"| written in Go | {counts['go']} |" in card
    # one generation: every parent is a seed, whose id names its language (cpp-0007)
    translated = [r for r in exported if r["method"] == "translation"]
    assert translated and all(r["parents"][0].split("-")[0] != r["language"] for r in translated)
