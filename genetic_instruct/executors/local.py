"""One loaded engine per distinct model, shared by every role that names it."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from genetic_instruct.config import ROLES, Config, EngineKind, ModelConfig
from genetic_instruct.llm.base import Engine


def build_engine(model: ModelConfig) -> Engine:
    """Load the engine a model config asks for (imports heavy engines only when used)."""
    if model.engine == EngineKind.scripted:
        from genetic_instruct.llm.scripted import ScriptedEngine

        return ScriptedEngine(model.path, **model.engine_args)
    if model.engine == EngineKind.openai:
        from genetic_instruct.llm.openai_engine import OpenAIEngine

        return OpenAIEngine(model)
    from genetic_instruct.llm.vllm_engine import VLLMEngine

    return VLLMEngine(model)


class EnginePool:
    """Engines by model key, built on first use; `preloaded` lets tests share one engine."""

    def __init__(
        self,
        cfg: Config,
        preloaded: Mapping[str, Engine] | None = None,
        factory: Callable[[ModelConfig], Engine] = build_engine,
    ) -> None:
        self._cfg = cfg
        self._factory = factory
        self._engines: dict[str, Engine] = dict(preloaded or {})
        self._owned: list[Engine] = []

    def for_role(self, role: str) -> Engine:
        assert role in ROLES
        key = getattr(self._cfg.roles, role).model
        if key not in self._engines:
            engine = self._factory(self._cfg.models[key])
            self._engines[key] = engine
            self._owned.append(engine)
        return self._engines[key]

    def close(self) -> None:
        """Close the engines this pool loaded; preloaded ones belong to the caller."""
        for engine in self._owned:
            engine.close()
        self._owned.clear()
