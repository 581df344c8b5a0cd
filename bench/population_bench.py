"""The whole loop up to an 800,000 population: overhead per offspring, memory, export, resume.

Runs `run.job.run` (the same code path and config system as the CLI) on the synthetic
`engine=scripted` (instant, deterministic answers with malformed ones and near-copies),
then, in fresh processes, a full export of the finished run and a resume probe. What is
timed as the loop's own cost is the wall time of each generation minus the time the engine
spends making answers; the journal writes that run in the engine's per-answer callback are
counted as the loop's, not the engine's. On a shared machine wall time is mostly waiting
for a core, so the loop's own CPU time is measured too: the process's CPU time less the
engine thread's CPU time inside `generate`.

Execution in the sandbox is off (it runs at ~30 programs/s on this machine: 800k offspring
would take days; bench/sandbox_bench.py measures it), everything else is the default path:
decontamination against HumanEval, dedup of instructions, the judge, commits, the export
growing after every generation, the progress display (off: no terminal in a benchmark).

    .venv/bin/python -m bench.population_bench --target 800000     # ~1 hour here
    .venv/bin/python -m bench.population_bench --target 20000 --marks 1000 10000  # a look
    # a few more generations of a run grown before (a copy of it), without its export:
    .venv/bin/python -m bench.population_bench --continue-from /tmp/pop800k \
        --run-dir /tmp/pop800k-more --target 860000 --marks 800000 --no-finish
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from bench.memory import peak_rss_gb
from genetic_instruct.config import Config
from genetic_instruct.llm.base import ChatRequest, Completion, CompletionCallback, Engine
from genetic_instruct.llm.scripted import ScriptedEngine
from genetic_instruct.run.job import run
from genetic_instruct.state.generation_stats import GenerationStats
from tests.conftest import make_config

# Output tokens per offspring a real run pays for (instructor share, coder, judge), and a
# typical GPU engine's output rate: what the loop's own time is compared against.
TOKENS_PER_OFFSPRING = 700
ENGINE_TOKENS_PER_S = 2000.0


class TimedEngine:
    """Wraps an engine and keeps the time it spends answering, less the caller's callbacks:
    wall time, and the CPU time of the thread that calls it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.model_name = engine.model_name
        self.seconds = 0.0
        self.cpu_seconds = 0.0

    def generate(
        self, requests: Sequence[ChatRequest], on_complete: CompletionCallback | None = None
    ) -> list[Completion]:
        in_callbacks = 0.0
        cpu_in_callbacks = 0.0

        def timed(i: int, completion: Completion) -> None:
            nonlocal in_callbacks, cpu_in_callbacks
            started, cpu_started = time.perf_counter(), time.thread_time()
            if on_complete is not None:
                on_complete(i, completion)
            in_callbacks += time.perf_counter() - started
            cpu_in_callbacks += time.thread_time() - cpu_started

        started, cpu_started = time.perf_counter(), time.thread_time()
        answers = self.engine.generate(requests, timed)
        self.seconds += time.perf_counter() - started - in_callbacks
        self.cpu_seconds += time.thread_time() - cpu_started - cpu_in_callbacks
        return answers

    def close(self) -> None:
        self.engine.close()


@dataclass
class Generation:
    population: int
    tried: int
    wall_s: float
    engine_s: float
    peak_rss_gb: float
    cpu_s: float = 0.0  # the process's CPU time
    engine_cpu_s: float = 0.0

    @property
    def overhead_ms(self) -> float:
        """The loop's own time per offspring tried."""
        return 1000 * (self.wall_s - self.engine_s) / max(self.tried, 1)

    @property
    def own_cpu_ms(self) -> float:
        """The loop's own CPU time per offspring tried."""
        return 1000 * (self.cpu_s - self.engine_cpu_s) / max(self.tried, 1)


@dataclass
class Growth:
    generations: list[Generation] = field(default_factory=list)
    wall_s: float = 0.0


def config(run_dir: Path, target: int, per_generation: int, *more: str) -> Config:
    colonies = 8
    return make_config(
        *more,
        "engine=scripted",
        f"run_dir={run_dir}",
        "progress=false",
        f"evolution.target_size={target}",
        "evolution.max_generations=0",
        f"evolution.colonies={colonies}",
        f"evolution.offspring_per_colony={per_generation // colonies}",
        "execution.enabled=false",
        "fitness.threshold=5",
        "models.default.engine_args.malformed_rate=0.05",
    )


def scripted_engine(cfg: Config) -> ScriptedEngine:
    model = cfg.models["default"]
    return ScriptedEngine(model.path, **model.engine_args)


def grow(cfg: Config, every: int = 10) -> Growth:
    """Run to the config's target; a line every `every` generations."""
    engine = TimedEngine(scripted_engine(cfg))
    growth = Growth()
    population = 0
    # wall clock, engine seconds, process CPU and engine CPU at the last generation
    last = [time.perf_counter(), 0.0, time.process_time(), 0.0]

    def on_generation(_generation: int, stats: GenerationStats) -> None:
        nonlocal population
        now, cpu = time.perf_counter(), time.process_time()
        population += stats.accepted
        rss = peak_rss_gb()
        growth.generations.append(
            Generation(
                population,
                stats.tried,
                now - last[0],
                engine.seconds - last[1],
                rss,
                cpu - last[2],
                engine.cpu_seconds - last[3],
            )
        )
        last[:] = [now, engine.seconds, cpu, engine.cpu_seconds]
        if len(growth.generations) % every == 0:
            latest = growth.generations[-1]
            print(
                f"  population {population:,}: {latest.overhead_ms:.2f} ms per offspring "
                f"outside the engine ({latest.own_cpu_ms:.2f} ms of CPU), peak RSS {rss:.2f} GB",
                flush=True,
            )

    started = time.perf_counter()
    result = run(cfg, engines={"default": engine}, on_generation=on_generation)
    growth.wall_s = time.perf_counter() - started
    seeds = result.population - population
    for g in growth.generations:
        g.population += seeds
    return growth


def timed_command(args: Sequence[str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, check=True)
    return time.perf_counter() - started, done.stdout


def resume_probe(run_dir: str, target: int, per_generation: int) -> None:
    """In a fresh process: the time from start until a resumed run sends its first request."""
    started = time.perf_counter()

    class FirstRequest(Exception):
        pass

    class Probe(ScriptedEngine):
        def generate(self, requests, on_complete=None):  # type: ignore[no-untyped-def]
            raise FirstRequest

    cfg = config(Path(run_dir), target, per_generation)
    try:
        run(cfg, engines={"default": Probe(cfg.models["default"].path)})
    except FirstRequest:
        print(
            json.dumps(
                {
                    "resume_s": time.perf_counter() - started,
                    "peak_rss_gb": peak_rss_gb(),
                }
            )
        )


def around(generations: list[Generation], mark: int, span: int = 3) -> list[Generation]:
    """The generations just after the population passed `mark`."""
    after = [i for i, g in enumerate(generations) if g.population >= mark]
    if not after:
        return []
    return generations[max(after[0] - 1, 0) : after[0] - 1 + span]


def report(growth: Growth, marks: Sequence[int]) -> str:
    engine_ms = 1000 * TOKENS_PER_OFFSPRING / ENGINE_TOKENS_PER_S
    lines = [
        "| population | generations averaged | offspring tried | loop's own ms per offspring "
        "| its CPU ms per offspring "
        f"| share of wall time next to a {ENGINE_TOKENS_PER_S:,.0f} tok/s engine "
        "| peak RSS so far |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for mark in marks:
        near = around(growth.generations, mark)
        if not near:
            continue
        tried = sum(g.tried for g in near)
        own_ms = 1000 * sum(g.wall_s - g.engine_s for g in near) / tried
        cpu_ms = 1000 * sum(g.cpu_s - g.engine_cpu_s for g in near) / tried
        lines.append(
            f"| {near[-1].population:,} | {len(near)} | {tried:,} | {own_ms:.2f} | {cpu_ms:.2f} "
            f"| {100 * own_ms / (own_ms + engine_ms):.2f}% | {near[-1].peak_rss_gb:.2f} GB |"
        )
    total_tried = sum(g.tried for g in growth.generations)
    own = sum(g.wall_s - g.engine_s for g in growth.generations)
    own_cpu = sum(g.cpu_s - g.engine_cpu_s for g in growth.generations)
    engine = sum(g.engine_s for g in growth.generations)
    lines += [
        "",
        f"Whole run: {len(growth.generations)} generations, {total_tried:,} offspring tried, "
        f"final population {growth.generations[-1].population:,}, {growth.wall_s / 60:.1f} min "
        f"wall ({own / 60:.1f} min the loop's own, {engine / 60:.1f} min the synthetic engine); "
        f"{1000 * own / total_tried:.2f} ms per offspring on average "
        f"({1000 * own_cpu / total_tried:.2f} ms of CPU); peak RSS "
        f"{max(g.peak_rss_gb for g in growth.generations):.2f} GB.",
        f"A real engine at {ENGINE_TOKENS_PER_S:,.0f} tok/s and {TOKENS_PER_OFFSPRING} output "
        f"tokens per offspring spends {engine_ms:.0f} ms per offspring.",
    ]
    return "\n".join(lines)


def finish(run_dir: Path, population: int, per_generation: int) -> str:
    """A full export and a resume of the finished run, each in a fresh process."""
    exported = run_dir / "export-again.jsonl"
    export_s, _ = timed_command(
        [
            str(Path(sys.executable).parent / "genetic-instruct"),
            "export",
            "engine=scripted",
            f"run_dir={run_dir}",
            f"export.path={exported}",
        ]
    )
    probe_wall_s, out = timed_command(
        [
            sys.executable,
            "-m",
            "bench.population_bench",
            "--resume-probe",
            str(run_dir),
            "--target",
            str(population + 1),
            "--per-generation",
            str(per_generation),
        ]
    )
    resume = json.loads(out.strip().splitlines()[-1])
    return (
        f"Full export of the finished run to a new file (`genetic-instruct export`, fresh "
        f"process): {export_s:.1f} s for {exported.stat().st_size / 2**30:.2f} GiB.\n"
        f"Resume of the finished run up to its first request (fresh process): "
        f"{resume['resume_s']:.1f} s after imports ({probe_wall_s:.1f} s for the whole "
        f"process), peak RSS {resume['peak_rss_gb']:.2f} GB."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=int, default=800_000)
    parser.add_argument(
        "--per-generation",
        type=int,
        default=20_000,
        help="offspring asked for per generation (over 8 colonies)",
    )
    parser.add_argument("--marks", type=int, nargs="+", default=[10_000, 100_000, 790_000])
    parser.add_argument("--run-dir", type=Path, default=None, help="keep the run here")
    parser.add_argument(
        "--continue-from", type=Path, default=None, help="grow a copy of this run further"
    )
    parser.add_argument("--every", type=int, default=10, help="a line every N generations")
    parser.add_argument(
        "--no-finish", action="store_true", help="no full export and resume probe at the end"
    )
    parser.add_argument("--resume-probe", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.resume_probe:
        resume_probe(args.resume_probe, args.target, args.per_generation)
        return
    run_dir = args.run_dir or Path(tempfile.mkdtemp(prefix="population-bench-"))
    if args.continue_from:
        shutil.rmtree(run_dir, ignore_errors=True)
        shutil.copytree(args.continue_from, run_dir)
    print(f"{datetime.now(timezone.utc):%Y-%m-%dT%H:%MZ}; run directory {run_dir}", flush=True)
    # a run grown by another version of the code: its settings are the same
    more = ["force_resume=true"] if args.continue_from else []
    growth = grow(config(run_dir, args.target, args.per_generation, *more), args.every)
    if args.continue_from:  # its first generation's time holds the resume's
        growth.generations = growth.generations[1:]
    print()
    print(report(growth, [*args.marks]))
    if not args.no_finish:
        print(finish(run_dir, growth.generations[-1].population, args.per_generation))


if __name__ == "__main__":
    main()
