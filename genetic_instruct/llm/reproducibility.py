"""Whether a run's engines answer the same request the same way again, and why not.

The loop decides everything by offspring number, never by arrival, so a run is as
reproducible as its engines. vLLM's are not by default: a request's tokens depend on the
batch it runs in (the kernels' reduction order changes with the batch's shape), unless
batch invariance is on (`VLLM_BATCH_INVARIANT=1`, vLLM 0.32: NVIDIA GPUs of compute
capability 8.0 or more, AMD Instinct, Intel XPU; not the CPU build). On a CPU the dtype
also follows the machine (bfloat16 only where AVX512-BF16 exists, llm/vllm_engine.py), so
another CPU answers differently. A server behind the OpenAI API decides for itself, which
this side cannot see.
"""

from __future__ import annotations

from collections.abc import Mapping

from genetic_instruct.config import EngineKind, ModelConfig

INVARIANT_ENV = "VLLM_BATCH_INVARIANT"


def batch_invariance_unsupported() -> str | None:
    """Why this machine's vLLM cannot run batch-invariant; None where it can."""
    from vllm.platforms import current_platform

    if current_platform.is_cpu():
        return "vLLM's CPU build has no batch-invariant kernels"
    if current_platform.is_rocm() or current_platform.is_xpu():
        return None
    if current_platform.is_cuda():
        if current_platform.has_device_capability(80):
            return None
        return "batch invariance needs an NVIDIA GPU of compute capability 8.0 or more"
    return f"vLLM has no batch-invariant kernels for {current_platform.device_name}"


def model_reproducibility(name: str, model: ModelConfig) -> tuple[bool | None, str]:
    """(reproducible, why) for one model; True/False where known, None where a server
    decides. Imports vLLM's platform only for a vllm engine."""
    if model.engine == EngineKind.scripted:
        return True, f"{name}: the scripted engine answers by prompt and seed alone"
    if model.engine == EngineKind.openai:
        return None, (
            f"{name}: the server decides (vLLM serve is reproducible only when started with "
            f"{INVARIANT_ENV}=1 on a supported device)"
        )
    from vllm.platforms import current_platform

    dtype = (
        "; on a CPU the dtype also follows the machine (bfloat16 only with AVX512-BF16)"
        if current_platform.is_cpu() and model.dtype == "auto"
        else ""
    )
    if not model.batch_invariant:
        return False, (
            f"{name}: a request's tokens depend on the batch vLLM ran it in "
            f"(models.{name}.batch_invariant=false){dtype}"
        )
    unsupported = batch_invariance_unsupported()
    if unsupported is not None:
        return False, f"{name}: models.{name}.batch_invariant=true, but {unsupported}{dtype}"
    return True, f"{name}: {INVARIANT_ENV}=1"


def run_reproducibility(
    found: Mapping[str, tuple[bool | None, str]],
) -> tuple[bool | None, str]:
    """The run's verdict over its models' (model_reproducibility): no if any is not,
    unknown if any is unknown, else yes; the reasons of the models that decide it."""
    verdicts = [ok for ok, _ in found.values()]
    verdict = False if False in verdicts else None if None in verdicts else True
    reasons = [why for ok, why in found.values() if ok is verdict]
    return verdict, "; ".join(reasons)
