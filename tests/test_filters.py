"""Filter steps: each keeps a candidate or names the counted reason it is dropped."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

from genetic_instruct.config import BenchmarkFileConfig, Config, FilterConfig
from genetic_instruct.dedup.from_config import build_contamination_checker, build_index
from genetic_instruct.dedup.in_order import InOrderIndex, Sketch
from genetic_instruct.evolution.candidate import Candidate
from genetic_instruct.evolution.filters import (
    Contamination,
    CopyOfParent,
    InstructionLength,
    NearDuplicates,
)
from genetic_instruct.evolution.filters.near_duplicates import EarlierOffspring
from genetic_instruct.evolution.operators import OffspringPlan
from genetic_instruct.individual import Individual, content_id

_PLAN = OffspringPlan(0, "mutation", (), 1, "add_constraints")
_TASK = "Write a function merge_intervals(intervals) that returns the union of the intervals."


def test_instruction_length_and_copies_of_a_parent() -> None:
    parent = Individual(content_id(_TASK), _TASK, "", "seed", 0)
    plan = replace(_PLAN, parents=(parent,))
    rejected: Counter[str] = Counter()
    candidates = [
        Candidate(plan, "Too short."),
        Candidate(plan, " ".join(["word"] * 50)),
        Candidate(plan, _TASK + "  "),
        Candidate(plan, _TASK + " Sort them first."),
    ]
    kept = InstructionLength(FilterConfig(max_instruction_words=40)).apply(candidates, rejected)
    kept = CopyOfParent().apply(kept, rejected)
    assert [c.instruction for c in kept] == [_TASK + " Sort them first."]
    assert rejected == {"instruction_too_short": 1, "instruction_too_long": 1, "copy_of_parent": 1}


def test_offspring_close_to_a_benchmark_problem_are_dropped(
    scripted_config: Config, tmp_path: Path
) -> None:
    problem = (
        "Write a function merge_intervals(intervals) that takes a list of closed "
        "integer intervals and returns the union as a sorted list of disjoint intervals."
    )
    bench = tmp_path / "mine.jsonl"
    bench.write_text(json.dumps({"task_id": "Mine/7", "prompt": problem}) + "\n")
    cfg = replace(
        scripted_config,
        decontamination=replace(
            scripted_config.decontamination,
            benchmarks=[BenchmarkFileConfig("mine", str(bench), ["prompt"], "task_id")],
        ),
    )
    checker = build_contamination_checker(cfg.decontamination, cfg.seed)
    assert checker is not None
    unrelated = "Count the vowels in each word of a sentence and return a dictionary of counts."
    rejected: Counter[str] = Counter()
    kept = Contamination(checker).apply(
        [
            Candidate(_PLAN, problem + " Raise ValueError on a negative length."),
            Candidate(_PLAN, unrelated),
        ],
        rejected,
    )
    assert [c.instruction for c in kept] == [unrelated]
    assert rejected == {"contaminated": 1}


def test_near_duplicates_of_the_population(scripted_config: Config) -> None:
    index = build_index(scripted_config)
    known: set[str] = set()
    step = NearDuplicates(index, known.__contains__, lambda c: c.instruction)
    first = Candidate(_PLAN, _TASK + " The intervals are closed and may overlap each other.")
    rejected: Counter[str] = Counter()
    assert step.apply([first], rejected) == [first] and first.sketch is not None
    step.add([content_id(first.instruction)], first.sketch.signature[None, :])
    known.add(content_id(first.instruction))
    again = Candidate(_PLAN, first.instruction)
    other = Candidate(_PLAN, "Count the vowels in each word of a sentence and return a dict.")
    assert step.apply([again, other], rejected) == [other] and other.sketch is not None
    assert rejected == {"near_duplicate_population": 1}


def test_earlier_offspring_in_any_arrival_order_match_the_batch_in_order(
    scripted_config: Config,
) -> None:
    """Chains (A ~ B ~ C, C not ~ A), skipped rows and exact copies, offered in many orders:
    the copies found are those of checking the batch in order, every time."""
    index = build_index(scripted_config)
    words = [
        "alpha",
        "bravo",
        "charlie",
        "delta",
        "echo",
        "foxtrot",
        "golf",
        "hotel",
        "india",
        "juliet",
        "kilo",
        "lima",
        "mike",
        "november",
        "oscar",
        "papa",
        "quebec",
        "romeo",
        "sierra",
        "tango",
        "uniform",
        "victor",
        "whiskey",
        "xray",
    ]
    chain = [" ".join(words[k : k + 20]) for k in (0, 2, 4)]  # 0 ~ 1 ~ 2, 2 not ~ 0
    vowels = "Count vowels in a sentence and return the total count"
    texts = [
        chain[0],
        vowels,
        chain[1],
        "Reverse the words of a sentence, keep punctuation",
        chain[2],
        vowels,
    ]
    sigs = index.signatures(texts)
    skipped = {3}
    offered = [i for i in range(len(texts)) if i not in skipped]
    in_order = index.within_batch(sigs[offered])
    expected = {offered[j] for j, copy in enumerate(in_order) if copy is not None}
    assert expected == {2, 5}  # chain[2] stays: it only copies a copy
    rng = np.random.default_rng(7)
    sketches = [Sketch(sig, tuple(keys)) for sig, keys in zip(sigs, index.band_keys(sigs).tolist())]
    for _ in range(20):
        gate = EarlierOffspring(InOrderIndex(index), len(texts))
        for n in rng.permutation(len(texts)).tolist():
            if n in skipped:
                gate.skip(n)
            else:
                gate.offer(n, sketches[n])
        assert {n for n in range(len(texts)) if gate.duplicate(n)} == expected
