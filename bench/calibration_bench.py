"""What judge calibration costs, per task and as a share of a run, on the embedded model.

Run from the repository root when no other vLLM runs (results go to bench/RESULTS.md):

    .venv/bin/python -m bench.calibration_bench [--tasks 12] [--faulty 1]

Loads the embedded model once, then in one process: (1) calibrates its judge on `--tasks`
seed tasks with `--faulty` faulty variants each (the demo's settings by default), timing the
sandbox part (running references and mutants) and the judge part apart; (2) runs one demo
generation with the same engine (calibration off) to compare. Prints Markdown.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from genetic_instruct.calibration import calibrate
from genetic_instruct.console.display import RunDisplay
from genetic_instruct.executors import open_executor
from genetic_instruct.files.shipped import BUILTIN
from genetic_instruct.llm.vllm_engine import VLLMEngine
from genetic_instruct.run.job import run
from genetic_instruct.seeding.seed_file import load_seeds
from genetic_instruct.state.store import RunStore
from tests.conftest import make_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=12)
    parser.add_argument("--faulty", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    work = Path(tempfile.mkdtemp(prefix="calibration-bench-"))
    cfg = make_config(
        f"run_dir={work / 'calibrated'}",
        "progress=false",
        f"calibration.tasks={args.tasks}",
        f"calibration.faulty_per_task={args.faulty}",
    )
    engine = VLLMEngine(cfg.models["default"])
    display = RunDisplay(False)
    try:
        store = RunStore(cfg.run_dir)
        executor = open_executor(cfg, {"default": engine}, display)
        found = calibrate(
            cfg, store, executor, display, load_seeds(BUILTIN), (), cfg.execution.sandbox_limits()
        )
        store.close()
        demo = make_config(
            f"run_dir={work / 'demo'}",
            "progress=false",
            "fitness.threshold=1",
            "evolution.max_generations=1",
        )
        start = time.monotonic()
        run(demo, engines={"default": engine})
        generation_s = time.monotonic() - start
    finally:
        engine.close()
    judged = found.correct + found.faulty + sum(found.unreadable.values())
    total = sum(found.seconds.values())
    print(f"| tasks / judged solutions | {found.tasks} / {judged} |")
    print(
        f"| sandbox (references + mutants) | {found.seconds['sandbox']} s "
        f"({found.seconds['sandbox'] / found.tasks:.2f} s a task) |"
    )
    print(
        f"| judge calls | {found.seconds['judge']} s "
        f"({found.seconds['judge'] / found.tasks:.2f} s a task) |"
    )
    print(f"| calibration in all | {total:.1f} s ({total / found.tasks:.2f} s a task) |")
    print(f"| one demo generation (seeds, screening, 12 offspring) | {generation_s:.1f} s |")
    print(f"| calibration / one demo generation | {total / generation_s:.2f} |")
    print(f"| outcome | {found.line()} |")


if __name__ == "__main__":
    main()
