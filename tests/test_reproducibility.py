"""Whether a run can be made again, per engine, and the run's verdict over its models."""

from __future__ import annotations

from genetic_instruct.config import EngineKind, ModelConfig
from genetic_instruct.llm.reproducibility import model_reproducibility, run_reproducibility


def test_batch_invariance_asked_on_the_cpu_build_says_why_not_in_one_line() -> None:
    ok, why = model_reproducibility("default", ModelConfig(batch_invariant=True))
    assert ok is False and "vLLM's CPU build has no batch-invariant kernels" in why
    assert "\n" not in why


def test_the_run_is_as_reproducible_as_its_least_reproducible_model() -> None:
    scripted = model_reproducibility("a", ModelConfig(engine=EngineKind.scripted))
    served = model_reproducibility("b", ModelConfig(engine=EngineKind.openai))
    assert run_reproducibility({"a": scripted}) == (True, scripted[1])
    assert run_reproducibility({"a": scripted, "b": served}) == (None, served[1])
    vllm = model_reproducibility("c", ModelConfig())
    assert run_reproducibility({"a": scripted, "b": served, "c": vllm})[0] is False
