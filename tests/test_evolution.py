"""The loop on the synthetic engine: growth, accounting, lineage, export, journal replay."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from genetic_instruct.config import Config
from genetic_instruct.evolution.answer_samples import SAMPLE_CHARS, bounded
from genetic_instruct.export.dataset import sample
from genetic_instruct.llm.scripted import ScriptedEngine
from genetic_instruct.run.job import run
from genetic_instruct.state.store import RunStore

from .conftest import dataset_records

LINEAGE_FIELDS = {
    "id",
    "messages",
    "instruction",
    "output",
    "origin",
    "generation",
    "method",
    "parents",
    "colony",
    "models",
    "prompt_hashes",
    "scores",
    "fitness",
    "rationale",
    "tests",
    "topic",
    "execution",
}


def test_run_grows_the_population_and_exports_every_lineage_field(
    scripted_config: Config,
) -> None:
    result = run(scripted_config)
    assert result.exported > 0
    records = [json.loads(line) for line in result.dataset.read_text().splitlines()]
    assert len(records) == result.exported
    store = RunStore(scripted_config.run_dir)
    population = {ind.id: ind for ind in store.individuals()}
    for record in records:
        assert set(record) >= LINEAGE_FIELDS
        assert record["origin"] in ("crossover", "mutation")
        assert record["messages"][0] == {"role": "user", "content": record["instruction"]}
        assert record["messages"][1]["role"] == "assistant"
        assert all(parent in population for parent in record["parents"])
        assert record["fitness"] >= scripted_config.fitness.threshold
        assert set(record["prompt_hashes"]) == {"instructor", "coder", "judge"}
        assert set(record["models"]) == {"instructor", "coder", "judge"}
        assert (record["origin"] == "mutation") == (record["method"] is not None)
        assert record["tests"].count("assert") >= 1
        assert record["execution"]["status"] == "passed"
        assert record["execution"]["pass_fraction"] == 1.0
    assert len({r["colony"] for r in records}) == scripted_config.evolution.colonies
    assert len({r["id"] for r in records}) == len(records)


def test_every_offspring_is_accepted_or_rejected_with_a_reason(scripted_config: Config) -> None:
    run(scripted_config)
    stats = RunStore(scripted_config.run_dir).generation_stats()
    generations = [s for s in stats if s.generation > 0]
    assert generations
    for s in generations:
        assert s.tried == s.accepted + sum(s.rejected.values())
    reasons = set().union(*(s.rejected for s in generations))
    assert "below_fitness_threshold" in reasons
    assert "tests_failed" in reasons
    assert reasons & {"near_duplicate_population", "near_duplicate_batch", "copy_of_parent"}


def test_target_size_stops_the_run(scripted_config: Config) -> None:
    cfg = replace(
        scripted_config,
        evolution=replace(scripted_config.evolution, target_size=140, max_generations=0),
    )
    result = run(cfg)
    assert result.population >= 140
    stats = RunStore(cfg.run_dir).generation_stats()
    before_last = stats[-2].population
    assert before_last < 140  # it stopped as soon as the target was reached


def test_same_seed_same_population_and_a_rerun_replays_the_journal(
    scripted_config: Config, tmp_path, monkeypatch
) -> None:
    engine = ScriptedEngine("scripted", malformed_rate=0.1, copy_rate=0.05)
    answered: list[tuple[str, str, str]] = []  # every journal row, taken before a commit empties it
    commit = RunStore.commit_generation

    def keep_journal(store: RunStore, *args, **kwargs) -> None:
        answered.extend(store._db.execute("SELECT key, role, completion FROM journal"))
        commit(store, *args, **kwargs)

    monkeypatch.setattr(RunStore, "commit_generation", keep_journal)
    first = run(scripted_config, engines={"default": engine})
    monkeypatch.undo()
    calls = engine.calls
    assert answered and RunStore(scripted_config.run_dir).journal_keys() == set()

    def twin(name: str) -> Config:
        return replace(
            scripted_config,
            run_dir=str(tmp_path / name),
            export=replace(  # one card per run: a card of another run is not replaced
                scripted_config.export, path=str(tmp_path / f"{name}.jsonl"), card=f"{name}.md"
            ),
        )

    run(twin("twin"))  # same seed, fresh engine and run directory: the same dataset
    assert dataset_records(first.dataset) == dataset_records(tmp_path / "twin.jsonl")

    # A run whose journal holds every answer at all times must not call the engine at all.
    def refill_journal(store: RunStore, *args, **kwargs) -> None:
        commit(store, *args, **kwargs)
        store._db.executemany("INSERT OR IGNORE INTO journal VALUES (?, ?, ?)", answered)

    monkeypatch.setattr(RunStore, "commit_generation", refill_journal)
    replay = twin("replay")
    run(replay, engines={"default": engine})
    assert engine.calls == calls
    assert dataset_records(tmp_path / "replay.jsonl") == dataset_records(first.dataset)


def test_seeds_are_excluded_from_the_export_unless_asked(scripted_config: Config) -> None:
    cfg = replace(scripted_config, export=replace(scripted_config.export, include_seeds=True))
    result = run(cfg)
    origins = {json.loads(line)["origin"] for line in result.dataset.read_text().splitlines()}
    assert "seed" in origins
    store = RunStore(cfg.run_dir)
    seed = next(i for i in store.individuals() if i.origin == "seed")
    assert sample(seed)["tests"] == seed.tests


def test_execution_can_record_without_gating_or_be_off(scripted_config: Config) -> None:
    recording = replace(
        scripted_config, execution=replace(scripted_config.execution, min_pass_fraction=0.0)
    )
    statuses = {r["execution"]["status"] for r in dataset_records(run(recording).dataset)}
    assert "failed" in statuses and "passed" in statuses
    off = replace(
        scripted_config,
        run_dir=scripted_config.run_dir + "-off",
        export=replace(scripted_config.export, path=scripted_config.run_dir + "-off/dataset.jsonl"),
        execution=replace(scripted_config.execution, enabled=False),
    )
    records = dataset_records(run(off).dataset)
    assert records and all(r["execution"] is None and r["tests"] is None for r in records)


def test_tests_can_come_from_a_separate_tester_request(scripted_config: Config) -> None:
    cfg = replace(
        scripted_config, execution=replace(scripted_config.execution, tests_from="tester")
    )
    records = dataset_records(run(cfg).dataset)
    assert records
    for record in records:
        assert set(record["prompt_hashes"]) == {"instructor", "coder", "judge", "tester"}
        assert record["models"]["tester"] == "scripted"
        assert record["execution"]["status"] == "passed"
    stats = RunStore(cfg.run_dir).generation_stats()[-1]
    assert stats.completion_tokens["tester"] > 0


def test_a_few_rejected_answers_per_role_and_reason_outlive_the_journal(
    scripted_config: Config,
) -> None:
    """rejected_samples answers per (role, reason) in the whole run, the first rejected;
    committed with their generation, so the journal's purge leaves them."""
    one = replace(scripted_config, rejected_samples=1)
    run(one)
    with RunStore(one.run_dir) as store:
        counts = store.rejected_answer_counts()
        assert counts and set(counts.values()) == {1} and store.journal_keys() == set()
        for role, reason in counts:
            (answer,) = store.rejected_answers(reason)
            assert answer.role == role and answer.answer
            totals = [s.rejected.get(reason, 0) for s in store.generation_stats()]
            assert answer.generation == next(g for g, n in enumerate(totals) if n)
    elsewhere = Path(scripted_config.run_dir).parent / "none"
    none = replace(
        scripted_config,
        run_dir=str(elsewhere),
        export=replace(scripted_config.export, path=str(elsewhere / "dataset.jsonl")),
        rejected_samples=0,
    )
    run(none)
    with RunStore(none.run_dir) as store:
        assert store.rejected_answer_counts() == {}


def test_a_kept_answer_is_bounded_and_shown_with_its_end() -> None:
    text = "start " + "x" * 10_000 + " the end"
    kept = bounded(text)
    assert len(kept) < SAMPLE_CHARS + 100 and kept.startswith("start ")
    assert kept.endswith(" the end") and "characters left out" in kept
    assert bounded("short") == "short"
