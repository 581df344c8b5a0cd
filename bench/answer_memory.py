"""Client memory against a hostile server: what huge answers cost the OpenAI engine.

A server in a child process answers every chat request with `--size-mb` of text in a valid
chat completion, sent chunked as it is made (so the server itself stays small); this
process sends `--concurrency` such requests at once through OpenAIEngine and reports its
own resident memory (VmRSS) before the batch and its peak (VmHWM) after it, in MiB, with
what the engine made of the answers. The peak is the figure: it is what the OOM killer
and a shared node see. With `--run`, a whole one-generation run (the CLI, in a child)
meets the same server instead, and its peak and the size of its run directory are shown.

Run from the repository root, as root and as an ordinary user; results are recorded in
bench/RESULTS-engine.md:

    .venv/bin/python -m bench.answer_memory --size-mb 100 --concurrency 1
    .venv/bin/python -m bench.answer_memory --size-mb 300 --concurrency 4
    .venv/bin/python -m bench.answer_memory --size-mb 100 --run
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aiohttp import web

from genetic_instruct.config import ModelConfig
from genetic_instruct.llm.base import ChatRequest, Sampling
from genetic_instruct.llm.openai_engine import OpenAIEngine

CHUNK = b"x" * 2**20
MAX_TOKENS = 2048  # the paper preset's coder: the largest answer bound of the presets


def serve(port: int, size: int) -> None:
    """The hostile server: each answer is `size` bytes of text, never held whole."""

    async def models(request: web.Request) -> web.Response:
        return web.json_response({"data": [{"id": "hostile"}]})

    async def chat(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        try:
            await response.write(b'{"choices": [{"message": {"content": "')
            for start in range(0, size, len(CHUNK)):
                await response.write(CHUNK[: size - start])
            await response.write(b'"}, "finish_reason": "stop"}]}')
        except (ConnectionError, RuntimeError):  # the client hung up: what the fix does
            pass
        return response

    app = web.Application()
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/chat/completions", chat)
    web.run_app(app, host="127.0.0.1", port=port, print=None)


def _mib(field: str) -> float:
    """A VmRSS/VmHWM line of /proc/self/status, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(port: int) -> None:
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the hostile server on port {port} did not start")


@contextmanager
def hostile_server(size_mb: int) -> Iterator[str]:
    """The server in a child process, so its memory is not counted; yields its base URL."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.answer_memory", "--serve", str(port), str(size_mb)]
    )
    try:
        _wait_for(port)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.terminate()
        server.wait()


def measure(size_mb: int, concurrency: int) -> None:
    with hostile_server(size_mb) as url:
        model = ModelConfig(
            path="hostile",
            engine="openai",
            base_urls=[url],
            max_concurrency=concurrency,
            max_retries=0,
        )
        engine = OpenAIEngine(model)
        requests = [
            ChatRequest((("user", f"Answer {i}"),), Sampling(0.7, 0.95, MAX_TOKENS), seed=i)
            for i in range(concurrency)
        ]
        before, peak_before = _mib("VmRSS"), _mib("VmHWM")
        started = time.monotonic()
        answers = engine.generate(requests)
        seconds = time.monotonic() - started
        peak = _mib("VmHWM")
        engine.close()
    outcome = {a.error or f"answered ({len(a.text) / 2**20:.0f} MiB of text)" for a in answers}
    print(
        f"uid {os.getuid()}, {concurrency} x {size_mb} MiB answers, max_tokens={MAX_TOKENS}: "
        f"before the batch VmRSS {before:.0f} MiB (VmHWM {peak_before:.0f}); after it VmHWM "
        f"{peak:.0f} MiB (+{peak - before:.0f} over VmRSS before), {seconds:.1f} s; "
        f"{', '.join(sorted(outcome))}"
    )


def measure_run(size_mb: int) -> None:
    """One generation of a real run against the server: the CLI's peak, its run directory."""
    with hostile_server(size_mb) as url, tempfile.TemporaryDirectory() as scratch:
        run_dir = Path(scratch) / "run"
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "genetic_instruct.cli", f"run_dir={run_dir}"]
            + ["engine=openai", "models.default.path=hostile", f"models.default.base_urls=[{url}]"]
            + ["models.default.api_key_env=null", "models.default.max_retries=0"]
            + ["progress=false", "evolution.max_generations=1"],
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.monotonic() - started
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the CLI's tree
        stored = sum(p.stat().st_size for p in run_dir.rglob("*") if p.is_file()) / 2**20
    print(
        f"uid {os.getuid()}, a run of one generation against {size_mb} MiB answers: exit "
        f"{done.returncode}, peak RSS {peak:.0f} MiB, run directory {stored:.1f} MiB, "
        f"{seconds:.0f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--run", action="store_true", help="a whole run instead of the engine")
    parser.add_argument("--serve", nargs=2, type=int, metavar=("PORT", "SIZE_MB"))
    args = parser.parse_args()
    if args.serve:
        port, size_mb = args.serve
        serve(port, size_mb * 2**20)
    elif args.run:
        measure_run(args.size_mb)
    else:
        measure(args.size_mb, args.concurrency)


if __name__ == "__main__":
    main()
