"""Streaming: the loop against the ceiling of the engine it drives, in one run.

Server: one `vllm serve` of the embedded model (float32, prefix caching off). For each
generation size, (b) the loop (`run.job.run`, one generation, mutation only, execution off,
instructor / coder / judge max_tokens 256 / 512 / 128, OpenAIEngine at `--concurrency`)
through a wrapper that records every request it sent; then (a) the raw ceiling: those same
requests (same prompts, max_tokens and seeds) sent all at once by a bare aiohttp client at
the same concurrency. Completion tokens come from the server's /metrics
(vllm:generation_tokens_total) over each one's wall time; the loop's ratio to (a) is the
figure the issue wants at 0.90 or more.

Offline: the same for vLLM's offline engine: the loop (its stream) against the same
requests in one `VLLMEngine.generate`; tokens from the completions.

Run from the repository root when no other vLLM runs; results go to bench/RESULTS.md:

    .venv/bin/python -m bench.stream_bench                          # ~40 min on 2 cores
    .venv/bin/python -m bench.stream_bench --sizes 8 --engines openai   # a quick look
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.engine_bench import bare_http_replay
from genetic_instruct.config import ModelConfig
from genetic_instruct.llm.base import ChatRequest, Completion, Engine
from genetic_instruct.llm.openai_engine import OpenAIEngine
from genetic_instruct.llm.stream import Deliver, RequestStream, open_stream
from genetic_instruct.run.job import run
from tests.conftest import make_config
from tests.vllm_server import SERVED_NAME, vllm_server

MAX_TOKENS = {"instructor": 256, "coder": 512, "judge": 128}


class Recorder:
    """The loop's engine, passed through; keeps every request it was sent and the
    completion tokens of every answer."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.model_name = engine.model_name
        self.requests: list[ChatRequest] = []
        self.tokens = 0

    def generate(self, requests, on_complete=None):  # type: ignore[no-untyped-def]
        raise AssertionError("the loop streams; it should not call generate")

    def open_stream(self, deliver: Deliver) -> RequestStream:
        recorder = self

        def counted(ticket: int, answer: Completion | BaseException) -> None:
            if isinstance(answer, Completion):
                recorder.tokens += answer.completion_tokens
            deliver(ticket, answer)

        inner = open_stream(self.engine, counted)

        class Recording:
            def submit(self, ticket: int, request: ChatRequest) -> None:
                recorder.requests.append(request)
                inner.submit(ticket, request)

            def close(self) -> None:
                inner.close()

        return Recording()

    def close(self) -> None:  # the benchmark owns the engine
        pass


def loop(engine: Engine, offspring: int, seed: int) -> tuple[float, Recorder]:
    """One generation of a real run, timed end to end (seeds, SQLite, export included)."""
    recorder = Recorder(engine)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = make_config(
            f"run_dir={Path(tmp) / 'run'}",
            "progress=false",
            f"seed={seed}",
            "evolution.max_generations=1",
            "evolution.target_size=100000",
            "evolution.colonies=1",
            f"evolution.offspring_per_colony={offspring}",
            "evolution.mutation_rate=1.0",
            "execution.enabled=false",
            *(f"roles.{role}.max_tokens={n}" for role, n in MAX_TOKENS.items()),
        )
        started = time.perf_counter()
        run(cfg, engines={"default": recorder})
        return time.perf_counter() - started, recorder


def generation_tokens(base_url: str) -> float:
    """vllm:generation_tokens_total from the server's Prometheus metrics."""
    root = base_url.removesuffix("/v1")
    with urllib.request.urlopen(root + "/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("vllm:generation_tokens_total")
    )


def row(label: str, requests: int, tokens: float, seconds: float, ceiling: float | None) -> str:
    rate = tokens / seconds
    ratio = f"{rate / ceiling:.2f}" if ceiling else "1.00"
    line = f"| {label} | {requests} | {tokens:.0f} | {seconds:.1f} | {rate:.1f} | {ratio} |"
    print(line, f"(load {os.getloadavg()[0]:.1f})", flush=True)
    return line


HEAD = (
    "| path | requests | completion tokens | s | tok/s | of raw |\n"
    "| --- | ---: | ---: | ---: | ---: | ---: |"
)


def bench_server(args: argparse.Namespace) -> list[str]:
    lines = [HEAD]
    extra = ["--no-enable-prefix-caching", "--dtype", "float32"]
    with vllm_server(extra_args=extra) as base_url:
        model = ModelConfig(
            path=SERVED_NAME,
            engine="openai",
            base_urls=[base_url],
            max_concurrency=args.concurrency,
        )
        engine = OpenAIEngine(model)
        try:
            loop(engine, 2, args.seed + 1)  # warm-up, JSON schema included
            for size in args.sizes:
                before = generation_tokens(base_url)
                seconds, recorder = loop(engine, size, args.seed)
                tokens = generation_tokens(base_url) - before
                sent = recorder.requests
                started = time.perf_counter()
                bare_http_replay(base_url, args.concurrency)([sent])  # all at once
                raw_s = time.perf_counter() - started
                raw_tokens = generation_tokens(base_url) - before - tokens
                ceiling = raw_tokens / raw_s
                lines.append(
                    row(
                        f"(a) raw: bare client, {len(sent)} at once, concurrency "
                        f"{args.concurrency}",
                        len(sent),
                        raw_tokens,
                        raw_s,
                        None,
                    )
                )
                lines.append(
                    row(
                        f"(b) loop: one generation of {size} offspring",
                        len(sent),
                        tokens,
                        seconds,
                        ceiling,
                    )
                )
        finally:
            engine.close()
    return lines


def bench_offline(args: argparse.Namespace) -> list[str]:
    from genetic_instruct.llm.vllm_engine import VLLMEngine

    lines = [HEAD]
    engine = VLLMEngine(ModelConfig(engine_args={"enable_prefix_caching": False}))
    try:
        loop(engine, 2, args.seed + 1)  # warm-up, JSON schema included
        for size in args.offline_sizes:
            seconds, recorder = loop(engine, size, args.seed)
            started = time.perf_counter()
            answers = engine.generate(recorder.requests)
            one_batch_s = time.perf_counter() - started
            tokens = sum(c.completion_tokens for c in answers)
            lines.append(
                row(
                    f"(a) one VLLMEngine.generate of the loop's {len(answers)} requests",
                    len(answers),
                    tokens,
                    one_batch_s,
                    None,
                )
            )
            lines.append(
                row(
                    f"(b) loop: one generation of {size} offspring",
                    len(recorder.requests),
                    recorder.tokens,
                    seconds,
                    tokens / one_batch_s,
                )
            )
    finally:
        engine.close()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default="openai,vllm")
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 96])
    parser.add_argument("--offline-sizes", type=int, nargs="+", default=[32])
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    benches = {"openai": bench_server, "vllm": bench_offline}
    for name in args.engines.split(","):
        started = time.perf_counter()
        lines = benches[name](args)
        print(
            f"\n### {name} ({time.perf_counter() - started:.0f} s, load {os.getloadavg()[0]:.1f})\n"
        )
        print("\n".join(lines), flush=True)


if __name__ == "__main__":  # vLLM spawns its engine processes: they must not rerun main()
    main()
