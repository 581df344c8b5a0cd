"""On the real embedded model (SmolLM2-135M-Instruct, vLLM CPU build), one engine per session."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from genetic_instruct.config import Config
from genetic_instruct.evolution.roles.judge import JUDGE_SCHEMA
from genetic_instruct.files.shipped import BUILTIN
from genetic_instruct.llm.base import ChatRequest, Sampling
from genetic_instruct.run.job import run
from genetic_instruct.seeding.seed_file import load_seeds
from genetic_instruct.state.meta import CALIBRATION
from genetic_instruct.state.store import RunStore

from .conftest import MODEL_DTYPE_OVERRIDE, judge_prompt, make_config
from .test_evolution import LINEAGE_FIELDS
from .test_spawning import gone, process_group
from .vllm_server import MODEL_DTYPE

pytestmark = pytest.mark.model
# Shorter answers keep these tests to a few minutes on 2 cores; the loop is the same.
SHORT_ANSWERS = ("roles.instructor.max_tokens=128", "roles.coder.max_tokens=192")
# One generation of four offspring on the real model, gating nothing (SmolLM2's judge).
ONE_SMALL_GENERATION = (
    "progress=false",
    "evolution.max_generations=1",
    "evolution.colonies=1",
    "evolution.offspring_per_colony=4",
    "fitness.threshold=1",
    MODEL_DTYPE_OVERRIDE,
    *SHORT_ANSWERS,
)


def test_seeded_batch_larger_than_one_prefill_step_survives_and_reproduces(
    embedded_engine,
) -> None:
    """Guards the CPU-build crash: seeded requests whose prefill was split killed the engine."""
    filler = " ".join(f"item{i}" for i in range(30))
    requests = [
        ChatRequest(
            (("user", f"Request {i}. Repeat the first word of: {filler}"),),
            Sampling(0.9, 0.95, 8),
            seed=5000 + i,
        )
        for i in range(96)
    ]
    first = embedded_engine.generate(requests)
    assert sum(c.prompt_tokens for c in first) > 4096  # more than one step's token budget
    assert all(c.error is None and c.completion_tokens > 0 for c in first)
    again = embedded_engine.generate(requests[:6][::-1])[::-1]
    assert [c.text for c in again] == [c.text for c in first[:6]]


def test_chat_template_kwargs_go_through_vllm_grouped_with_plain_requests(
    embedded_engine,
) -> None:
    """A role's chat-template kwargs go through vLLM's enqueue_chat, in a group of their own,
    and the answers still come back in request order. SmolLM2's template reads no such
    variable (Qwen3's reads enable_thinking), so here the answers must be unchanged."""
    plain = ChatRequest((("user", "Say hi."),), Sampling(0.0, 1.0, 8), seed=1)
    other = ChatRequest(
        (("user", "Name a colour."),),
        Sampling(0.0, 1.0, 8),
        seed=2,
        chat_template_kwargs={"enable_thinking": False},
    )
    mixed = embedded_engine.generate([plain, other, plain])
    alone = embedded_engine.generate([other, plain])
    assert [c.text for c in mixed] == [alone[1].text, alone[0].text, alone[1].text]
    assert all(c.error is None and c.completion_tokens > 0 for c in mixed)


def test_judge_answers_are_schema_valid_json(embedded_engine) -> None:
    seeds = load_seeds(BUILTIN)[:4]
    requests = [
        ChatRequest(
            (("user", judge_prompt(s.instruction, s.solution)),),
            Sampling(0.0, 1.0, 160),
            seed=i,
            json_schema=JUDGE_SCHEMA,
        )
        for i, s in enumerate(seeds)
    ]
    for completion in embedded_engine.generate(requests):
        verdict = json.loads(completion.text)
        assert 1 <= verdict["correctness"] <= 10 and 1 <= verdict["quality"] <= 10


class _Recorder:
    """Passes requests to the real engine (through its stream, as the loop sends them) and
    remembers which ones it was asked."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.model_name = inner.model_name
        self.sent: list[str] = []

    def generate(self, requests, on_complete=None):
        self.sent.extend(r.journal_key(self.model_name) for r in requests)
        return self.inner.generate(requests, on_complete)

    def open_stream(self, deliver):
        stream = self.inner.open_stream(deliver)
        recorder = self

        class Recording:
            def submit(self, ticket, request):
                recorder.sent.append(request.journal_key(recorder.model_name))
                stream.submit(ticket, request)

            def close(self):
                stream.close()

        return Recording()

    def close(self) -> None:
        pass


def test_a_tiny_run_with_two_models_loaded_at_once_exports_complete_records(
    embedded_engine, tmp_path: Path
) -> None:
    """Instructor and coder share the session's engine; the judge has a second vLLM engine.

    The second model is the embedded model's files under another path (the only model this
    machine has), loaded as its own engine next to the first. What SmolLM2 writes decides
    how many offspring reach the judge (with bfloat16, on CPUs with AVX512-BF16, none of 8
    did), so the judge is made certain of work by the calibration, which sends it seed
    solutions before generation 1: the test asserts routing and completeness, which the
    code guarantees, not survival, which the model decides.
    """
    from genetic_instruct.config import ModelConfig
    from genetic_instruct.llm.embedded import resolve_model_path
    from genetic_instruct.llm.vllm_engine import VLLMEngine

    second_dir = tmp_path / "second-model"
    second_dir.mkdir()
    for file in Path(resolve_model_path(ModelConfig().path)).iterdir():
        (second_dir / file.name).symlink_to(file)
    cfg: Config = make_config(
        f"run_dir={tmp_path / 'run'}",
        "progress=false",
        "evolution.max_generations=1",
        "evolution.colonies=2",
        "evolution.offspring_per_colony=4",
        "fitness.threshold=1",
        "calibration.at_start=true",
        "calibration.tasks=2",
        "calibration.faulty_per_task=1",
        "calibration.resamples=100",
        "+model@models.second=vllm",
        f"models.second.path={second_dir}",
        f"models.second.dtype={MODEL_DTYPE}",
        "models.second.kv_cache_gib=1",
        "roles.judge.model=second",
        *SHORT_ANSWERS,
    )
    first = _Recorder(embedded_engine)
    second = _Recorder(VLLMEngine(cfg.models["second"]))
    try:
        result = run(cfg, engines={"default": first, "second": second})
    finally:
        second.inner.close()
    store = RunStore(cfg.run_dir)
    stats = store.generation_stats()[-1]
    calibration = store.meta.get(CALIBRATION)
    store.close()
    assert stats.tried == 8
    assert stats.tried == stats.accepted + sum(stats.rejected.values())
    assert stats.completion_tokens["instructor"] > 0
    # The calibration's judge requests (2 references, 2 faulty) went to the second model,
    # and every verdict of it was read or counted as unreadable.
    assert calibration is not None and calibration.tasks == 2
    judged = calibration.correct + calibration.faulty + sum(calibration.unreadable.values())
    assert judged == 4 and len(second.sent) >= 4
    assert not set(first.sent) & set(second.sent)  # every request went to its role's model
    records = [json.loads(line) for line in result.dataset.read_text().splitlines()]
    assert len(records) == stats.accepted
    for record in records:
        assert set(record) >= LINEAGE_FIELDS
        assert record["models"]["coder"] == ModelConfig().path
        assert record["models"]["judge"] == str(second_dir)
        assert record["rationale"] is not None


def test_killed_mid_stage_on_the_real_model_leaves_no_engine_and_repeats_no_call(
    embedded_engine, tmp_path: Path
) -> None:
    """SIGKILLed with its engine loaded, the run takes vLLM's processes (EngineCore and its
    Worker) with it; the resume pays for no journaled answer again."""
    run_dir = tmp_path / "run"
    args = [f"run_dir={run_dir}", *ONE_SMALL_GENERATION]
    env = {**os.environ, "GENETIC_INSTRUCT_CRASH_AT": "instructor:2"}
    log = tmp_path / "killed.log"
    with open(log, "w") as out:  # not a pipe: the engine's processes would hold it open
        killed = subprocess.Popen(
            [sys.executable, "-m", "genetic_instruct.cli", *args],
            env=env,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
        try:
            returncode = killed.wait(timeout=600)
            left = [pid for pid in process_group(killed.pid) if not gone(pid)]
        finally:  # whatever the outcome, the test leaves nothing running
            with contextlib.suppress(ProcessLookupError):
                os.killpg(killed.pid, signal.SIGKILL)
    assert returncode == -signal.SIGKILL, log.read_text()[-2000:]
    assert not left, f"processes of the killed run still alive: {left}"
    store = RunStore(run_dir)
    journaled = store.journal_keys()
    assert store.generation == 0 and journaled  # seeds committed, answers journaled
    store.close()
    recorder = _Recorder(embedded_engine)
    result = run(make_config(*args), engines={"default": recorder})
    assert result.generation == 1
    assert not journaled & set(recorder.sent)
    store = RunStore(run_dir)
    assert store.integrity_problems() == []
    assert store.generation_stats()[-1].replayed >= len(journaled)


def test_the_embedded_judge_is_calibrated_on_a_small_sample(
    embedded_engine, tmp_path: Path
) -> None:
    """The demo's calibration, on 3 tasks: every verdict read or counted, the outcome
    stored, written and said in one line (SmolLM2's verdicts are expected to carry no signal,
    but the test only asks that they are measured)."""
    from genetic_instruct.calibration import CALIBRATION_JSON, calibrate
    from genetic_instruct.console.display import RunDisplay
    from genetic_instruct.executors import open_executor

    cfg = make_config(
        f"run_dir={tmp_path / 'run'}",
        "progress=false",
        "calibration.tasks=3",
        "calibration.faulty_per_task=1",
        "calibration.resamples=200",
    )
    display = RunDisplay(False)
    store = RunStore(cfg.run_dir)
    executor = open_executor(cfg, {"default": embedded_engine}, display)
    try:
        found = calibrate(
            cfg, store, executor, display, load_seeds(BUILTIN), (), cfg.execution.sandbox_limits()
        )
        assert store.meta.get(CALIBRATION) == found
    finally:
        executor.close()
        store.close()
    assert found.tasks == 3 and found.correct <= 3
    assert found.correct + found.faulty + sum(found.unreadable.values()) == 6
    assert found.line().startswith("judge calibration: ")
    written = json.loads((tmp_path / "run" / CALIBRATION_JSON).read_text())
    assert written["line"] == found.line() and written["judge_model"] == cfg.models["default"].path
