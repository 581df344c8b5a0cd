"""Shared fixtures: configs composed through Hydra, and one real engine per test session.

The real engine (SmolLM2-135M on vLLM's CPU build) takes ~30 s to load, so every test that
needs it shares the session fixture `embedded_engine`; tests marked `model` use it.

`make test` runs two pytest-xdist workers, one per core: every test that starts engines or
a Ray cluster goes to one of them (a group, so the session engine loads once and engines
never run two at a time), and the other worker takes the rest of the suite meanwhile.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from genetic_instruct import faults
from genetic_instruct.cli.composition import to_config
from genetic_instruct.config import Config
from genetic_instruct.files.shipped import conf_dir
from genetic_instruct.state.database import LOCK_FILE

from .vllm_server import MODEL_DTYPE

ENGINE_GROUP = "engines"
# Runs compared record for record (resumed vs uninterrupted) must not depend on the load of
# a shared CI machine: the judge sees each execution's result, and a trivial program that
# overran the default 10 s wall clock while vLLM loaded beside it changed its judge's prompt.
# The CPU limit still stops a program that loops, deterministically.
STEADY_SANDBOX = "execution.wall_seconds=120"
# The CLI's spelling of the embedded model's dtype under test (see tests/vllm_server.py).
MODEL_DTYPE_OVERRIDE = f"models.default.dtype={MODEL_DTYPE}"


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("model") or item.path.name == "test_ray_executor.py":
            item.add_marker(pytest.mark.xdist_group(ENGINE_GROUP))


def make_config(*overrides: str) -> Config:
    """Compose conf/config.yaml with overrides, exactly as the CLI does."""
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return to_config(compose(config_name="config", overrides=list(overrides)))


@pytest.fixture
def scripted_config(tmp_path: Path) -> Config:
    """A small run on the synthetic engine, in a fresh run directory."""
    return make_config(
        "engine=scripted",
        f"run_dir={tmp_path / 'run'}",
        "progress=false",
        "evolution.target_size=200",
        "evolution.max_generations=3",
        "execution.min_pass_fraction=1.0",
        "fitness.threshold=6",
        "evolution.offspring_per_colony=12",
    )


@pytest.fixture(scope="session")
def embedded_engine() -> Iterator[object]:
    """The real embedded model, loaded once for the whole session."""
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    from genetic_instruct.config import ModelConfig
    from genetic_instruct.llm.vllm_engine import VLLMEngine

    engine = VLLMEngine(ModelConfig(dtype=MODEL_DTYPE))
    yield engine
    engine.close()


def dataset_records(path: Path) -> list[dict]:
    """The exported records, minus sandbox wall times (the only field runs may not repeat)."""
    import json

    records = [json.loads(line) for line in Path(path).read_text().splitlines()]
    for record in records:
        if record.get("execution"):
            record["execution"].pop("runtime_s")
    return records


def sandbox_pythonpath() -> str:
    """PYTHONPATH for a sandbox caller started as another user, whose interpreter may be the
    system's (this venv's may sit in a home it cannot enter): the package under test, and
    the folder that holds the sandbox's one dependency, pyseccomp (pure Python)."""
    import pyseccomp

    import genetic_instruct

    folders = (Path(genetic_instruct.__file__).parents[1], Path(pyseccomp.__file__).parent)
    return os.pathsep.join(map(str, folders))


def judge_prompt(instruction: str, solution: str) -> str:
    """The judge role's prompt about a task and a solution (no tests, not executed)."""
    from genetic_instruct.evolution.candidate import Candidate
    from genetic_instruct.evolution.operators import MUTATION, OffspringPlan
    from genetic_instruct.evolution.roles import JudgeRole
    from genetic_instruct.prompts import load_templates

    plan = OffspringPlan(0, MUTATION, (), 1, "add_constraints")
    role = JudgeRole(load_templates()["judge"], structured_output=True)
    return role.prompt(Candidate(plan, instruction, solution=solution))


CLI = (sys.executable, "-m", "genetic_instruct.cli")


def run_cli(
    *args: str,
    cwd: Path | None = None,
    env: Mapping[str, str | None] | None = None,
    crash_at: str | None = None,
    timeout: float = 300,
    command: Sequence[str] = CLI,
) -> subprocess.CompletedProcess[str]:
    """`genetic-instruct ARGS` in a child process, as a user runs it; its output as text.

    It inherits this process's environment, changed by `env` (None removes a variable),
    but never a crash point (faults.py) unless `crash_at` names one. `command` runs another
    front end of the same CLI (tests/overloaded_sandbox.py). The timeout only stops a hang.
    """
    environment = {key: value for key, value in os.environ.items() if key != faults.ENV}
    if crash_at:
        environment[faults.ENV] = crash_at
    for key, value in (env or {}).items():
        if value is None:
            environment.pop(key, None)
        else:
            environment[key] = value
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=environment
    )


def one_error(result: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a command refused as bad input (exit 2)."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("genetic-instruct: error: "), result.stderr
    return lines[0]


def run_snapshot(folder: Path) -> dict[str, bytes]:
    """Every file of a run, but the lock's note of its last holder (run/lock.py)."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file() and p.name != LOCK_FILE
    }


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """One local Ray instance for a module (pytestmark = usefixtures("local_ray")): its runs
    and actors join it instead of starting their own."""
    ray = pytest.importorskip("ray")
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level="ERROR",
    )
    yield
    ray.shutdown()
