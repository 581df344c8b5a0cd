"""Where colonies run: all in this process (local, the default) or on a Ray cluster (ray).

Either way the driver runs the loop's stages, the dedup and the commits; an executor only
hands out the engine that answers each role's requests. Ray is imported only for
executor.kind=ray.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from genetic_instruct.config import Config, ExecutorKind
from genetic_instruct.console.display import RunDisplay
from genetic_instruct.executors.local import EnginePool
from genetic_instruct.llm.base import Engine


class Executor(Protocol):
    """The engines of a run, by role; `close` frees what it started."""

    def for_role(self, role: str) -> Engine: ...

    def close(self) -> None: ...


def open_executor(
    cfg: Config, preloaded: Mapping[str, Engine] | None, display: RunDisplay
) -> Executor:
    """The executor cfg.executor.kind asks for; `preloaded` engines only work in process."""
    if cfg.executor.kind == ExecutorKind.local:
        return EnginePool(cfg, preloaded)
    if preloaded:
        raise ValueError(
            "executor.kind=ray loads engines in its actors; it takes no preloaded ones"
        )
    from genetic_instruct.executors.ray_colonies import RayColonies

    return RayColonies(cfg, display)
