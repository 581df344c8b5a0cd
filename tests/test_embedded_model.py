"""On the real embedded model (SmolLM2-135M-Instruct, vLLM CPU build), one engine per session."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genetic_instruct.config import Config
from genetic_instruct.fitness import JUDGE_SCHEMA
from genetic_instruct.llm.base import ChatRequest, Sampling
from genetic_instruct.runner import run
from genetic_instruct.seeds import BUILTIN, load_seeds
from genetic_instruct.store import RunStore

from .conftest import make_config
from .test_evolution import LINEAGE_FIELDS

pytestmark = pytest.mark.model


def test_seeded_batch_larger_than_one_prefill_step_survives_and_reproduces(
    embedded_engine,
) -> None:
    """Guards the CPU-build crash: seeded requests whose prefill was split killed the engine."""
    filler = " ".join(f"item{i}" for i in range(30))
    requests = [
        ChatRequest((("user", f"Request {i}. Repeat the first word of: {filler}"),),
                    Sampling(0.9, 0.95, 8), seed=5000 + i)
        for i in range(96)
    ]
    first = embedded_engine.generate(requests)
    assert sum(c.prompt_tokens for c in first) > 4096  # more than one step's token budget
    assert all(c.error is None and c.completion_tokens > 0 for c in first)
    again = embedded_engine.generate(requests[:6][::-1])[::-1]
    assert [c.text for c in again] == [c.text for c in first[:6]]


def test_judge_answers_are_schema_valid_json(embedded_engine) -> None:
    from genetic_instruct.prompts import load_templates

    judge = load_templates()["judge"]
    seeds = load_seeds(BUILTIN)[:4]
    requests = [
        ChatRequest((("user", judge.render(instruction=s.instruction, solution=s.solution)),),
                    Sampling(0.0, 1.0, 96), seed=i, json_schema=JUDGE_SCHEMA)
        for i, s in enumerate(seeds)
    ]
    for completion in embedded_engine.generate(requests):
        verdict = json.loads(completion.text)
        assert 1 <= verdict["correctness"] <= 10 and 1 <= verdict["quality"] <= 10


def test_a_tiny_run_on_the_real_model_exports_complete_records(
    embedded_engine, tmp_path: Path
) -> None:
    cfg: Config = make_config(
        f"run_dir={tmp_path / 'run'}",
        "progress=false",
        "evolution.max_generations=1",
        "evolution.colonies=2",
        "evolution.offspring_per_colony=4",
        "fitness.threshold=1",
    )
    result = run(cfg, engines={"default": embedded_engine})
    stats = RunStore(cfg.run_dir).generation_stats()[-1]
    assert stats["tried"] == 8
    assert stats["tried"] == stats["accepted"] + sum(stats["rejected"].values())
    assert stats["completion_tokens"]["instructor"] > 0
    records = [json.loads(line) for line in result.dataset.read_text().splitlines()]
    assert records, stats
    for record in records:
        assert set(record) >= LINEAGE_FIELDS
        assert record["models"]["coder"] == "embedded:smollm2-135m-instruct"
        assert record["rationale"] is not None

