"""A sweep on a real one-node Slurm cluster, as the README promises: each point a Slurm
job; a job that times out is requeued and resumes; the datasets equal uninterrupted runs.

The cluster is Debian's slurmctld, slurmd and munge, brought up by .ci/slurm-up (which
installs them when missing, and needs root). Where that cannot happen the test skips with
the reason, except under CI, where it fails: CI must run it.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import CLI, dataset_records, run_cli
from .test_resume import RUN_ARGS

REPO = Path(__file__).resolve().parents[1]
SEEDS = (11, 12)
# Slurm signals a job signal_delay_s before its time limit (1 min: the shortest Slurm
# has), so SIGUSR2 comes ~20 s in; ~400 answers at 50 ms make each point outlast that,
# and its second attempt, resuming, finish.
LAUNCHER = [
    "hydra/launcher=slurm",
    "hydra.launcher.partition=debug",
    "hydra.launcher.gpus_per_node=0",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.mem_gb=2",
    "hydra.launcher.timeout_min=1",
    "hydra.launcher.signal_delay_s=40",
    "+models.default.engine_args.latency_s=0.05",
]
SWEEP_TIMEOUT_S = 300


def unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run this test (.ci/run sets it up)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def slurm() -> None:
    if os.geteuid() != 0:
        unavailable("a local Slurm cluster needs root (.ci/slurm-up)")
    try:
        import hydra_plugins.hydra_submitit_launcher  # noqa: F401
    except ImportError:
        unavailable("hydra/launcher=slurm needs `pip install hydra-submitit-launcher`")
    done = subprocess.run([str(REPO / ".ci" / "slurm-up")], capture_output=True, text=True)
    if done.returncode != 0:
        unavailable(f"could not start a local Slurm cluster: {done.stderr.strip()[-500:]}")


class Requeues:
    """Starts requeued jobs at once instead of after Slurm's ~2 min wait for BeginTime.

    Only once a job has waited RELEASE_AFTER_S: slurmd refuses ("Job credential revoked")
    a job started within the second its previous run's credential was revoked. scontrol
    calls the field StartTime (`BeginTime=now` is refused as an unsupported update).
    """

    RELEASE_AFTER_S = 3.0

    def __init__(self) -> None:
        self.waiting_since: dict[str, float] = {}
        self.arrays: set[str] = set()  # every job array seen, to cancel if the test fails

    def poll(self) -> None:
        queue = subprocess.run(
            ["squeue", "-h", "-o", "%i %T %r"], capture_output=True, text=True
        ).stdout.split("\n")
        now = time.monotonic()
        for job, state, reason in (line.split(" ", 2) for line in queue if line):
            self.arrays.add(job.split("_")[0])
            if state != "PENDING" or reason != "BeginTime":
                self.waiting_since.pop(job, None)
            elif now - self.waiting_since.setdefault(job, now) >= self.RELEASE_AFTER_S:
                subprocess.run(["scontrol", "update", f"JobId={job}", "StartTime=now"])

    def cancel(self) -> None:
        if self.arrays:
            subprocess.run(["scancel", *sorted(self.arrays)], check=False)


def test_a_slurm_sweep_with_a_requeued_point_ends_as_uninterrupted_runs(slurm, tmp_path):
    root = tmp_path / "sweep"
    seeds = ",".join(map(str, SEEDS))
    sweep = subprocess.Popen(
        [*CLI, "-m", *LAUNCHER, *RUN_ARGS, f"seed={seeds}", f"run_dir={root}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    requeues, deadline = Requeues(), time.monotonic() + SWEEP_TIMEOUT_S
    while sweep.poll() is None and time.monotonic() < deadline:
        requeues.poll()
        time.sleep(0.5)
    if sweep.poll() is None:
        sweep.kill()
        requeues.cancel()
    stdout, stderr = sweep.communicate()
    assert sweep.returncode == 0, stderr[-3000:]

    logs = "".join(p.read_text() for p in (root / ".submitit").rglob("*_log.err"))
    assert "timed-out" in logs  # submitit's word when SIGUSR2 came near the time limit
    assert "comparison of 2 runs" in stdout
    for seed in SEEDS:
        (point,) = [p.parent for p in root.glob(f"*seed={seed}*/state.sqlite")]
        solo = tmp_path / f"solo-{seed}"
        alone = run_cli(*RUN_ARGS, f"seed={seed}", f"run_dir={solo}")
        assert alone.returncode == 0, alone.stderr
        assert dataset_records(point / "dataset.jsonl") == dataset_records(solo / "dataset.jsonl")
