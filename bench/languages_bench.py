"""Programs per second in each language the sandbox runs, and the seeds' mutation scores.

Run from the repository root (results are recorded in bench/RESULTS-sandbox.md):

    nice -n 10 .venv/bin/python bench/languages_bench.py [cpp java ...]

For each language: its 30 shipped seeds (seeds/<language>.jsonl) through run_many, every
build from cold (the artefact cache cleared first): compile + tests, programs per second;
then `k` mutants of each seed (the loop's execution.mutants default, 5), each built and
run: programs per second with mutants, the mean mutation score, and how many seeds have
no mutant. Python's 125 seeds are measured the same way for comparison.

The ceiling: the same seeds built and run by the bare toolchain, no sandbox (the solution
and its tests as one file, as sandbox/remote.py sends them; same compiler flags; two at a
time), for C++, Java, JavaScript and Rust (Go's tests need a harness to run at all).
Prints Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

from genetic_instruct.files.shipped import language_seeds_path
from genetic_instruct.languages import Language
from genetic_instruct.sandbox import SandboxLimits, artefacts, run_many
from genetic_instruct.sandbox.mutation_score import TestedProgram, mutation_results
from genetic_instruct.sandbox.remote import program_text
from genetic_instruct.sandbox.runner import usable_cpus
from genetic_instruct.sandbox.toolchains import cpp, java, rust, toolchain

LIMITS = SandboxLimits(wall_seconds=60)


def seeds(language: Language) -> list[dict]:
    path = language_seeds_path(language.value)
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def bare_run(language: Language, solution: str, tests: str) -> bool:
    """Build and run one seed with the bare toolchain in a temporary folder; passed?"""
    tools = toolchain(language).tools
    text = program_text(solution, tests, language)
    with tempfile.TemporaryDirectory() as folder:
        if language is Language.javascript:
            steps = [[tools["node"], "program.js"]]
            name = "program.js"
        elif language is Language.cpp:
            steps = [[tools["g++"], *cpp.FLAGS, "-o", "program", "program.cpp"], ["./program"]]
            name = "program.cpp"
        elif language is Language.rust:
            rustc = [tools["rustc"], *rust.FLAGS, "-C", f"linker={tools['cc']}"]
            steps = [[*rustc, "-o", "program", "program.rs"], ["./program"]]
            name = "program.rs"
        else:
            steps = [
                [tools["javac"], *(f"-J{f}" for f in java.JVM_FLAGS), "-d", ".", "Main.java"],
                [tools["java"], *java.JVM_FLAGS, "-ea", "-cp", ".", "Main"],
            ]
            name = "Main.java"
        with open(os.path.join(folder, name), "w") as file:
            file.write(text)
        for step in steps:
            done = subprocess.run(step, cwd=folder, capture_output=True, timeout=120)
            if done.returncode != 0:
                return False
    return True


def ceiling(language: Language) -> str:
    """Programs per second of the bare toolchain on the seeds, two at a time."""
    if language in (Language.python, Language.go):
        return "-"
    tasks = seeds(language)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=usable_cpus()) as pool:
        passed = list(pool.map(lambda s: bare_run(language, s["solution"], s["tests"]), tasks))
    seconds = time.perf_counter() - started
    return f"{len(tasks) / seconds:.2f} ({sum(passed)}/{len(tasks)} pass)"


def measure(language: Language, k: int) -> tuple[str, ...]:
    tasks = seeds(language)
    artefacts.clear()
    started = time.perf_counter()
    results = run_many([(s["solution"], s["tests"], language) for s in tasks], LIMITS)
    plain_s = time.perf_counter() - started
    passed = sum(r.status == "passed" for r in results)
    programs = [
        TestedProgram(s["solution"], s["tests"], r.runtime_s + r.compile_s, language)
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
        ceiling(language),
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
        "| mutants run | mean mutation score | seeds with no mutant "
        "| bare toolchain programs/s |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name in args.languages:
        print("| " + " | ".join(measure(Language(name), args.mutants)) + " |", flush=True)


if __name__ == "__main__":
    main()
