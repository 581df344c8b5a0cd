"""Crash-safety: SIGKILL anywhere, SIGINT/SIGTERM, bad state, config changes on resume.

The CLI runs in child processes on the synthetic engine, which is deterministic, so an
interrupted run must end with exactly the population and dataset of an uninterrupted one.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from genetic_instruct.errors import ConfigError
from genetic_instruct.run.job import run
from genetic_instruct.state.database import STATE_FILE
from genetic_instruct.state.meta import FORCED_RESUMES
from genetic_instruct.state.store import RunStore

from .conftest import STEADY_SANDBOX, dataset_records, make_config, run_cli

RUN_ARGS = [
    "engine=scripted",
    "progress=false",
    "evolution.target_size=400",
    "evolution.max_generations=5",
    "evolution.offspring_per_colony=16",
    STEADY_SANDBOX,
]
# Where a run can die: per request, per sandbox run, per journal flush, once per generation.
PER_REQUEST = ("instructor", "coder", "judge", "execution", "journal")
PER_GENERATION = ("commit", "generation", "export")
CRASH_POINTS = PER_REQUEST + PER_GENERATION


# The soak's run: many small generations, since a kill late in a generation lets most of
# it finish first: 30 kills need about ten generations.
SOAK_ARGS = [
    *RUN_ARGS,
    "evolution.target_size=5000",
    "evolution.max_generations=12",
    "evolution.offspring_per_colony=4",
]


def _cli(
    run_dir: Path,
    *extra: str,
    crash_at: str | None = None,
    log: Path | None = None,
    base: list[str] = RUN_ARGS,
) -> subprocess.CompletedProcess[str]:
    """The test's run in `run_dir`; `log` records every request the engine receives."""
    args = [*base, f"run_dir={run_dir}", *extra]
    if log is not None:
        args.append(f"+models.default.engine_args.request_log={log}")
    return run_cli(*args, crash_at=crash_at)


def _state(run_dir: Path) -> tuple[list[str], set[str]]:
    store = RunStore(run_dir)
    try:
        return list(store.ids()), store.journal_keys()
    finally:
        store.close()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted run of the same config and seed."""
    run_dir = tmp_path_factory.mktemp("reference")
    result = _cli(run_dir)
    assert result.returncode == 0, result.stderr
    return run_dir


@pytest.fixture(scope="module")
def soak_reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("soak_reference")
    result = _cli(run_dir, base=SOAK_ARGS)
    assert result.returncode == 0, result.stderr
    return run_dir


SOAK_KILLS = 30  # about 40 s on 2 cores: each killed process pays its start-up (~1 s)
# GENETIC_INSTRUCT_SOAK_LOAD=N burns N CPUs beside the killed and resumed runs (not beside
# the reference): the check, by hand, that a loaded machine changes no record.
SOAK_LOAD = int(os.environ.get("GENETIC_INSTRUCT_SOAK_LOAD", "0"))


@contextmanager
def cpu_load(processes: int) -> Iterator[None]:
    """`processes` Python processes spinning on a CPU each, for the block."""
    burners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)
    ]
    try:
        yield
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


def _random_point(rng: np.random.Generator) -> tuple[str, int]:
    """A kill within the next stage or two: at a random request of a role, or the first
    journal flush or commit. (Each later flush and each kill after a commit lets whole
    stages finish, and the run has only so many to give.)"""
    point = str(rng.choice(PER_REQUEST + ("commit",)))
    return point, 1 if point in ("journal", "commit") else int(rng.integers(1, 4))


def test_soak_sigkill_at_30_random_points_loses_nothing_and_repeats_no_call(
    soak_reference: Path, tmp_path: Path
) -> None:
    """Every stage and the commit are hit once, then random points until 30 kills; the
    run then ends with exactly the records of an uninterrupted one, and verifies."""
    rng = np.random.default_rng(2026)
    first = [(point, int(rng.integers(1, 6))) for point in PER_REQUEST]
    first += [(point, 1) for point in PER_GENERATION]
    run_dir = tmp_path / "run"
    log = tmp_path / "requests.log"
    killed: list[str] = []
    with cpu_load(SOAK_LOAD):
        for attempt in range(SOAK_KILLS + 15):  # a point past the run's end kills nothing
            if len(killed) == SOAK_KILLS:
                break
            point, count = first[attempt] if attempt < len(first) else _random_point(rng)
            journal_before = _state(run_dir)[1] if (run_dir / STATE_FILE).exists() else set()
            sent_before = len(log.read_text().splitlines()) if log.exists() else 0
            result = _cli(run_dir, crash_at=f"{point}:{count}", log=log, base=SOAK_ARGS)
            assert result.returncode in (0, -signal.SIGKILL), result.stderr
            if result.returncode == -signal.SIGKILL:
                killed.append(point)
            sent_now = log.read_text().splitlines()[sent_before:]
            assert not journal_before & set(sent_now), (
                f"a journaled request was sent again ({point})"
            )
        final = _cli(run_dir, log=log, base=SOAK_ARGS)
    assert len(killed) == SOAK_KILLS
    assert set(killed) == set(CRASH_POINTS)  # every stage and the commit were interrupted
    assert final.returncode == 0, final.stderr
    assert _state(run_dir)[0] == _state(soak_reference)[0]  # same ids, same order
    assert dataset_records(run_dir / "dataset.jsonl") == dataset_records(
        soak_reference / "dataset.jsonl"
    )
    verify = run_cli("verify", f"run_dir={run_dir}")
    assert verify.returncode == 0, verify.stderr


def test_a_resume_replays_sandbox_verdicts_and_judges_what_the_run_judged(
    reference: Path, tmp_path: Path
) -> None:
    """Killed at generation 1's commit, then resumed on a sandbox where every program now
    times out (a machine loaded past the wall clock): the verdicts come from the journal,
    so the judge is asked what it was asked before and the records are the reference's."""
    run_dir = tmp_path / "run"
    one = "evolution.max_generations=1"
    killed = _cli(run_dir, one, crash_at="commit:2")  # the seeds' commit is the first
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    with RunStore(run_dir) as store:
        assert store.generation == 0 and store.journal_keys()
    overloaded = [sys.executable, str(Path(__file__).with_name("overloaded_sandbox.py"))]
    resumed = run_cli(*RUN_ARGS, f"run_dir={run_dir}", one, command=overloaded)
    assert resumed.returncode == 0, resumed.stderr
    expected = [r for r in dataset_records(reference / "dataset.jsonl") if r["generation"] == 1]
    assert expected and dataset_records(run_dir / "dataset.jsonl") == expected


def test_a_lost_engine_stops_the_run_in_one_line_and_the_resume_is_whole(
    reference: Path, tmp_path: Path
) -> None:
    """An engine gone mid-run (the synthetic one, after 150 answers): exit 75, one line, the
    journal kept; once it is back, the run ends with the uninterrupted run's records."""
    run_dir = tmp_path / "run"
    lost = _cli(run_dir, "+models.default.engine_args.lost_after=150")
    assert lost.returncode == 75, lost.stderr
    lines = [line for line in lost.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "engine lost: scripted: gone after 150" in lines[0], lost.stderr
    assert _state(run_dir)[1]  # answers journaled
    assert _cli(run_dir).returncode == 0
    assert _state(run_dir)[0] == _state(reference)[0]
    assert dataset_records(run_dir / "dataset.jsonl") == dataset_records(
        reference / "dataset.jsonl"
    )


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_sigint_and_sigterm_stop_cleanly_and_resume(
    signum: int, reference: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    args = [*RUN_ARGS, f"run_dir={run_dir}", "+models.default.engine_args.latency_s=0.01"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "genetic_instruct.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (run_dir / STATE_FILE).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # into the first generation's requests
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, stderr
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Resume with the same command" in lines[0]
    assert _cli(run_dir).returncode == 0
    assert _state(run_dir)[0] == _state(reference)[0]


def test_data_changing_config_is_refused_on_resume_unless_forced(tmp_path: Path) -> None:
    base = [
        "engine=scripted",
        f"run_dir={tmp_path / 'run'}",
        "progress=false",
        "evolution.target_size=1000",
        "evolution.max_generations=1",
    ]
    run(make_config(*base))
    with pytest.raises(ConfigError) as error:
        run(make_config(*base, "evolution.mutation_rate=0.9", "roles.coder.temperature=0.1"))
    message = str(error.value)
    assert "evolution.mutation_rate (0.5 -> 0.9)" in message
    assert "roles.coder.temperature" in message and "force_resume=true" in message
    # Settings that do not change what is generated are fine.
    grown = run(make_config(*base[:-1], "evolution.max_generations=2", "export.include_seeds=true"))
    assert grown.generation == 2
    forced = run(
        make_config(
            *base[:-1],
            "evolution.max_generations=3",
            "evolution.mutation_rate=0.9",
            "force_resume=true",
        )
    )
    assert forced.generation == 3
    assert RunStore(tmp_path / "run").meta.get(FORCED_RESUMES)


def _bad_state_cli(run_dir: Path) -> subprocess.CompletedProcess[str]:
    return _cli(run_dir)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "version"])
def test_damaged_state_exits_2_and_is_left_as_it_was(
    damage: str, reference: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    state = run_dir / STATE_FILE
    original = (reference / STATE_FILE).read_bytes()
    if damage == "garbage":
        state.write_bytes(b"\x00garbage" * 1000)
    elif damage == "truncated":
        state.write_bytes(original[: len(original) // 3])
    else:
        state.write_bytes(original)
        db = sqlite3.connect(state)
        db.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
        db.commit()
        db.close()
    before = state.read_bytes()
    result = _bad_state_cli(run_dir)
    assert result.returncode == 2, result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and str(state) in lines[0], result.stderr
    assert state.read_bytes() == before


def _mount_tmpfs(path: Path, options: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True
    )
    return done.returncode == 0


@pytest.fixture
def small_disk(tmp_path: Path):
    mount = tmp_path / "disk"
    if not _mount_tmpfs(mount, "size=256k"):
        pytest.skip("needs root to mount a small tmpfs (a full disk)")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_exits_2_and_the_run_resumes_once_there_is_room(
    small_disk: Path, reference: Path
) -> None:
    run_dir = small_disk / "run"
    result = _cli(run_dir)
    assert result.returncode == 2, result.stderr
    assert "full" in result.stderr
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    assert _cli(run_dir).returncode == 0
    assert _state(run_dir)[0] == _state(reference)[0]


def test_a_read_only_run_directory_exits_2(reference: Path, tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    if not _mount_tmpfs(ro, "size=64m"):
        pytest.skip("needs root to mount a read-only tmpfs")
    try:
        (ro / "run").mkdir()
        (ro / "run" / STATE_FILE).write_bytes((reference / STATE_FILE).read_bytes())
        subprocess.run(["mount", "-o", "remount,ro", str(ro)], check=True)
        result = _cli(ro / "run", "evolution.max_generations=9")
        assert result.returncode == 2, result.stderr
        assert "readonly" in result.stderr.replace("-", "").replace(" ", "").lower()
    finally:
        subprocess.run(["umount", "-l", str(ro)], check=False)
