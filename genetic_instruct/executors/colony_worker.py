"""What runs inside a colony's Ray actor: its engines, answering as each request finishes.

Plain Python (the driver wraps it with `ray.remote`), so it imports no Ray. Engines are
built on first use; after Ray restarts a lost actor its constructor runs again and the
engines load again.
"""

from __future__ import annotations

import os
import queue
import socket
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence

from genetic_instruct.config import ModelConfig
from genetic_instruct.executors.local import build_engine
from genetic_instruct.llm.base import ChatRequest, Completion, Engine


class ColonyWorker:
    """One colony's engines, by model key."""

    def __init__(self, models: Mapping[str, ModelConfig]) -> None:
        self._models = dict(models)
        self._engines: dict[str, Engine] = {}
        # Tells a restarted actor from a passing outage of the same one.
        self._incarnation = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def ready(self) -> str:
        """Answered once the actor is placed and started: which incarnation this is."""
        return self._incarnation

    def generate(
        self, model: str, requests: Sequence[ChatRequest]
    ) -> Iterator[tuple[int, Completion]]:
        """Yield (position, answer) as each request finishes (a Ray streaming generator)."""
        if model not in self._engines:
            self._engines[model] = build_engine(self._models[model])
        yield from stream_answers(self._engines[model], requests)

    def close(self) -> None:
        for engine in self._engines.values():
            engine.close()
        self._engines.clear()


class _Finished:
    """The end of a batch: the engine's own result list, or what it raised."""

    def __init__(self, answers: list[Completion] | None, error: BaseException | None) -> None:
        self.answers = answers
        self.error = error


def stream_answers(
    engine: Engine, requests: Sequence[ChatRequest]
) -> Iterator[tuple[int, Completion]]:
    """Run `engine.generate` in a thread and yield each answer as its callback reports it.

    The whole batch still goes to the engine at once (continuous batching); answers the
    engine never called back about come from its returned list at the end.
    """
    answers: queue.Queue[tuple[int, Completion] | _Finished] = queue.Queue()

    def work() -> None:
        try:
            result = engine.generate(requests, lambda i, c: answers.put((i, c)))
        except BaseException as error:  # handed to the generator's thread, raised there
            answers.put(_Finished(None, error))
        else:
            answers.put(_Finished(result, None))

    threading.Thread(target=work, name="colony-engine", daemon=True).start()
    seen: set[int] = set()
    while True:
        item = answers.get()
        if isinstance(item, _Finished):
            break
        seen.add(item[0])
        yield item
    if item.error is not None:
        raise item.error
    assert item.answers is not None
    for i, completion in enumerate(item.answers):
        if i not in seen:
            yield i, completion
