"""The export: a rewrite split over worker processes writes the same bytes as one process."""

from __future__ import annotations

from pathlib import Path

from genetic_instruct.config import Config
from genetic_instruct.export.dataset import rewrite
from genetic_instruct.run.job import run
from genetic_instruct.state.store import RunStore


def test_a_rewrite_in_three_slices_equals_the_rewrite_in_one(
    scripted_config: Config, tmp_path: Path
) -> None:
    run(scripted_config)
    store = RunStore(scripted_config.run_dir)
    last = store.population_size()
    one, three = tmp_path / "one.jsonl", tmp_path / "three.jsonl"
    counts = [
        rewrite(store, one, True, last, workers=1),
        rewrite(store, three, True, last, workers=3),
    ]
    store.close()
    assert counts == [last, last]
    assert three.read_bytes() == one.read_bytes()
    assert len(one.read_bytes().splitlines()) == last
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.jsonl", "run", "three.jsonl"]
