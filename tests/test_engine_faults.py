"""Engine faults are the engine's, not the offspring's: a dead URL, an unserved model or an
empty model folder stop the run before anything is written; a server lost mid-run stops
it at a safe point, and the resumed run equals an uninterrupted one; a run says why it
stopped. Through the CLI, as a user runs it."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

from genetic_instruct.state.store import RunStore

from .conftest import STEADY_SANDBOX, dataset_records, run_cli
from .fault_proxy import FaultServer
from .styled_model import styled_answer


def _openai(run_dir: Path, url: str, *extra: str) -> list[str]:
    return [
        f"run_dir={run_dir}",
        "engine=openai",
        "models.default.path=styled",
        f"models.default.base_urls=[{url}]",
        "models.default.api_key_env=null",
        "progress=false",
        "evolution.target_size=500",
        "evolution.max_generations=3",
        "fitness.threshold=7",
        STEADY_SANDBOX,
        *extra,
    ]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_a_dead_url_is_one_line_and_exit_2_with_nothing_written(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_free_port()}/v1"
    done = run_cli(*_openai(tmp_path / "run", url))
    assert done.returncode == 2
    line = _one_error_line(done)
    assert url in line and "connection refused" in line and "models.default.base_urls[0]" in line
    assert not (tmp_path / "run").exists()


def test_a_model_the_server_does_not_serve_names_what_it_serves(tmp_path: Path) -> None:
    with FaultServer(answer=styled_answer, served=("Qwen/Qwen2.5-Coder-7B-Instruct",)) as server:
        done = run_cli(*_openai(tmp_path / "run", server.base_url))
    assert done.returncode == 2
    line = _one_error_line(done)
    assert "'styled' is not served there" in line and "Qwen/Qwen2.5-Coder-7B-Instruct" in line
    assert not (tmp_path / "run").exists()


def test_an_empty_model_folder_then_the_corrected_command(tmp_path: Path) -> None:
    empty = tmp_path / "model"
    empty.mkdir()
    run_dir = tmp_path / "run"
    done = run_cli(f"run_dir={run_dir}", f"models.default.path={empty}", "progress=false")
    assert done.returncode == 2
    assert "no config.json" in _one_error_line(done) and not run_dir.exists()
    fixed = run_cli(
        f"run_dir={run_dir}", "engine=scripted", "progress=false", "evolution.max_generations=1"
    )
    assert fixed.returncode == 0, fixed.stderr


def test_a_server_lost_mid_run_stops_it_and_the_resume_equals_an_uninterrupted_run(
    tmp_path: Path,
) -> None:
    port = _free_port()
    args = ("models.default.outage_deadline_s=1",)
    with FaultServer(answer=styled_answer, served=("styled",)) as whole:
        assert run_cli(*_openai(tmp_path / "whole", whole.base_url, *args)).returncode == 0
    # The server goes away after 30 answers: every later attempt is a dropped connection.
    dies = FaultServer(
        lambda prompt, attempt: "pass", answer=styled_answer, served=("styled",), port=port
    )
    answered = 0

    def plan(prompt: str, attempt: int) -> str:
        nonlocal answered
        answered += 1
        return "pass" if answered <= 30 else "close"

    dies.plan = plan
    with dies:
        lost = run_cli(*_openai(tmp_path / "run", dies.base_url, *args))
    assert lost.returncode == 75, lost.stderr
    line = _one_error_line(lost)
    assert "engine lost" in line and dies.base_url in line and "Resume" in line
    with FaultServer(answer=styled_answer, served=("styled",), port=port) as back:
        resumed = run_cli(*_openai(tmp_path / "run", back.base_url, *args))
    assert resumed.returncode == 0, resumed.stderr
    assert dataset_records(tmp_path / "run" / "dataset.jsonl") == dataset_records(
        tmp_path / "whole" / "dataset.jsonl"
    )


def test_a_server_lost_during_a_calibration_stops_it_in_one_line(tmp_path: Path) -> None:
    """`calibrate` treats a lost engine as `run` does: exit 75, its answers journaled."""
    answered = 0

    def plan(prompt: str, attempt: int) -> str:
        nonlocal answered
        answered += 1
        return "pass" if answered <= 4 else "close"

    run_dir = tmp_path / "run"
    with FaultServer(plan, answer=styled_answer, served=("styled",)) as dies:
        args = _openai(run_dir, dies.base_url, "models.default.outage_deadline_s=1")
        lost = run_cli("calibrate", *args, "calibration.tasks=4", "evolution.max_in_flight=1")
    assert lost.returncode == 75, lost.stderr
    line = _one_error_line(lost)
    assert "engine lost" in line and dies.base_url in line and "Resume" in line
    with RunStore(run_dir) as store:
        assert store.journal_keys()


def test_a_stalled_run_stops_with_its_top_rejections_and_a_short_one_says_why(
    tmp_path: Path,
) -> None:
    stalled = run_cli(
        f"run_dir={tmp_path / 'stalled'}",
        "engine=scripted",
        "progress=false",
        "models.default.engine_args.malformed_rate=1.0",
        "evolution.max_generations=0",
        "evolution.stall_generations=2",
    )
    assert stalled.returncode == 3
    assert "stalled: the last 2 generations accepted nothing" in stalled.stderr
    assert "instructor_" in stalled.stderr  # the top rejection reasons are named
    short = run_cli(
        f"run_dir={tmp_path / 'short'}",
        "engine=scripted",
        "progress=false",
        "evolution.max_generations=1",
    )
    assert short.returncode == 0
    report = json.loads((tmp_path / "short" / "report.json").read_text())
    assert report["run"]["end"]["reason"] == "max_generations"
    assert "of evolution.target_size=140" in report["run"]["end"]["message"]
    assert (
        "stopped at evolution.max_generations=1" in (tmp_path / "short" / "README.md").read_text()
    )
