"""Filter steps: each keeps a candidate or names the counted reason it is dropped."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

from genetic_instruct.candidate import Candidate
from genetic_instruct.config import BenchmarkFileConfig, Config, FilterConfig
from genetic_instruct.evolution import build_contamination_checker, build_index
from genetic_instruct.filters import Contamination, CopyOfParent, InstructionLength, NearDuplicates
from genetic_instruct.operators import OffspringPlan
from genetic_instruct.records import Individual, content_id

_PLAN = OffspringPlan(0, "mutation", (), 1, "add_constraints")
_TASK = "Write a function merge_intervals(intervals) that returns the union of the intervals."


def test_instruction_length_and_copies_of_a_parent() -> None:
    parent = Individual(content_id(_TASK), _TASK, "", "seed", 0)
    plan = replace(_PLAN, parents=(parent,))
    rejected: Counter[str] = Counter()
    candidates = [Candidate(plan, "Too short."), Candidate(plan, " ".join(["word"] * 50)),
                  Candidate(plan, _TASK + "  "), Candidate(plan, _TASK + " Sort them first.")]
    kept = InstructionLength(FilterConfig(max_instruction_words=40)).apply(candidates, rejected)
    kept = CopyOfParent().apply(kept, rejected)
    assert [c.instruction for c in kept] == [_TASK + " Sort them first."]
    assert rejected == {"instruction_too_short": 1, "instruction_too_long": 1, "copy_of_parent": 1}


def test_offspring_close_to_a_benchmark_problem_are_dropped(
    scripted_config: Config, tmp_path: Path
) -> None:
    problem = ("Write a function merge_intervals(intervals) that takes a list of closed "
               "integer intervals and returns the union as a sorted list of disjoint intervals.")
    bench = tmp_path / "mine.jsonl"
    bench.write_text(json.dumps({"task_id": "Mine/7", "prompt": problem}) + "\n")
    cfg = replace(scripted_config, decontamination=replace(
        scripted_config.decontamination,
        benchmarks=[BenchmarkFileConfig("mine", str(bench), ["prompt"], "task_id")]))
    checker = build_contamination_checker(cfg)
    assert checker is not None
    unrelated = "Count the vowels in each word of a sentence and return a dictionary of counts."
    rejected: Counter[str] = Counter()
    kept = Contamination(checker).apply(
        [Candidate(_PLAN, problem + " Raise ValueError on a negative length."),
         Candidate(_PLAN, unrelated)], rejected)
    assert [c.instruction for c in kept] == [unrelated]
    assert rejected == {"contaminated": 1}


def test_near_duplicates_of_the_population_and_within_the_batch(scripted_config: Config) -> None:
    index = build_index(scripted_config)
    step = NearDuplicates(index, [], lambda c: c.instruction)
    first = Candidate(_PLAN, _TASK + " The intervals are closed and may overlap each other.")
    rejected: Counter[str] = Counter()
    assert step.apply([first], rejected) == [first] and first.signature is not None
    step.add([content_id(first.instruction)], first.signature[None, :])
    again = Candidate(_PLAN, first.instruction)
    other = "Count the vowels in each word of a sentence and return a dictionary of counts."
    twins = [Candidate(_PLAN, other), Candidate(_PLAN, other + " ")]
    kept = step.apply([again, *twins], rejected)
    assert kept == [twins[0]]
    assert rejected == {"near_duplicate_population": 1, "near_duplicate_batch": 1}
