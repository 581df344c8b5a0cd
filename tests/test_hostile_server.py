"""A hostile model server: whatever it answers is one counted failure or rejection, never a
crash, a wedged run, a client that grows with the answer, or a key sent elsewhere.

Every case goes through the real client (OpenAIEngine, the preflight, the CLI) against a
real HTTP server on 127.0.0.1 that answers what an attacker would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from aiohttp import web

from .fault_proxy import FaultServer
from .styled_model import styled_answer
from .test_engine_faults import _openai
from .test_openai_engine import KEY_VAR, SECRET

# The judge's verdict with a lone surrogate escape in its text: valid JSON, invalid text.
SURROGATE_VERDICT = '{"rationale": "Fine \\ud800", "correctness": 9, "quality": 9}'


def _cli(*args: str, crash_at: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GENETIC_INSTRUCT_CRASH_AT": crash_at, KEY_VAR: SECRET}
    return subprocess.run(
        [sys.executable, "-m", "genetic_instruct.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )


# -- 3: what a parser decodes is made storable --------------------------------------------
def test_a_hostile_judge_neither_stops_a_run_nor_its_resume(tmp_path: Path) -> None:
    """The styled model, but the judge writes a lone surrogate escape in its verdict."""

    async def respond(request: web.Request) -> web.StreamResponse | None:
        if request.method == "GET":
            return None  # the model list
        body = await request.json()
        answer = styled_answer(body)
        if "response_format" in body:
            answer["choices"][0]["message"]["content"] = SURROGATE_VERDICT
            answer["choices"][0]["finish_reason"] = "stop"
        return web.Response(body=json.dumps(answer).encode(), content_type="application/json")

    run_dir = tmp_path / "run"
    with FaultServer(respond=respond, served=("styled",)) as server:
        args = [
            *_openai(run_dir, server.base_url, "evolution.max_generations=1"),
            f"models.default.api_key_env={KEY_VAR}",
        ]
        killed = _cli(*args, crash_at="commit:2")  # generation 1 (after the seeds) is journaled
        assert killed.returncode == -9, killed.stderr

        def judged() -> int:
            return sum(n for prompt, n in server.attempts.items() if "strict reviewer" in prompt)

        asked = judged()
        resumed = _cli(*args)
        assert resumed.returncode == 0, resumed.stderr
        assert asked > 0 and judged() == asked  # every verdict was replayed from the journal
    records = [json.loads(line) for line in (run_dir / "dataset.jsonl").read_text().splitlines()]
    assert records and {r["rationale"] for r in records} == {"Fine \ufffd"}
    for command in ("verify", "report", "export"):
        done = _cli(command, f"run_dir={run_dir}")
        assert done.returncode == 0, done.stderr
