"""The whole run against its own ceiling, beside distilabel's, in one pass.

Server: one `vllm serve` of the embedded model (float32, prefix caching off, as in
bench/stream_bench.py), behind a pass-through HTTP proxy on 127.0.0.1 that records every
request body it forwards. Each tool is measured the same way, back to back:

(b) the tool itself, as a user runs it, timed end to end: `genetic-instruct run` as a
    subprocess in a fresh run directory (one generation of `--offspring` offspring, the
    OpenAI engine at `--concurrency`, the judge calibrated as the demo's defaults do,
    seed checks, export and report included); or distilabel's comparable pipeline
    (bench/whole_run_distilabel.py, in distilabel's own venv);
(a) its ceiling: the bodies it sent, replayed all at once straight to the server by a
    bare aiohttp client at the same concurrency.

Completion tokens come from the server's /metrics over each one's wall time; a tool's
share is (b)'s rate over (a)'s. The proxy also times every request, so each run says how
full it kept the server (mean of min(in flight, concurrency) / concurrency over its wall
time), when its first request went out and how long it ran after its last answer: on a
shared machine the load of other processes moves tok/s a lot, and these hardly.
`--before DIR` also runs the CLI of another checkout (main, say) in the same pass,
replayed likewise.

    .venv/bin/python -m bench.whole_run_bench            # ~25 min on 2 cores
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bench.stream_bench import generation_tokens
from genetic_instruct.config import DEFAULT_MUTATION_METHODS, RolesConfig
from genetic_instruct.evolution.roles.judge import JUDGE_SCHEMA
from genetic_instruct.files.shipped import BUILTIN
from genetic_instruct.prompts import load_templates
from genetic_instruct.seeding.seed_file import load_seeds
from tests.vllm_server import SERVED_NAME, free_port, vllm_server

DISTILABEL_PYTHON = "/tmp/distilabel-venv/bin/python"
CHAT = "/v1/chat/completions"


@dataclass
class Recording:
    bodies: list[dict[str, Any]] = field(default_factory=list)  # chat requests, as sent
    in_flight: int = 0
    peak: int = 0  # most chat requests in flight at once
    changes: list[tuple[float, int]] = field(default_factory=list)  # (perf_counter, in flight)

    def change(self, by: int) -> None:
        self.in_flight += by
        self.peak = max(self.peak, self.in_flight)
        self.changes.append((time.perf_counter(), self.in_flight))

    def reset(self) -> None:
        self.bodies, self.peak, self.changes = [], 0, []

    def fullness(self, start: float, end: float, concurrency: int) -> float:
        """How full the tool kept the server from `start` to `end`: the mean of
        min(in flight, concurrency) / concurrency over that time. Unlike tok/s, the load of
        other processes on the machine hardly moves it."""
        area, at, level = 0.0, start, 0
        for when, now in self.changes:
            area += min(level, concurrency) * (when - at)
            at, level = when, now
        area += min(level, concurrency) * (end - at)
        return area / (concurrency * (end - start))


@contextmanager
def recording_proxy(upstream: str) -> Iterator[tuple[str, Recording]]:
    """A pass-through proxy to `upstream` (http://host:port) on a thread of its own: yields
    its base URL (…/v1) and what it records; `record.bodies` is reset by the caller."""
    record = Recording()
    port = free_port()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop = asyncio.Event()

    async def serve() -> None:
        timeout = aiohttp.ClientTimeout(total=None)
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:

            async def forward(request: web.Request) -> web.Response:
                body = await request.read()
                chat = request.method == "POST" and request.path == CHAT
                if chat:
                    record.bodies.append(json.loads(body))
                    record.change(+1)
                try:
                    headers = {"Content-Type": request.headers.get("Content-Type", "")}
                    async with session.request(
                        request.method, upstream + request.path_qs, data=body, headers=headers
                    ) as answer:
                        payload = await answer.read()
                        return web.Response(
                            body=payload, status=answer.status, content_type=answer.content_type
                        )
                finally:
                    if chat:
                        record.change(-1)

            app = web.Application(client_max_size=64 * 2**20)
            app.router.add_route("*", "/{tail:.*}", forward)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            ready.set()
            await stop.wait()
            await runner.cleanup()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    ready.wait(30)
    try:
        yield f"http://127.0.0.1:{port}/v1", record
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)


def replay(upstream: str, bodies: Sequence[dict[str, Any]], concurrency: int) -> None:
    """The bodies, all at once, straight to the server (http://host:port): the plainest
    client at the same concurrency (no retries, no proxy)."""

    async def all_at_once() -> None:
        connector = aiohttp.TCPConnector(limit=concurrency)
        timeout = aiohttp.ClientTimeout(total=None)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

            async def one(body: dict[str, Any]) -> None:
                async with session.post(upstream + CHAT, json=body) as answer:
                    answer.raise_for_status()
                    await answer.read()

            await asyncio.gather(*(one(body) for body in bodies))

    asyncio.run(all_at_once())


def cli_command(base_url: str, run_dir: Path, args: argparse.Namespace) -> list[str]:
    """`genetic-instruct run`: one generation of args.offspring offspring on the server,
    everything else the demo's defaults (fitness.threshold=auto: the judge is calibrated)."""
    return [
        sys.executable, "-m", "genetic_instruct.cli",
        "engine=openai", f"models.default.path={SERVED_NAME}",
        f"models.default.base_urls=[{base_url}]",
        f"models.default.max_concurrency={args.concurrency}", "models.default.api_key_env=null",
        f"run_dir={run_dir}", "progress=false", f"seed={args.seed}",
        "evolution.max_generations=1", "evolution.target_size=100000",
        f"evolution.offspring_per_colony={args.offspring // 2}",  # 2 colonies, the default
    ]  # fmt: skip


def distilabel_spec(base_url: str, args: argparse.Namespace) -> dict[str, Any]:
    """What bench/whole_run_distilabel.py builds its pipeline from: `offspring` seeds and
    a mutation method each, our prompts, our roles' sampling, the server."""
    seeds = [s for s in load_seeds(BUILTIN) if s.language == "python"][: args.offspring]
    methods = list(DEFAULT_MUTATION_METHODS.values())
    templates = load_templates()
    roles = RolesConfig()
    return {
        "rows": [
            {"instruction": s.instruction, "method": methods[i % len(methods)]}
            for i, s in enumerate(seeds)
        ],
        "prompts": {
            name: templates[key].text
            for name, key in (
                ("mutation", "mutation"),
                ("coder", "coder_tests"),
                ("judge", "judge"),
            )
        },
        "sampling": {
            role: {
                "max_tokens": getattr(roles, role).max_tokens,
                "temperature": getattr(roles, role).temperature,
                "top_p": getattr(roles, role).top_p,
            }
            for role in ("instructor", "coder", "judge")
        },
        "schema": JUDGE_SCHEMA,
        "model": SERVED_NAME,
        "base_url": base_url,
        "batch": args.concurrency,
        "seed": args.seed,
    }


def timed(command: Sequence[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - started
    tail = "\n".join((done.stdout + done.stderr).splitlines()[-4:])
    print(f"  $ {' '.join(command[:4])} ... -> exit {done.returncode}\n{tail}", flush=True)
    if done.returncode != 0:
        raise RuntimeError(f"{command[0]} failed:\n{done.stderr[-3000:]}")
    return seconds


HEAD = (
    "| tool | path | requests | peak in flight | server kept full | first request at | "
    "after last answer | completion tokens | s | tok/s | share |\n"
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
)


def measure(label: str, run: Any, upstream: str, record: Recording, concurrency: int) -> list[str]:
    """(b) `run()` through the proxy, then (a) its bodies replayed; two table rows."""
    record.reset()
    before = generation_tokens(upstream + "/v1")
    started = time.perf_counter()
    seconds = run()
    ended = time.perf_counter()
    tokens = generation_tokens(upstream + "/v1") - before
    full = record.fullness(started, ended, concurrency)
    head, tail = record.changes[0][0] - started, ended - record.changes[-1][0]
    bodies = list(record.bodies)
    started = time.perf_counter()
    replay(upstream, bodies, concurrency)
    raw_s = time.perf_counter() - started
    raw_tokens = generation_tokens(upstream + "/v1") - before - tokens
    rate, ceiling = tokens / seconds, raw_tokens / raw_s
    load = os.getloadavg()[0]
    rows = [
        f"| {label} | (a) ceiling: its {len(bodies)} bodies at once, bare client | "
        f"{len(bodies)} | {concurrency} | | | | {raw_tokens:.0f} | {raw_s:.1f} | {ceiling:.1f} "
        "| 1.00 |",
        f"| {label} | (b) the whole run, end to end | {len(bodies)} | {record.peak} | "
        f"{full:.2f} | {head:.1f} s | {tail:.1f} s | {tokens:.0f} | {seconds:.1f} | {rate:.1f} "
        f"| **{rate / ceiling:.2f}** |",
    ]
    print("\n".join(rows), f"(load {load:.1f})", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--offspring", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tools", default="genetic-instruct,distilabel")
    parser.add_argument("--before", help="another checkout whose CLI runs too (main, say)")
    args = parser.parse_args()
    lines = [HEAD]
    extra = ["--no-enable-prefix-caching", "--dtype", "float32"]
    with (
        vllm_server(extra_args=extra) as server,
        recording_proxy(server.removesuffix("/v1")) as (proxy, record),
        tempfile.TemporaryDirectory() as tmp,
    ):
        upstream = server.removesuffix("/v1")
        replay(upstream, [_warm_up_body()], 1)

        def ours(name: str, pythonpath: str) -> float:
            env = {**os.environ, "PYTHONPATH": pythonpath}
            return timed(cli_command(proxy, Path(tmp) / name, args), env)

        root = str(Path(__file__).resolve().parents[1])
        if args.before:
            lines += measure(
                "genetic-instruct (before)",
                lambda: ours("before", args.before),
                upstream,
                record,
                args.concurrency,
            )
        if "genetic-instruct" in args.tools:
            lines += measure(
                "genetic-instruct", lambda: ours("run", root), upstream, record, args.concurrency
            )
        if "distilabel" in args.tools:
            spec = Path(tmp) / "distilabel.json"
            spec.write_text(json.dumps(distilabel_spec(proxy, args)))
            script = str(Path(__file__).with_name("whole_run_distilabel.py"))
            lines += measure(
                "distilabel 1.5.3",
                lambda: timed([DISTILABEL_PYTHON, script, str(spec)]),
                upstream,
                record,
                args.concurrency,
            )
    print(f"\n(load {os.getloadavg()[0]:.1f})\n\n" + "\n".join(lines), flush=True)


def _warm_up_body() -> dict[str, Any]:
    """One short judge-like request: the server compiles its JSON-schema grammar once."""
    return {
        "model": SERVED_NAME,
        "messages": [{"role": "user", "content": "Rate this solution: print(1)"}],
        "max_tokens": 32,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "verdict", "schema": JUDGE_SCHEMA},
        },
    }


if __name__ == "__main__":
    main()
