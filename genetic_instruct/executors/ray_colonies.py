"""executor=ray: one Ray actor per colony, each owning its engines; the driver routes.

A batch of requests (whatever the loop has waiting while the last batch runs) is split by
colony and sent to that colony's actor (a Ray streaming generator). Answers come back
one by one as they finish and reach `on_complete` at once, so the journal records each
before the next arrives. When an actor is lost (its worker or node died), Ray restarts it
and only that colony's still unanswered requests are sent again; answers already
delivered, and so journaled, are never asked for twice. Ray may restart an actor any number
of times; the driver counts the restarts it sees and stops the run past
executor.max_restarts (Ray's own count would also spend restarts on kills nobody saw).
An engine lost inside an actor (its server gone, its vLLM process dead) is not the actor's
loss: it reaches the driver as EngineLost, so the run stops as it would in process.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError

from genetic_instruct.config import Config
from genetic_instruct.console.display import RunDisplay
from genetic_instruct.errors import ConfigError, EngineLost
from genetic_instruct.executors.colony_worker import ColonyWorker
from genetic_instruct.executors.ray_cluster import join
from genetic_instruct.llm.base import (
    ChatRequest,
    Completion,
    CompletionCallback,
    Engine,
)

ACTOR_PREFIX = "genetic-instruct"  # actors are named <prefix>/<run token>/colony-<n>
CLOSE_TIMEOUT_S = 60.0  # for actors to shut their engines down before being killed
RESTART_POLL_S = 0.5
_RESUME = "every answer received is journaled, so running the same command again resumes"


class ColonyLost(RuntimeError):
    """A colony's actor was lost more often than executor.max_restarts allows."""


class RayColonies:
    """The colonies' actors, and one routing engine per model for the roles to share."""

    def __init__(self, cfg: Config, display: RunDisplay) -> None:
        ex = cfg.executor
        self._cfg = cfg
        self._display = display
        self._owns_ray = join(cfg)
        worker = ray.remote(ColonyWorker)
        token = uuid.uuid4().hex[:8]
        runtime_env = {"env_vars": dict(ex.env)} if ex.env else None
        self.actors = [
            worker.options(
                name=f"{ACTOR_PREFIX}/{token}/colony-{colony}",
                num_cpus=ex.num_cpus_per_colony,
                num_gpus=ex.num_gpus_per_colony,
                max_restarts=-1,  # executor.max_restarts is counted by `recover`
                max_task_retries=0,  # we resend, and only what was not answered
                runtime_env=runtime_env,
            ).remote(cfg.models)
            for colony in range(cfg.evolution.colonies)
        ]
        self.losses = [0] * len(self.actors)  # restarts seen, per colony
        self._engines: dict[str, ColonyEngine] = {}
        try:
            self._incarnations: list[str] = ray.get(
                [actor.ready.remote() for actor in self.actors], timeout=ex.start_timeout_s
            )
        except GetTimeoutError:
            self.close(grace_s=0)  # nothing was placed, so nothing to shut down gently
            key = "num_gpus_per_colony" if ex.num_gpus_per_colony else "num_cpus_per_colony"
            raise ConfigError(
                f"config key executor.{key}: {len(self.actors)} colony actors "
                f"asking for {ex.num_cpus_per_colony} CPUs and {ex.num_gpus_per_colony} GPUs "
                f"each were not placed within {ex.start_timeout_s:.0f} s; the cluster has "
                f"{ray.cluster_resources()}"
            ) from None

    def for_role(self, role: str) -> Engine:
        key = getattr(self._cfg.roles, role).model
        if key not in self._engines:
            self._engines[key] = ColonyEngine(self, key, self._cfg.models[key].path)
        return self._engines[key]

    def stream(
        self, colony: int, model: str, requests: Sequence[ChatRequest]
    ) -> ray.ObjectRefGenerator:
        """The colony's answers to `requests`, as (position, Completion) while they finish."""
        return self.actors[colony].generate.remote(model, list(requests))

    def recover(self, colony: int, error: RayActorError, unanswered: int) -> None:
        """Wait until Ray has the colony's actor back; count it if it is a new process."""
        incarnation = self._wait_ready(colony, error)
        if incarnation != self._incarnations[colony]:
            self._incarnations[colony] = incarnation
            self.losses[colony] += 1
        limit = self._cfg.executor.max_restarts
        if self.losses[colony] > limit:
            raise ColonyLost(
                f"colony {colony}: its Ray actor was lost {self.losses[colony]} times "
                f"(executor.max_restarts={limit}); {_RESUME}"
            ) from error
        self._display.line(
            f"colony {colony}: its Ray actor was lost ({type(error).__name__}); it is back, "
            f"and its {unanswered} unanswered requests are sent again"
        )

    def _wait_ready(self, colony: int, error: RayActorError) -> str:
        """The actor's incarnation once it answers; calls fail fast while it restarts."""
        timeout = self._cfg.executor.start_timeout_s
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ColonyLost(
                    f"colony {colony}: its Ray actor was lost and not back within "
                    f"executor.start_timeout_s={timeout:g}; {_RESUME}"
                ) from error
            try:
                return str(ray.get(self.actors[colony].ready.remote(), timeout=left))
            except (RayActorError, GetTimeoutError):
                time.sleep(RESTART_POLL_S)

    def close(self, grace_s: float = CLOSE_TIMEOUT_S) -> None:
        """Let the actors close their engines, then end them (and Ray, if we started it)."""
        if grace_s > 0:
            closing = [actor.close.remote() for actor in self.actors]
            ray.wait(closing, num_returns=len(closing), timeout=grace_s)
        for actor in self.actors:
            ray.kill(actor, no_restart=True)
        self.actors = []
        if self._owns_ray:
            ray.shutdown()
            self._owns_ray = False


class ColonyEngine:
    """The Engine interface for one model, answering each request on its colony's actor."""

    def __init__(self, colonies: RayColonies, model_key: str, model_name: str) -> None:
        self._colonies = colonies
        self._model_key = model_key
        self.model_name = model_name

    def generate(
        self, requests: Sequence[ChatRequest], on_complete: CompletionCallback | None = None
    ) -> list[Completion]:
        results: list[Completion | None] = [None] * len(requests)
        streams: dict[ray.ObjectRefGenerator, tuple[int, list[int]]] = {}  # colony, positions

        def send(colony: int, positions: list[int]) -> None:
            batch = [requests[i] for i in positions]
            streams[self._colonies.stream(colony, self._model_key, batch)] = (colony, positions)

        for colony, positions in _by_colony(requests).items():
            send(colony, positions)
        while streams:
            [ready], _ = ray.wait(list(streams), num_returns=1)
            colony, positions = streams[ready]
            try:
                j, completion = ray.get(next(ready))
            except StopIteration:
                del streams[ready]
                continue
            except RayTaskError as error:
                # Ray's error is also an EngineLost, but reads as the actor's whole traceback
                if isinstance(error.cause, EngineLost):
                    raise EngineLost(f"colony {colony}: {error.cause}") from None
                raise
            except RayActorError as error:
                del streams[ready]
                unanswered = [i for i in positions if results[i] is None]
                self._colonies.recover(colony, error, len(unanswered))
                send(colony, unanswered)
                continue
            i = positions[j]
            results[i] = completion
            if on_complete is not None:
                on_complete(i, completion)
        return [r if r is not None else Completion("", error="missing") for r in results]

    def close(self) -> None:
        """The actors own the engines; RayColonies.close ends them."""


def _by_colony(requests: Sequence[ChatRequest]) -> dict[int, list[int]]:
    positions: dict[int, list[int]] = {}
    for i, request in enumerate(requests):
        positions.setdefault(request.colony, []).append(i)
    return positions
