"""End to end against an OpenAI-compatible server answering the way real models write
(tests/styled_model.py): think blocks with drafts, reasoning_content, chatter, shell blocks,
harmony channels, truncated answers, draft verdicts. Run through the CLI, as a user would."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from genetic_instruct.state.store import RunStore

from .conftest import run_cli
from .fault_proxy import FaultServer
from .styled_model import AFTER_EXAMPLE, LEAKS, styled_answer


def _run(run_dir: Path, base_url: str) -> subprocess.CompletedProcess[str]:
    return run_cli(
        f"run_dir={run_dir}",
        "engine=openai",
        "models.default.path=styled",
        f"models.default.base_urls=[{base_url}]",
        "models.default.api_key_env=null",
        "progress=false",
        "evolution.max_generations=4",  # enough records to hold every test style
        "evolution.target_size=500",
        "fitness.threshold=7",
        "execution.enabled=true",
    )


def test_exported_records_hold_exactly_the_final_answers(tmp_path: Path) -> None:
    with FaultServer(answer=styled_answer, served=("styled",)) as server:
        done = _run(tmp_path / "run", server.base_url)
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in (tmp_path / "run" / "dataset.jsonl").open()]
    assert len(records) >= 8
    for record in records:
        text = json.dumps(record, ensure_ascii=False)
        assert not [leak for leak in LEAKS if leak in text], record["instruction"]
        assert record["execution"]["status"] == "passed"
    erroneous = [r for r in records if r["method"] == "erroneous_code"]
    assert erroneous and all(
        "erroneous code" in r["instruction"] and "```python\ndef " in r["instruction"]
        for r in erroneous
    )
    with_example = [r for r in records if "For example:\n\n```python" in r["instruction"]]
    assert with_example and all(r["instruction"].endswith(AFTER_EXAMPLE) for r in with_example)
    tests = [r["tests"] for r in records]
    assert any("wasSuccessful()" in t for t in tests)  # unittest classes, run as such
    assert any("() or True" in t for t in tests)  # pytest-style functions
    rejected: dict[str, int] = {}
    for stats in RunStore(tmp_path / "run").generation_stats():
        for reason, count in stats.rejected.items():
            rejected[reason] = rejected.get(reason, 0) + count
    # (which roles' answers get cut depends on the seeds; a cut one kept would show
    # CUT-HERE, one of the LEAKS checked above)
    assert rejected.get("instructor_truncated", 0) > 0 and rejected.get("judge_truncated", 0) > 0
    # The answers cut by max_tokens can be seen: the first three, as the model sent them.
    shown = run_cli("inspect", f"run_dir={tmp_path / 'run'}", "--rejected", "instructor_truncated")
    assert shown.returncode == 0, shown.stderr
    headers = [line for line in shown.stdout.splitlines() if line.startswith("--- ")]
    assert 0 < len(headers) <= 3 and all("instructor request" in line for line in headers)
    assert "CUT-HERE" in shown.stdout
