"""Throughput of the embedded model on vLLM's CPU build in float32 and in bfloat16.

`dtype=auto` picks float32 on CPUs without native bf16, where bfloat16 is emulated and was
measured 2.6-4x slower; this measures the choice again on the CPU at hand (with or without
AVX512-BF16 / AMX), each dtype loaded in turn in this process and measured on the same
requests, twice, so a drifting load shows as a spread. Recorded in bench/RESULTS-engine.md.

    VLLM_CPU_KVCACHE_SPACE=1 .venv/bin/python -m bench.dtype_bench
"""

from __future__ import annotations

import argparse
import os
import time

from genetic_instruct.config import ModelConfig
from genetic_instruct.files.shipped import BUILTIN
from genetic_instruct.llm.base import ChatRequest, Sampling
from genetic_instruct.llm.vllm_engine import VLLMEngine, _cpu_has_native_bf16
from genetic_instruct.seeding.seed_file import load_seeds


def requests(count: int) -> list[ChatRequest]:
    seeds = load_seeds(BUILTIN)
    return [
        ChatRequest(
            (("user", f"Solve in Python:\n{seeds[i % len(seeds)].instruction}"),),
            Sampling(0.8, 0.95, 128),
            seed=i,
        )
        for i in range(count)
    ]


def tokens_per_second(engine: VLLMEngine, batch: list[ChatRequest]) -> float:
    started = time.perf_counter()
    answers = engine.generate(batch)
    return sum(a.completion_tokens for a in answers) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    print(f"native bf16 on this CPU: {_cpu_has_native_bf16()}; load {os.getloadavg()}")
    print("| round | dtype | " + " | ".join(f"batch {b} tok/s" for b in args.batches) + " |")
    for round_ in range(1, args.rounds + 1):
        for dtype in ("float32", "bfloat16"):
            engine = VLLMEngine(ModelConfig(dtype=dtype))
            try:
                engine.generate(requests(2))  # warm-up
                rates = [tokens_per_second(engine, requests(b)) for b in args.batches]
            finally:
                engine.close()
            print(f"| {round_} | {dtype} | " + " | ".join(f"{r:.1f}" for r in rates) + " |")
    print(f"load after {os.getloadavg()}")


if __name__ == "__main__":
    main()
