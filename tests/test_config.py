"""Configuration: defaults valid, bad values named by key, CLI exits 2 with one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from genetic_instruct.config import Config
from genetic_instruct.config_checks import validate
from genetic_instruct.errors import ConfigError

from .conftest import make_config, run_cli

REPO = Path(__file__).resolve().parent.parent


def test_default_config_is_the_embedded_demo() -> None:
    cfg = make_config()
    validate(cfg)
    assert cfg.models["default"].path.startswith("embedded:")
    assert cfg.models["default"].engine == "vllm"
    assert cfg.roles.judge.model == "default"


def test_paper_preset_composes_once_a_model_path_is_given() -> None:
    cfg = make_config("experiment=paper", "models.default.path=/models/big")
    assert cfg.evolution.target_size == 800_000
    assert cfg.models["default"].tensor_parallel_size > 1
    assert {cfg.roles.instructor.model, cfg.roles.coder.model, cfg.roles.judge.model} == {"default"}


def test_a_model_is_added_from_the_command_line_for_one_role() -> None:
    cfg = make_config(
        "+model@models.judge=openai",
        "models.judge.path=served-judge",
        "models.judge.base_urls=[http://127.0.0.1:8000/v1]",
        "roles.judge.model=judge",
    )
    assert cfg.models["judge"].engine == "openai" and cfg.models["judge"].path == "served-judge"
    assert cfg.models["default"].engine == "vllm" and cfg.roles.coder.model == "default"


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("evolution.colonies=0", "evolution.colonies"),
        ("evolution.mutation_rate=1.5", "evolution.mutation_rate"),
        ("roles.coder.model=missing", "roles.coder.model"),
        ("fitness.threshold=11", "fitness.threshold"),
        ("dedup.bands=7", "dedup.bands"),
        ("+fitness.weights.style=1", "fitness.weights.style"),
    ],
)
def test_invalid_values_name_their_key(override: str, key: str) -> None:
    with pytest.raises(ConfigError, match=rf"config key {key}:"):
        make_config(override)


def test_missing_mandatory_model_path_is_named() -> None:
    with pytest.raises(ConfigError, match=r"models.default.path: must be set"):
        make_config("experiment=paper")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["evolution.colonies=0"], "evolution.colonies"),
        (["evolution.colonies=abc"], "evolution.colonies"),
        (["no_such_key=1"], "no_such_key"),
        (["experiment=paper"], "models.default.path"),
        (
            ["fitness.threshold=abc"],
            "config key fitness.threshold: must be a number in [1, 10] or auto, not 'abc'",
        ),
        (["evolution.targte_size=5"], "did you mean evolution.target_size?"),
        # Hydra's own advice for an unknown key; it used to run with the typo ignored.
        (["+evolution.targte_size=5"], "did you mean evolution.target_size?"),
        (["+models.default.tempreature=0.1"], "config key models.default.tempreature"),
        (["engine=nope"], "options: openai, scripted, vllm"),
        # Settings with fixed choices are enums: Hydra refuses others while composing.
        (
            ["dedup.compare=solution"],
            "config key dedup.compare: Invalid value 'solution', expected one of "
            "[instruction, instruction+solution]",
        ),
        (["models.default.engine=tgi"], "config key models.default.engine: Invalid value 'tgi'"),
        (["execution.network=open"], "config key execution.network: Invalid value 'open'"),
        (["execution.wall_seconds=0"], "config key execution.wall_seconds: must be positive"),
        (["dedup.ray_shards=-1"], "config key dedup.ray_shards: must be >= 0"),
        (["export.format=csv"], "config key export.format: Invalid value 'csv'"),
        (["executor.kind=dask"], "config key executor.kind: Invalid value 'dask'"),
        (["roles.coder.temperature=0.1=2"], "override 'roles.coder.temperature=0.1=2'"),
    ],
)
def test_cli_bad_input_exits_2_before_loading_anything(
    args: list[str], needle: str, tmp_path: Path
) -> None:
    result = run_cli("engine=scripted", *args, f"run_dir={tmp_path / 'run'}", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert [needle in ln for ln in result.stderr.splitlines()] == [True], result.stderr
    assert not (tmp_path / "run").exists()  # not even an empty directory or .hydra/


def test_cli_run_dir_that_is_a_file_exits_2_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("mine\n")
    result = run_cli("engine=scripted", f"run_dir={path}", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"genetic-instruct: error: {path}: a file, not a directory (config key run_dir)"
    ]
    assert path.read_text() == "mine\n"


def test_cli_bad_seed_file_exits_2_with_file_and_line(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text('{"instruction": "a", "solution": "x = 1"}\n{"instruction": 3}\n')
    result = run_cli(f"seeds={seeds}", f"run_dir={tmp_path / 'run'}", cwd=tmp_path)
    assert result.returncode == 2
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert lines == [
        f"genetic-instruct: error: {seeds}:2: field 'instruction' must be a non-empty string"
    ]
    assert not (tmp_path / "run").exists()  # nothing left that a corrected command trips on


def test_cli_non_utf8_seed_file_names_file_and_line(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_bytes(b'{"instruction": "a", "solution": "x = 1"}\n{"instruction": "caf\xe9"}\n')
    result = run_cli(f"seeds={seeds}", f"run_dir={tmp_path / 'run'}", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"genetic-instruct: error: {seeds}:2: not UTF-8 text (byte 0xe9 at column 21); "
        "save the seed file as UTF-8"
    ]


def test_config_dataclass_defaults_validate() -> None:
    """The schema's own defaults, resolved as Hydra resolves them (the solver's settings
    are the coder's by interpolation)."""
    defaults = OmegaConf.to_object(OmegaConf.structured(Config))
    assert isinstance(defaults, Config)
    validate(defaults)
    assert defaults.roles.solver == defaults.roles.coder
