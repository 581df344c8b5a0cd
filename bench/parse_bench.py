"""What reading a model's answer costs, per role, on answers written like real models'.

The answers are the test corpus (tests/answers/corpus.py: reasoning, chatter, several
fences, unittest classes, verdict drafts), parsed with a cold parse cache each time, so a
figure is what one fresh answer costs. It is set beside what the answer itself costs:
a GPU engine at ~2,000 tok/s and ~700 output tokens per offspring (350 ms).

    .venv/bin/python -m bench.parse_bench [--repeat 500]
"""

from __future__ import annotations

import argparse
import statistics
import time

from genetic_instruct.answers.written_tests import parse_module
from genetic_instruct.llm.base import Completion
from genetic_instruct.rejection import Rejection
from tests.answers.corpus import CASES
from tests.test_roles import ROLES, _subject

ANSWER_COST_MS = 350.0


def time_case(case, repeat: int) -> float:
    """Median microseconds to read the case's answer."""
    role = ROLES[case.role]
    completion = Completion(case.answer, finish_reason=case.finish_reason)
    subject = _subject(case)
    samples = []
    for _ in range(repeat):
        parse_module.cache_clear()
        start = time.perf_counter()
        try:
            role.read(completion, subject)
        except Rejection:
            pass
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=500)
    args = parser.parse_args()
    print(f"| role | answer | median us | share of a {ANSWER_COST_MS:.0f} ms answer |")
    print("| --- | --- | ---: | ---: |")
    for case in CASES:
        us = time_case(case, args.repeat)
        share = us / (ANSWER_COST_MS * 1000)
        print(f"| {case.role} | {case.family} | {us:,.0f} | {share:.3%} |")


if __name__ == "__main__":
    main()
