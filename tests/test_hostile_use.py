"""The run directory is the truth: refused commands leave it alone, lost state is never
papered over, read-only runs stay readable, seeds are screened for benchmark problems.

Each test drives the CLI in child processes on the synthetic engine, as a user would.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from genetic_instruct.dedup.decontamination import humaneval_source
from genetic_instruct.files.shipped import builtin_seeds_path
from genetic_instruct.state.database import STATE_FILE

from .conftest import one_error, run_cli, run_snapshot

SMALL = ["engine=scripted", "progress=false", "evolution.max_generations=1"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small finished run, copied by each test that changes it."""
    run_dir = tmp_path_factory.mktemp("finished") / "run"
    result = run_cli(*SMALL, f"run_dir={run_dir}")
    assert result.returncode == 0, result.stderr
    return run_dir


@pytest.fixture
def run_dir(finished: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(finished, copy)
    return copy


def test_a_refused_resume_leaves_the_runs_record_of_its_settings_alone(run_dir: Path) -> None:
    before = run_snapshot(run_dir)
    error = one_error(run_cli(*SMALL, f"run_dir={run_dir}", "evolution.mutation_rate=0.9"))
    assert "evolution.mutation_rate (0.5 -> 0.9)" in error
    assert run_snapshot(run_dir) == before
    assert run_cli("report", f"run_dir={run_dir}").returncode == 0
    assert json.loads((run_dir / "report.json").read_text())["settings"]["mutation_rate"] == 0.5
    assert run_cli("export", f"run_dir={run_dir}").returncode == 0
    assert "mutation rate 0.5;" in (run_dir / "README.md").read_text()


@pytest.mark.parametrize("loss", ["emptied", "deleted"])
def test_lost_state_beside_a_dataset_is_refused_and_fresh_moves_the_old_run_aside(
    loss: str, run_dir: Path
) -> None:
    state, dataset = run_dir / STATE_FILE, run_dir / "dataset.jsonl"
    if loss == "emptied":
        state.write_bytes(b"")
    else:
        state.unlink()
    before = run_snapshot(run_dir)
    for command in ("verify", "export"):
        error = one_error(run_cli(command, f"run_dir={run_dir}"))
        assert f"{state}: no run state here" in error
    error = one_error(run_cli(*SMALL, f"run_dir={run_dir}"))
    assert f"{state}: missing or empty, but {dataset} holds a dataset" in error
    assert "fresh=true" in error
    assert run_snapshot(run_dir) == before  # nothing rewritten, nothing created
    assert run_cli(*SMALL, f"run_dir={run_dir}", "fresh=true").returncode == 0
    (aside,) = run_dir.glob("superseded-*")
    assert run_snapshot(aside) == before  # every old file kept, byte for byte
    assert run_cli("verify", f"run_dir={run_dir}").returncode == 0


def test_a_read_only_run_can_be_inspected_verified_reported_and_exported_elsewhere(
    run_dir: Path, tmp_path: Path
) -> None:
    """On a read-only bind mount (root, in a private mount namespace: chmod stops no root)."""
    out = tmp_path / "out"
    commands = {
        "verify": ["verify"],
        "inspect": ["inspect"],
        "report": ["report", f"report_dir={out}"],
        "export": ["export", f"export.path={out / 'data.jsonl'}"],
        "report_in_place": ["report"],
        "run": [*SMALL, "evolution.max_generations=2"],
    }
    script = [f"mount --bind -o ro {run_dir} {run_dir} || exit 90"]
    for name, args in commands.items():
        argv = " ".join(f"'{a}'" for a in [sys.executable, "-m", "genetic_instruct.cli", *args])
        script.append(
            f"{argv} 'run_dir={run_dir}' >{tmp_path / name}.out 2>&1; echo $? >{tmp_path / name}.rc"
        )
    verified = run_cli("verify", f"run_dir={run_dir}").stdout
    records = len((run_dir / "dataset.jsonl").read_text().splitlines())
    before = run_snapshot(run_dir)
    done = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", "\n".join(script)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode == 90 or (done.returncode != 0 and "unshare" in done.stderr):
        pytest.skip(f"needs root to bind-mount read-only: {done.stderr.strip()}")

    def outcome(name: str) -> tuple[int, str]:
        return int((tmp_path / f"{name}.rc").read_text()), (tmp_path / f"{name}.out").read_text()

    assert outcome("verify") == (0, verified)
    assert outcome("inspect")[0] == 0 and "population" in outcome("inspect")[1]
    assert outcome("report") == (0, f"{out / 'report.html'}\n")
    code, text = outcome("export")
    assert code == 0 and text.startswith(f"exported {records} records")
    assert (out / "data.jsonl").read_bytes() == (run_dir / "dataset.jsonl").read_bytes()
    for name, key in (("report_in_place", "report_dir="), ("run", "read-only")):
        code, text = outcome(name)
        assert code == 2 and len(text.splitlines()) == 1 and key in text, text
        assert "not a usable state database" not in text
    assert run_snapshot(run_dir) == before


def _humaneval_prompts(count: int) -> list[str]:
    with gzip.open(humaneval_source().path, "rt", encoding="utf-8") as problems:
        return [json.loads(line)["prompt"] for line, _ in zip(problems, range(count))]


def test_seeds_from_a_benchmark_are_refused_or_kept_out_of_every_export(tmp_path: Path) -> None:
    own = builtin_seeds_path().read_text(encoding="utf-8").splitlines()[:20]
    leaked = [json.dumps({"instruction": p, "solution": "pass"}) for p in _humaneval_prompts(2)]
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text("\n".join([*own[:4], *leaked, *own[4:]]) + "\n")
    run_dir = tmp_path / "run"
    args = [*SMALL, f"seeds={seeds}", f"run_dir={run_dir}", "export.include_seeds=true"]
    error = one_error(run_cli(*args))
    assert f"{seeds}:5: seed " in error and "humaneval:HumanEval/0" in error
    assert "2 of 22 seeds match" in error and "allow_contaminated_seeds=true" in error
    assert not run_dir.exists()
    assert run_cli(*args, "decontamination.allow_contaminated_seeds=true").returncode == 0
    exported = [json.loads(line) for line in (run_dir / "dataset.jsonl").read_text().splitlines()]
    instructions = {r["instruction"] for r in exported if r["origin"] == "seed"}
    assert len(instructions) == 20
    assert not instructions & {json.loads(s)["instruction"] for s in leaked}
    assert "2 matched and were kept as parents only" in (run_dir / "README.md").read_text()


def test_decontaminate_checks_against_the_runs_own_sets_and_says_so(tmp_path: Path) -> None:
    bench = tmp_path / "bench.jsonl"
    bench.write_text(json.dumps({"prompt": "Compute the airspeed of an unladen swallow"}) + "\n")
    run_dir = tmp_path / "run"
    sets = [
        "decontamination.humaneval=false",
        f"decontamination.benchmarks=[{{name: mine, path: {bench}}}]",
    ]
    assert run_cli(*SMALL, f"run_dir={run_dir}", *sets).returncode == 0
    lines = (run_dir / "dataset.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    with bench.open("a") as out:  # the benchmark's next release holds a record of the dataset
        out.write(json.dumps({"prompt": first["instruction"]}) + "\n")
    result = run_cli("decontaminate", f"run_dir={run_dir}")
    assert result.returncode == 0, result.stderr
    saved = run_dir / ".hydra" / "config.yaml"
    assert f"against mine (the run's sets, from {saved}" in result.stdout
    assert f"dropped 1, kept {len(lines) - 1}" in result.stdout
    given = run_cli("decontaminate", f"run_dir={run_dir}", "decontamination.humaneval=true")
    assert "against humaneval (the sets given on the command line" in given.stdout


def test_resume_compares_seed_tasks_by_content_and_engine_args_that_shape_answers(
    run_dir: Path, tmp_path: Path
) -> None:
    same = tmp_path / "moved.jsonl"
    shutil.copy(builtin_seeds_path(), same)
    other = tmp_path / "other.jsonl"
    other.write_text("\n".join(builtin_seeds_path().read_text().splitlines()[1:]) + "\n")
    base = [*SMALL, f"run_dir={run_dir}"]
    error = one_error(run_cli(*base, "models.default.engine_args.malformed_rate=0.5"))
    assert "models.default.engine_args.malformed_rate (0.1 -> 0.5)" in error
    error = one_error(run_cli(*base, f"seeds={other}"))
    assert "seeds.sha256" in error
    assert "seeds: builtin" in (run_dir / ".hydra" / "config.yaml").read_text()
    # Throughput-only engine arguments and a moved seed file of the same tasks are fine.
    assert run_cli(*base, "+models.default.engine_args.latency_s=0.001").returncode == 0
    assert run_cli(*base, f"seeds={same}").returncode == 0
    assert f"seeds: {same}" in (run_dir / ".hydra" / "config.yaml").read_text()


def test_a_first_start_whose_engine_fails_does_not_block_the_corrected_command(
    tmp_path: Path,
) -> None:
    run_dir = tmp_path / "run"
    failed = run_cli(
        "engine=openai",
        "progress=false",
        "models.default.path=served",
        "models.default.base_urls=[http://127.0.0.1:9/v1]",
        f"run_dir={run_dir}",
        env={"OPENAI_API_KEY": None},  # unset: the engine must refuse, naming it
    )
    assert "OPENAI_API_KEY" in one_error(failed)
    assert not run_dir.exists()  # engines are checked before anything is written
    corrected = run_cli(*SMALL, f"run_dir={run_dir}")
    assert corrected.returncode == 0, corrected.stderr
    assert "path: scripted" in (run_dir / ".hydra" / "config.yaml").read_text()
