"""Programs per second in each language the sandbox runs, and the seeds' mutation scores.

Run from the repository root (results are recorded in bench/RESULTS-sandbox.md):

    nice -n 10 .venv/bin/python bench/languages_bench.py [cpp java ...]

For each language: its 30 shipped seeds (seeds/<language>.jsonl) through run_many, every
build from cold (the artefact cache cleared first): compile + tests, programs per second;
then `k` mutants of each seed (the loop's execution.mutants default, 5), each built and
run: programs per second with mutants, the mean mutation score, and how many seeds have
no mutant. Python's 125 seeds are measured the same way for comparison. Prints Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

from genetic_instruct.files.shipped import language_seeds_path
from genetic_instruct.languages import Language
from genetic_instruct.sandbox import SandboxLimits, artefacts, run_many
from genetic_instruct.sandbox.mutation_score import mutation_results
from genetic_instruct.sandbox.runner import usable_cpus

LIMITS = SandboxLimits(wall_seconds=60)


def seeds(language: Language) -> list[dict]:
    path = language_seeds_path(language.value)
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def measure(language: Language, k: int) -> tuple[str, ...]:
    tasks = seeds(language)
    artefacts.clear()
    started = time.perf_counter()
    results = run_many([(s["solution"], s["tests"], language) for s in tasks], LIMITS)
    plain_s = time.perf_counter() - started
    passed = sum(r.status == "passed" for r in results)
    programs = [
        (s["solution"], s["tests"], r.runtime_s + r.compile_s, language)
        for s, r in zip(tasks, results)
    ]
    started = time.perf_counter()
    mutation = mutation_results(programs, LIMITS, k, seed=0)
    mutants_s = time.perf_counter() - started
    mutants = sum(m.mutants for m in mutation)
    score = sum(m.score for m in mutation) / len(mutation)
    return (
        language.value,
        f"{passed}/{len(tasks)}",
        f"{len(tasks) / plain_s:.2f}",
        f"{(len(tasks) + mutants) / (plain_s + mutants_s):.2f}",
        str(mutants),
        f"{score:.2f}",
        str(sum(m.mutants == 0 for m in mutation)),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("languages", nargs="*", default=[language.value for language in Language])
    parser.add_argument("--mutants", type=int, default=5)
    args = parser.parse_args()
    print(
        f"{platform.node()}: {usable_cpus()} CPUs, load {os.getloadavg()[0]:.1f}, k={args.mutants}"
    )
    print()
    print(
        "| language | seeds passing | programs/s (build + tests) | programs/s with mutants "
        "| mutants run | mean mutation score | seeds with no mutant |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name in args.languages:
        print("| " + " | ".join(measure(Language(name), args.mutants)) + " |", flush=True)


if __name__ == "__main__":
    main()
