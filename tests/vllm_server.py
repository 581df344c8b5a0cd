"""Start a real OpenAI-compatible server (vLLM's CPU build) on 127.0.0.1, for tests and bench.

The server is its own process group, so stopping it also stops the engine processes vLLM
spawns. Chunked prefill is off for the same reason as in the offline engine: a seeded
request whose prefill is split kills the CPU build's engine, and our requests are seeded.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from genetic_instruct.config import EMBEDDED_MODEL
from genetic_instruct.llm.embedded import resolve_model_path
from genetic_instruct.llm.vllm_engine import resolve_dtype

SERVED_NAME = "smollm2-135m-instruct"
# The embedded model's dtype in every test that loads it. `auto` is what users get: float32,
# or bfloat16 on a CPU with AVX512-BF16 or AMX, and the answers differ between the two. So
# tests on the real model assert what the code guarantees (requests sent, records complete),
# never what SmolLM2 happens to write; GENETIC_INSTRUCT_TEST_DTYPE=bfloat16 (or float32)
# runs them with the other dtype to prove it.
MODEL_DTYPE = os.environ.get("GENETIC_INSTRUCT_TEST_DTYPE", "auto")
# ~30 s on a quiet 2-core machine; 156 s was seen while other vLLM tests shared the cores.
READY_TIMEOUT_S = 300.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def vllm_server(served_name: str = SERVED_NAME, extra_args: Sequence[str] = ()) -> Iterator[str]:
    """Serve the embedded model; yields the base URL (`http://127.0.0.1:PORT/v1`)."""
    port = free_port()
    command = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server",
        "--model", resolve_model_path(EMBEDDED_MODEL),
        "--served-model-name", served_name,
        "--host", "127.0.0.1", "--port", str(port),
        "--dtype", resolve_dtype(MODEL_DTYPE, cpu=True),
        "--max-model-len", "2048", "--enforce-eager",
        "--no-enable-chunked-prefill", "--max-num-batched-tokens", "4096",
        *extra_args,
    ]  # fmt: skip
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1"}
    with tempfile.NamedTemporaryFile("w+", prefix="vllm-server-", suffix=".log") as log:
        server = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            base_url = f"http://127.0.0.1:{port}/v1"
            _wait_ready(server, base_url, Path(log.name))
            yield base_url
        finally:
            _stop(server)


def _wait_ready(server: subprocess.Popen[str], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"vLLM server exited ({server.returncode}):\n{_tail(log)}")
        try:
            with urllib.request.urlopen(base_url + "/models", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(1.0)
    raise RuntimeError(f"vLLM server not ready after {READY_TIMEOUT_S:.0f} s:\n{_tail(log)}")


def _stop(server: subprocess.Popen[str]) -> None:
    """SIGTERM lets vLLM shut its engine down; SIGKILL then takes any straggler in the group."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:
            break
        try:
            server.wait(30.0)
        except subprocess.TimeoutExpired:
            pass
    server.wait()


def _tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
