"""export.format=parquet: shards that `datasets` loads as users load Hub datasets."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from genetic_instruct.config import Config, ExportFormat
from genetic_instruct.errors import InputError
from genetic_instruct.run.job import run
from genetic_instruct.state.meta import SHARDS
from genetic_instruct.state.store import RunStore

from .conftest import run_cli

datasets = pytest.importorskip("datasets")


def _parquet(cfg: Config, path: Path, rows_per_shard: int) -> Config:
    export = dataclasses.replace(
        cfg.export, path=str(path), format=ExportFormat.parquet, rows_per_shard=rows_per_shard
    )
    return dataclasses.replace(cfg, export=export)


def _load(files: list[Path]) -> object:
    return datasets.load_dataset(
        "parquet",
        data_files=[str(f) for f in files],
        split="train",
        cache_dir=str(files[0].parent / ".hf-cache"),
    )


def test_the_demo_as_parquet_loads_with_the_jsonl_columns_and_rows(
    scripted_config: Config, tmp_path: Path
) -> None:
    run(scripted_config)  # the JSONL dataset, as today
    jsonl = Path(scripted_config.export.path)
    out = tmp_path / "out" / "train.parquet"
    out.parent.mkdir()
    done = run_cli(
        "export",
        "engine=scripted",
        f"run_dir={scripted_config.run_dir}",
        f"export.path={out}",
        "export.format=parquet",
        "export.rows_per_shard=7",
    )
    assert done.returncode == 0, done.stderr
    shards = sorted(out.parent.glob("train-*.parquet"))
    count = len(jsonl.read_text().splitlines())
    assert [s.name for s in shards] == [
        f"train-{i:05d}-of-{len(shards):05d}.parquet" for i in range(len(shards))
    ]
    assert len(shards) == -(-count // 7) > 1

    loaded = _load(shards)
    expected = datasets.load_dataset(
        "json", data_files=str(jsonl), split="train", cache_dir=str(tmp_path / ".hf-cache")
    )
    assert loaded.column_names == expected.column_names
    assert loaded["id"] == expected["id"] and loaded["messages"] == expected["messages"]
    assert loaded["scores"] == expected["scores"] and loaded["fitness"] == expected["fitness"]

    card = (out.parent / "README.md").read_text()
    assert all(f"`{s.name}`" in card for s in shards) and "{" not in card
    assert f"- {shards[0].name}" in card  # the front matter's data_files list


def test_a_run_keeps_its_shards_current_and_drops_stale_ones(
    scripted_config: Config, tmp_path: Path
) -> None:
    path = tmp_path / "shards" / "data.parquet"
    path.parent.mkdir()
    stale = path.parent / "data-00007-of-00009.parquet"
    result = run(_parquet(scripted_config, path, rows_per_shard=1000))
    assert sorted(p.name for p in path.parent.glob("*.parquet")) == ["data-00000-of-00001.parquet"]
    assert len(_load([path.parent / "data-00000-of-00001.parquet"])) == result.exported

    # A shard name of ours that the next export does not need is removed; a file with a
    # shard's name that is not ours stops the export, naming it.
    (path.parent / "data-00000-of-00001.parquet").rename(stale)
    run(_parquet(scripted_config, path, rows_per_shard=1000))
    assert not stale.exists()
    (path.parent / "data-00000-of-00001.parquet").write_bytes(b"PAR1 someone else's")
    with pytest.raises(InputError, match="data-00000-of-00001.parquet"):
        run(_parquet(scripted_config, path, rows_per_shard=1000))


def test_a_growing_run_writes_only_the_shards_that_were_not_full(
    scripted_config: Config, tmp_path: Path
) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "shards" / "data.parquet"
    cfg = _parquet(scripted_config, path, rows_per_shard=4)
    grown = [
        dataclasses.replace(cfg, evolution=dataclasses.replace(cfg.evolution, **limit))
        for limit in ({"max_generations": 1}, {"max_generations": 3})
    ]
    run(grown[0])
    with RunStore(cfg.run_dir) as store:
        full = store.meta.get(SHARDS)
    assert full is not None and full.full >= 1
    before = {i: _shard(path, i).stat().st_ino for i in range(full.full)}

    result = run(grown[1])
    shards = sorted(path.parent.glob("data-*.parquet"))
    assert len(shards) == -(-result.exported // 4) > len(before)
    assert {i: _shard(path, i).stat().st_ino for i in before} == before  # renamed, not written
    with RunStore(cfg.run_dir) as store:
        ids = [r["id"] for r in store.records() if r["origin"] != "seed"]
    assert [i for s in shards for i in pq.read_table(s).column("id").to_pylist()] == ids


def _shard(path: Path, i: int) -> Path:
    (found,) = path.parent.glob(f"{path.stem}-{i:05d}-of-*.parquet")
    return found
