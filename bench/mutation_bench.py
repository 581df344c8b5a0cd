"""Test strength of the builtin seeds, and what mutation testing costs per task.

Run from the repository root (results are recorded in bench/RESULTS.md):

    nice -n 10 .venv/bin/python bench/mutation_bench.py [--mutants 5] [--seed 0]

For every builtin seed, its reference tests run against up to `--mutants` mutants of its
reference solution in the sandbox (as the loop does for each offspring whose tests pass),
with the loop's limits for mutants (sandbox/mutation_score.mutant_limits), and the plain test run
is timed beside it for comparison. Prints Markdown: the mean
mutation score, its distribution, the kill rate per operator, the seeds below 0.8 with the
operators whose mutants survived, and seconds per task.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter

from genetic_instruct.files.shipped import BUILTIN
from genetic_instruct.sandbox import SandboxLimits, run_many
from genetic_instruct.sandbox.mutants import mutants
from genetic_instruct.sandbox.mutation_score import mutant_limits
from genetic_instruct.sandbox.runner import usable_cpus
from genetic_instruct.seeding.seed_file import load_seeds

WEAK = 0.8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    seeds = load_seeds(BUILTIN)
    limits = SandboxLimits()
    load_before = os.getloadavg()[0]

    start = time.monotonic()
    made = [mutants(s.solution, args.mutants, args.seed) for s in seeds]
    making_s = time.monotonic() - start

    start = time.monotonic()
    plain = run_many([(s.solution, s.tests or "") for s in seeds], limits)
    plain_s = time.monotonic() - start

    jobs = [(m.source, s.tests or "") for s, ms in zip(seeds, made) for m in ms]
    job_limits = [mutant_limits(limits, r.runtime_s) for r, ms in zip(plain, made) for _ in ms]
    start = time.monotonic()
    outcomes = iter(run_many(jobs, job_limits))
    mutation_s = time.monotonic() - start

    tried: Counter[str] = Counter()
    killed: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    scores, weak = [], []
    for seed, ms in zip(seeds, made):
        survivors = []
        for mutant in ms:
            status = next(outcomes).status
            statuses[status] += 1
            tried[mutant.operator] += 1
            if status == "passed":
                survivors.append(mutant.operator)
            else:
                killed[mutant.operator] += 1
        score = (len(ms) - len(survivors)) / len(ms) if ms else 0.0
        scores.append(score)
        if score < WEAK:
            weak.append((seed.id, score, len(ms), survivors))

    n = len(seeds)
    not_passing = sum(r.status != "passed" for r in plain)
    print(
        f"seeds: {n} ({not_passing} failing their own tests); mutants per task: "
        f"{args.mutants}; CPUs used: {usable_cpus()}; load average before: {load_before:.1f}, "
        f"after: {os.getloadavg()[0]:.1f}\n"
    )
    print(
        f"**mean mutation score: {sum(scores) / n:.3f}** "
        f"(mutants made: {len(jobs)}, {len(jobs) / n:.2f} a task)\n"
    )
    print("| score | seeds |\n| --- | ---: |")
    for value, count in sorted(Counter(f"{s:.1f}" for s in scores).items()):
        print(f"| {value} | {count} |")
    print("\n| operator | mutants | killed | kill rate |\n| --- | ---: | ---: | ---: |")
    for name in sorted(tried):
        print(f"| {name} | {tried[name]} | {killed[name]} | {killed[name] / tried[name]:.2f} |")
    print(f"\nmutant outcomes: {dict(statuses)}\n")
    print(f"seeds below {WEAK}: {len(weak)}")
    for seed_id, score, count, survivors in weak:
        print(f"- {seed_id}: {score:.2f} of {count}; survived: {', '.join(survivors)}")
    print("\n| per task | seconds |\n| --- | ---: |")
    print(f"| making mutants | {making_s / n:.4f} |")
    print(f"| tests on the solution (run_many) | {plain_s / n:.3f} |")
    print(f"| tests on its mutants (run_many) | {mutation_s / n:.3f} |")


if __name__ == "__main__":
    main()
