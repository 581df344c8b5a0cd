"""Requests handed to an engine one by one while it runs; each answer handed back as it ends.

The loop moves every offspring to its next stage as soon as its answer arrives, so an
engine must take new requests while others are in flight. Engines that can (vLLM offline,
OpenAI-compatible servers) implement `open_stream`; any other engine (the synthetic one, Ray
colonies) is fed in micro-batches: whatever was submitted while its last batch ran.
"""

from __future__ import annotations

import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Protocol

from genetic_instruct.llm.base import ChatRequest, Completion, Engine

# (ticket, answer), or (-1 or a ticket, what the engine raised), from the engine's thread.
Deliver = Callable[[int, "Completion | BaseException"], None]


class RequestStream(Protocol):
    def submit(self, ticket: int, request: ChatRequest) -> None:
        """Queue one request; its answer goes to `deliver` under `ticket`."""
        ...

    def close(self) -> None:
        """Stop: requests still in flight are dropped (their answers are not delivered)."""
        ...


def open_stream(engine: Engine, deliver: Deliver) -> RequestStream:
    """The engine's own stream when it has one, else micro-batches over `generate`."""
    opener = getattr(engine, "open_stream", None)
    return opener(deliver) if opener is not None else MicroBatches(engine, deliver)


Inbox = queue.SimpleQueue[tuple[int, ChatRequest] | None]  # None: the stream is closed


def drain(inbox: Inbox, wait: bool) -> list[tuple[int, ChatRequest] | None]:
    """What is waiting in `inbox`; with `wait`, at least one item."""
    items = [inbox.get()] if wait else []
    while not inbox.empty():
        items.append(inbox.get())
    return items


class InboxThread(ABC):
    """A stream served by a thread of its own: `submit` queues, `close` puts the end mark."""

    JOIN_S = 30.0

    def __init__(self, deliver: Deliver, name: str) -> None:
        self._deliver = deliver
        self._inbox: Inbox = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, ticket: int, request: ChatRequest) -> None:
        self._inbox.put((ticket, request))

    def close(self) -> None:
        self._closed = True
        self._inbox.put(None)
        self._thread.join(self.JOIN_S)

    def _run(self) -> None:
        try:
            self._serve()
        except BaseException as error:  # noqa: BLE001 - handed to the loop's thread, raised there
            self._deliver(-1, error)

    @abstractmethod
    def _serve(self) -> None:
        """Answer what comes in until the end mark."""


class StreamClosed(Exception):
    """Raised inside an engine's batch once its stream is closed, to stop the batch."""


class MicroBatches(InboxThread):
    """An engine with only `generate`, fed everything submitted while its last batch ran."""

    def __init__(self, engine: Engine, deliver: Deliver) -> None:
        self._engine = engine
        super().__init__(deliver, "engine-stream")

    def _serve(self) -> None:
        while None not in (items := drain(self._inbox, wait=True)):
            if not self._answer([item for item in items if item is not None]):
                return

    def _answer(self, batch: list[tuple[int, ChatRequest]]) -> bool:
        """One batch through `generate`; False once the stream was closed meanwhile."""
        tickets = [ticket for ticket, _ in batch]
        answered: set[int] = set()

        def report(i: int, completion: Completion) -> None:
            if self._closed:
                raise StreamClosed
            answered.add(i)
            self._deliver(tickets[i], completion)

        try:
            answers = self._engine.generate([request for _, request in batch], report)
        except StreamClosed:
            return False
        for i, completion in enumerate(answers):  # engines that do not call back
            if i not in answered and not self._closed:
                self._deliver(tickets[i], completion)
        return True
