"""The run's SQLite state: atomic generations, signatures restored byte-exact, journal."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from genetic_instruct.individual import Individual
from genetic_instruct.llm.base import Completion
from genetic_instruct.state.database import STATE_FILE, StateError
from genetic_instruct.state.generation_stats import GenerationStats
from genetic_instruct.state.store import RejectedAnswer, RunStore


def _ind(i: int, generation: int = 1) -> Individual:
    return Individual(
        id=f"id{i}",
        instruction=f"task {i}",
        solution="x = 1",
        origin="crossover",
        generation=generation,
        parents=("a", "b"),
        scores={"correctness": 7.0},
    )


def test_generation_commit_round_trips(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    assert store.generation is None
    sigs = np.arange(12, dtype=np.uint32).reshape(3, 4)
    store.commit_generation(GenerationStats(1, tried=5), [_ind(0), _ind(1), _ind(2)], sigs)
    store.close()
    again = RunStore(tmp_path)
    assert again.generation == 1
    assert [i.id for i in again.individuals()] == ["id0", "id1", "id2"]
    assert next(again.individuals()) == _ind(0) == again.individual_at(0)
    batches = list(again.signature_batches(np.dtype(np.uint32), size=2))
    assert [ids for ids, _ in batches] == [["id0", "id1"], ["id2"]]
    assert np.array_equal(np.concatenate([restored for _, restored in batches]), sigs)
    assert again.generation_stats() == [GenerationStats(1, tried=5)]


def test_an_id_is_never_stored_twice(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    sig = np.zeros((1, 4), dtype=np.uint32)
    store.commit_generation(GenerationStats(1), [_ind(0)], sig)
    store.commit_generation(GenerationStats(2), [_ind(0, generation=2)], sig)
    assert store.population_size() == 1
    assert next(store.individuals()).generation == 1


def test_a_failed_commit_leaves_nothing_behind(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    with pytest.raises(ValueError):  # two individuals, one signature row
        store.commit_generation(GenerationStats(1), [_ind(0), _ind(1)], np.zeros((1, 4), np.uint32))
    assert store.population_size() == 0 and store.generation is None


def test_journal_keeps_answers_but_not_failures(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    store.journal_write(
        [("coder", "k1", Completion("ok", 3, 4)), ("coder", "k2", Completion("", error="x"))]
    )
    found = store.journal_lookup(["k1", "k2", "k3"])
    assert found == {"k1": Completion("ok", 3, 4)}


@pytest.mark.parametrize(
    "stored",
    [
        '{"text": "ok", "prompt_tokens": 1' + "0" * 400 + "}",
        '{"text": "ok", "completion_tokens": -1}',
        '{"text": ["ok"]}',
        '{"text": "ok", "prompt_tokens": true}',
        '{"text": "ok", "surprise": 1}',
        "[1, 2]",
    ],
)
def test_a_journaled_answer_no_longer_believed_is_asked_again(tmp_path: Path, stored: str) -> None:
    """Journals of earlier versions kept whatever a server said; a replay refuses what a
    fresh answer would be refused for, and the request goes to the engine again."""
    store = RunStore(tmp_path)
    store.journal_write([("coder", "good", Completion("fine", 3, 4))])
    store._db.execute(
        "INSERT INTO journal (key, role, completion) VALUES (?, ?, ?)", ("bad", "coder", stored)
    )
    assert store.journal_lookup(["good", "bad"]) == {"good": Completion("fine", 3, 4)}


def test_a_journaled_lone_surrogate_is_made_storable(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    store._db.execute(
        "INSERT INTO journal (key, role, completion) VALUES (?, ?, ?)",
        ("k", "judge", '{"text": "Fine \\ud800"}'),
    )
    assert store.journal_lookup(["k"])["k"].text == "Fine \ufffd"


def test_a_commit_empties_the_journal_with_the_generation(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    store.journal_write([("coder", "k1", Completion("ok", 3, 4))])
    store.journal_write(verdicts=[("execution", "v1", {"status": "passed"})])
    store.commit_generation(GenerationStats(1), [_ind(0)], np.zeros((1, 4), np.uint32))
    assert store.journal_keys() == set() and store.verdict_keys() == set()


def test_verdicts_round_trip_with_what_a_program_printed(tmp_path: Path) -> None:
    """A lone surrogate is valid in a str but not in UTF-8: stored escaped, read back as is."""
    store = RunStore(tmp_path)
    printed = {"status": "failed", "stdout": "caf\u00e9 \ud800", "passed": 1}
    store.journal_write(verdicts=[("execution", "v1", printed)])
    assert store.verdict_lookup("v1") == printed and store.verdict_lookup("v2") is None
    assert store.integrity_problems() == []


def test_a_corrupt_state_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / STATE_FILE).write_bytes(b"this is not a database" * 100)
    with pytest.raises(StateError, match="not a usable state database"):
        RunStore(tmp_path)
    assert (tmp_path / STATE_FILE).read_bytes().startswith(b"this is not")


def test_a_state_file_from_another_version_is_refused(tmp_path: Path) -> None:
    RunStore(tmp_path).close()
    db = sqlite3.connect(tmp_path / STATE_FILE)
    db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    with pytest.raises(StateError, match="schema version 99"):
        RunStore(tmp_path)


def test_a_state_made_before_rejected_answers_were_kept_reads_as_none_kept(
    tmp_path: Path,
) -> None:
    store = RunStore(tmp_path)
    store._db.execute("DROP TABLE rejected_answers")
    store.close()
    with RunStore(tmp_path, read_only=True) as old:
        assert old.rejected_answer_counts() == {} and old.rejected_answers("coder_empty") == []
    with RunStore(tmp_path) as resumed:  # a run that resumes it gets the table
        kept = RejectedAnswer("coder", "coder_empty", 1, 4, "")
        resumed.commit_generation(GenerationStats(1), [], np.zeros((0, 4), np.uint32), [kept])
        assert resumed.rejected_answers("coder_empty") == [kept]
