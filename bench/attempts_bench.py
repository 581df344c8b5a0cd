"""Several attempts per task: the test oracle's quality on the builtin seeds, and what a kept
row costs in tokens with k = 1 and k = 4 attempts.

Run from the repository root (results are recorded in bench/RESULTS.md):

    nice -n 10 .venv/bin/python -m bench.attempts_bench [--generations 3] [--offspring 24]
        [--voters 3] [--skip-cost]

The oracle: every builtin seed with asserts gets one wrong assert added (a right one with
its expected value changed), and programs of known standing vote on it as independent
attempts do (calibration/test_oracle.py): the reference and its equivalent mutants are
right, mutants failing the seed's asserts wrong. For 1 to 3 voters and each number of
them right: the kept asserts' recall (references accepted) and precision (right programs
among those accepted), how often the wrong assert was voted out, and how many right ones
were. The cost: the same scripted-engine run (same seed) with execution.attempts 1 and 4,
tokens per kept row by role from its report (the scripted engine counts words as tokens:
the ratio between k = 1 and k = 4 is the figure, not the absolute count).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from genetic_instruct.calibration.test_oracle import measure_test_oracle
from genetic_instruct.files.shipped import BUILTIN
from genetic_instruct.report import build_report
from genetic_instruct.run.job import run
from genetic_instruct.sandbox import SandboxLimits
from genetic_instruct.seeding.seed_file import load_seeds
from genetic_instruct.state.store import RunStore
from tests.conftest import make_config


def oracle_tables(voters: list[int]) -> None:
    seeds = load_seeds(BUILTIN)
    print(
        "| voters | right | tasks | recall | precision | wrong assert voted out "
        "| right asserts voted out |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for independent in voters:
        start = time.monotonic()
        found = measure_test_oracle(seeds, SandboxLimits(), independent, len(seeds), seed=0)
        seconds = time.monotonic() - start
        for right, scores in found.by_right.items():
            print(
                f"| {independent} | {right} | {scores['tasks']} | {_share(scores['recall'])} | "
                f"{_share(scores['precision'])} | {_share(scores['wrong_assert_dropped'])} | "
                f"{scores['right_asserts_dropped']} |"
            )
        written = found.as_written
        print(
            f"| {independent} | (no vote) | {written['tasks']} | {_share(written['recall'])} | "
            f"{_share(written['precision'])} | - | - |"
        )
        print(f"<!-- {found.tasks} usable seed tasks; {seconds:.1f} s -->")


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def cost(attempts: int, generations: int, offspring: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        cfg = make_config(
            "engine=scripted",
            "progress=false",
            f"run_dir={Path(folder) / 'run'}",
            "evolution.target_size=100000",
            f"evolution.max_generations={generations}",
            f"evolution.offspring_per_colony={offspring}",
            "execution.min_pass_fraction=1.0",
            f"execution.attempts={attempts}",
            "execution.oracle_seeds=0",
            "execution.mutants=0",
        )
        start = time.monotonic()
        result = run(cfg)
        seconds = time.monotonic() - start
        with RunStore(cfg.run_dir) as store:
            report = build_report(store, cfg)
    return {
        "kept": report["acceptance"]["accepted"],
        "tried": report["acceptance"]["tried"],
        "tokens": report["tokens_per_accepted"],
        "seconds": seconds,
        "exported": result.exported,
    }


def cost_table(generations: int, offspring: int) -> None:
    found = {k: cost(k, generations, offspring) for k in (1, 4)}
    roles = ["instructor", "coder", "solver", "judge", "all"]
    print("| k | tried | kept | " + " | ".join(f"{r} tokens/row" for r in roles) + " | seconds |")
    print("| ---: | ---: | ---: | " + " | ".join("---:" for _ in roles) + " | ---: |")
    for k, row in found.items():
        per = " | ".join(f"{row['tokens'][r]['total'] or 0:,.0f}" for r in roles)
        print(f"| {k} | {row['tried']} | {row['kept']} | {per} | {row['seconds']:.1f} |")
    one, four = (found[k]["tokens"]["all"]["total"] for k in (1, 4))
    print(f"\nk=4 / k=1 tokens per kept row: {four / one:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=3)
    parser.add_argument("--offspring", type=int, default=24)
    parser.add_argument("--voters", type=int, nargs="*", default=[3])  # k - 1
    parser.add_argument("--skip-cost", action="store_true")
    args = parser.parse_args()
    oracle_tables(args.voters)
    if not args.skip_cost:
        print()
        cost_table(args.generations, args.offspring)


if __name__ == "__main__":
    main()
