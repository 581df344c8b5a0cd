"""Models named as vLLM users name them: a hub id resolves through huggingface_hub's cache.

This machine has no hub access, so the hub is a cache laid out as huggingface_hub lays it
out (HF_HOME/hub/models--org--name/snapshots/<commit>/, refs/main naming the commit),
holding the embedded model, and every command runs with HF_HUB_OFFLINE=1 set here, as a
user without network would. Commands run in subprocesses: huggingface_hub reads its
environment once, at import.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genetic_instruct.config import EMBEDDED_MODEL
from genetic_instruct.llm.embedded import resolve_model_path

from .conftest import MODEL_DTYPE_OVERRIDE, run_cli

HUB_ID = "tiny-org/smollm2-chat"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="module")
def hf_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An HF_HOME whose hub cache holds HUB_ID (the embedded model's files, linked)."""
    model = Path(resolve_model_path(EMBEDDED_MODEL))
    home = tmp_path_factory.mktemp("hf_home")
    repo = home / "hub" / f"models--{HUB_ID.replace('/', '--')}"
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    for file in model.iterdir():
        (snapshot / file.name).symlink_to(file)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    return home


def _offline(hf_home: Path) -> dict[str, str | None]:
    """The environment of a user whose hub cache is `hf_home`, offline, without a token."""
    return {"HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1", "HF_TOKEN": None}


def test_an_unknown_hub_id_is_one_line_naming_it_and_what_to_do(
    hf_home: Path, tmp_path: Path
) -> None:
    done = run_cli(
        "models.default.path=nobody/no-such-model",
        f"run_dir={tmp_path / 'run'}",
        cwd=tmp_path,
        env=_offline(hf_home),
    )
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "models.default.path nobody/no-such-model" in line
    assert "HF_HUB_OFFLINE is set" in line and "hf download nobody/no-such-model" in line
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_a_missing_folder_is_still_named_as_a_folder(hf_home: Path, tmp_path: Path) -> None:
    done = run_cli(
        f"models.default.path={tmp_path / 'models' / 'mine'}",
        f"run_dir={tmp_path / 'run'}",
        cwd=tmp_path,
        env=_offline(hf_home),
    )
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "no such folder" in line and str(tmp_path / "models" / "mine") in line


@pytest.mark.model
def test_a_cached_hub_id_runs_offline_on_vllm(hf_home: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    done = run_cli(
        f"models.default.path={HUB_ID}",
        f"run_dir={run_dir}",
        "progress=false",
        "evolution.target_size=126",
        "evolution.max_generations=1",
        "evolution.colonies=1",
        "evolution.offspring_per_colony=2",
        "execution.mutants=0",
        "models.default.kv_cache_gib=1",
        MODEL_DTYPE_OVERRIDE,
        cwd=tmp_path,
        env=_offline(hf_home),
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    saved = (run_dir / ".hydra" / "config.yaml").read_text()
    assert f"path: {HUB_ID}" in saved
    stats = json.loads((run_dir / "report.json").read_text())
    assert stats["run"]["generation"] >= 1, stats["run"]
