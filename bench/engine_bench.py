"""Engine throughput: the full loop against the raw engine on the same prompts, both engines.

For each engine, (b) a small real run (`run.job.run`) goes through a recording wrapper that
keeps every batch the loop sent; then (a) the same batches are replayed straight into the
raw engine: `VLLMEngine.generate` for vLLM offline; for the server, `OpenAIEngine.generate`
and a bare aiohttp client at the same concurrency. The loop's output tokens/s as a share of
the raw engine's is the figure the issue wants at 95% or more. Scaling tables follow:
throughput against batch size (offline) and against requests in flight (server).

Prefix caching is off in both engines: the replay sends prompts the loop has just sent, and
a warm cache would make the raw engine faster for a reason that has nothing to do with our
code. Both runs start after a warm-up that includes a JSON-schema request, so grammar
compilation is paid before either is timed.

Run from the repository root when no other vLLM runs (one engine at a time on 2 cores);
results are recorded in bench/RESULTS-engine.md:

    .venv/bin/python -m bench.engine_bench                      # both engines, ~10 min
    .venv/bin/python -m bench.engine_bench --engines openai --offspring 4   # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import aiohttp

from genetic_instruct.config import Config, ModelConfig
from genetic_instruct.evolution.roles.judge import JUDGE_SCHEMA
from genetic_instruct.llm.base import ChatRequest, Completion, CompletionCallback, Engine, Sampling
from genetic_instruct.llm.openai_engine import OpenAIEngine
from genetic_instruct.llm.openai_wire import CHAT_PATH, chat_payload, parse_chat_response
from genetic_instruct.run.job import run
from tests.conftest import make_config
from tests.vllm_server import SERVED_NAME, vllm_server

Batches = list[list[ChatRequest]]
Replay = Callable[[Batches], list[Completion]]
_TASKS = (
    "reverses the words of a sentence", "merges two sorted lists", "counts vowels",
    "checks for balanced brackets", "finds the median of a list", "parses an ISO date",
    "computes a running average", "groups anagrams", "flattens a nested list",
    "returns the n-th Fibonacci number", "validates an IPv4 address", "rotates a matrix",
)  # fmt: skip


@dataclass(frozen=True)
class Row:
    engine: str
    path: str
    requests: int
    tokens: int  # output (completion) tokens
    seconds: float
    # The loop's own time: wall time outside the engine's generate (seeds, prompts, parsing,
    # dedup, SQLite, export). Exact, unlike a difference of two noisy wall-clock runs.
    outside_engine_s: float | None = None

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds


class RecordingEngine:
    """Passes the loop's calls through, keeping each batch it sent and the tokens it got."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.model_name = engine.model_name
        self.batches: Batches = []
        self.tokens = 0
        self.seconds = 0.0  # inside the engine's generate

    def generate(
        self, requests: Sequence[ChatRequest], on_complete: CompletionCallback | None = None
    ) -> list[Completion]:
        self.batches.append(list(requests))
        started = time.perf_counter()
        answers = self.engine.generate(requests, on_complete)
        self.seconds += time.perf_counter() - started
        self.tokens += sum(c.completion_tokens for c in answers)
        return answers

    def close(self) -> None:  # the benchmark owns the engine
        pass


def loop_row(label: str, engine: Engine, args: argparse.Namespace) -> tuple[Row, Batches]:
    """(b): one generation of a real run, timed end to end (seeds, dedup, SQLite, export)."""
    recorder = RecordingEngine(engine)
    with tempfile.TemporaryDirectory() as tmp:
        cfg: Config = make_config(
            f"run_dir={Path(tmp) / 'run'}",
            "progress=false",
            f"seed={args.seed}",
            "evolution.max_generations=1",
            "evolution.target_size=100000",
            f"evolution.colonies={args.colonies}",
            f"evolution.offspring_per_colony={args.offspring}",
            # Each stage lasts as long as its longest answer (one stream decodes at ~6-8
            # tokens/s here), so shorter answers keep the run inside ten minutes.
            f"roles.instructor.max_tokens={args.answer_tokens}",
            f"roles.coder.max_tokens={args.answer_tokens}",
        )
        started = time.perf_counter()
        run(cfg, engines={"default": recorder})
        seconds = time.perf_counter() - started
    requests = sum(map(len, recorder.batches))
    row = Row(
        label,
        "loop: run.job.run",
        requests,
        recorder.tokens,
        seconds,
        outside_engine_s=seconds - recorder.seconds,
    )
    return progress(row), recorder.batches


def replay_row(label: str, path: str, replay: Replay, batches: Batches) -> Row:
    """(a): the recorded batches, in order, one after another as the loop's stages were."""
    started = time.perf_counter()
    answers = replay(batches)
    seconds = time.perf_counter() - started
    failed = sum(c.error is not None for c in answers)
    assert failed == 0, f"{failed} requests failed in {label} {path}"
    tokens = sum(c.completion_tokens for c in answers)
    return progress(Row(label, path, len(answers), tokens, seconds))


def progress(row: Row) -> Row:
    """Each row on stderr as it is measured: a long run shows where it is."""
    print(
        f"{row.engine} | {row.path}: {row.tokens} tokens in {row.seconds:.1f} s "
        f"({row.tokens_per_s:.1f}/s); load {os.getloadavg()[0]:.2f}",
        file=sys.stderr,
    )
    return row


def engine_replay(engine: Engine) -> Replay:
    return lambda batches: [c for batch in batches for c in engine.generate(batch)]


def bare_http_replay(base_url: str, concurrency: int) -> Replay:
    """The plainest async client at the same concurrency: no retries, balancing or thread."""

    async def replay(batches: Batches) -> list[Completion]:
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:
            slots = asyncio.Semaphore(concurrency)

            async def one(request: ChatRequest) -> Completion:
                async with (
                    slots,
                    session.post(
                        base_url + CHAT_PATH, json=chat_payload(SERVED_NAME, request)
                    ) as response,
                ):
                    return parse_chat_response(await response.json())

            answers: list[Completion] = []
            for batch in batches:
                answers += await asyncio.gather(*(one(r) for r in batch))
            return answers

    return lambda batches: asyncio.run(replay(batches))


def synthetic_requests(n: int, max_tokens: int) -> list[ChatRequest]:
    return [
        ChatRequest(
            (("user", f"Write a Python function that {_TASKS[i % len(_TASKS)]}. Variant {i}."),),
            Sampling(0.8, 0.95, max_tokens),
            seed=i,
        )
        for i in range(n)
    ]


def warm_up(engine: Engine) -> None:
    judge = ChatRequest(
        (("user", "Rate this solution: print(1)"),),
        Sampling(0.0, 1.0, 48),
        seed=0,
        json_schema=JUDGE_SCHEMA,
    )
    engine.generate(synthetic_requests(4, 16) + [judge])


def bench_vllm(args: argparse.Namespace) -> list[list[Row]]:
    from genetic_instruct.llm.vllm_engine import VLLMEngine

    engine = VLLMEngine(ModelConfig(engine_args={"enable_prefix_caching": False}))
    try:
        warm_up(engine)
        loop, batches = loop_row("vllm offline", engine, args)
        raw = replay_row("vllm offline", "raw: VLLMEngine.generate", engine_replay(engine), batches)
        scaling = [
            replay_row(
                "vllm offline",
                f"batch {size}",
                engine_replay(engine),
                [synthetic_requests(size, args.scale_tokens)],
            )
            for size in args.batch_sizes
        ]
    finally:
        engine.close()
    return [[raw, loop], scaling]


@contextmanager
def served_engine(base_url: str, concurrency: int) -> Iterator[OpenAIEngine]:
    model = ModelConfig(
        path=SERVED_NAME, engine="openai", base_urls=[base_url], max_concurrency=concurrency
    )
    engine = OpenAIEngine(model)
    try:
        yield engine
    finally:
        engine.close()


def bench_openai(args: argparse.Namespace) -> list[list[Row]]:
    label = f"openai (vllm serve), concurrency {args.concurrency}"
    with vllm_server(extra_args=["--no-enable-prefix-caching"]) as base_url:
        with served_engine(base_url, args.concurrency) as engine:
            warm_up(engine)
            loop, batches = loop_row(label, engine, args)
            raw = replay_row(label, "raw: OpenAIEngine.generate", engine_replay(engine), batches)
        bare = replay_row(
            label, "raw: bare aiohttp client", bare_http_replay(base_url, args.concurrency), batches
        )
        scaling = []
        for concurrency in args.concurrencies:
            with served_engine(base_url, concurrency) as engine:
                requests = synthetic_requests(max(4, concurrency), args.scale_tokens)
                scaling.append(
                    replay_row(
                        "openai (vllm serve)",
                        f"concurrency {concurrency}",
                        engine_replay(engine),
                        [requests],
                    )
                )
        # The engine and the bare client in turns on one batch: how far apart two runs of
        # the same work land here, i.e. how much of a difference above is noise.
        n = args.ab_requests
        same = [synthetic_requests(n, args.scale_tokens)]
        turns = []
        with served_engine(base_url, n) as engine:
            for turn in range(1, args.ab_turns + 1):
                pair = [
                    ("OpenAIEngine", engine_replay(engine)),
                    ("bare aiohttp", bare_http_replay(base_url, n)),
                ]
                for name, replay in pair if turn % 2 else pair[::-1]:  # who goes first alternates
                    turns.append(
                        replay_row(f"openai, {n} at once", f"turn {turn}: {name}", replay, same)
                    )
    return [[bare, raw, loop], scaling, turns]


def table(rows: Sequence[Row], loop: Row | None = None) -> str:
    head = "| engine | path | requests | output tokens | s | tokens/s |"
    rule = "| --- | --- | ---: | ---: | ---: | ---: |"
    if loop is not None:
        head, rule = head + " loop as % of this |", rule + " ---: |"
    lines = [head, rule]
    for row in rows:
        line = (
            f"| {row.engine} | {row.path} | {row.requests} | {row.tokens} | "
            f"{row.seconds:.1f} | {row.tokens_per_s:.1f} |"
        )
        if loop is not None:
            line += f" {100 * loop.tokens_per_s / row.tokens_per_s:.1f}% |"
        lines.append(line)
    return "\n".join(lines)


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs, {memory:.0f} GiB, load average {load}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default="vllm,openai")
    parser.add_argument("--colonies", type=int, default=2)
    parser.add_argument("--offspring", type=int, default=4, help="per colony, one generation")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--concurrency", type=int, default=64, help="server: loop and replay")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[4, 8, 16, 32])
    parser.add_argument("--concurrencies", type=int, nargs="+", default=[1, 4, 16, 32])
    parser.add_argument("--scale-tokens", type=int, default=32, help="max tokens, scaling rows")
    parser.add_argument(
        "--answer-tokens",
        type=int,
        default=96,
        help="max tokens of instructor and coder answers in the loop",
    )
    parser.add_argument("--ab-requests", type=int, default=16)
    parser.add_argument("--ab-turns", type=int, default=2)
    args = parser.parse_args()
    benches = {"vllm": bench_vllm, "openai": bench_openai}
    print(f"{datetime.now(timezone.utc):%Y-%m-%dT%H:%MZ}; {machine()}")
    for name in args.engines.split(","):
        started = time.perf_counter()
        comparison, *others = benches[name](args)
        loop = comparison[-1]
        print(f"\n### {name} ({time.perf_counter() - started:.0f} s; {machine()})\n")
        print(table(comparison, loop=loop))
        assert loop.outside_engine_s is not None
        print(
            f"\nThe loop's own time (outside generate): {loop.outside_engine_s:.2f} s of "
            f"{loop.seconds:.1f} s ({100 * loop.outside_engine_s / loop.seconds:.2f}%)."
        )
        for rows in others:
            print()
            print(table(rows))


if __name__ == "__main__":  # vLLM spawns its engine processes: they must not rerun main()
    main()
