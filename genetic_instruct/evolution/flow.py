"""Many offspring in flight at once, so no engine waits on a stage's slowest request.

An offspring is a chain of steps (instruct, code, execute, judge, ...): each step is a
request to an engine or a run in the sandbox, and its continuation decides the next. A
Flow keeps up to `max_in_flight` steps going over all stages and colonies, starts new
offspring as others finish, and runs every continuation on the calling thread (the one
that owns the store), in the order the answers arrive. Continuations therefore make any
order-dependent decision by offspring number, never by arrival (EarlierOffspring).

Requests and sandbox runs already in the journal are answered from it; fresh answers and
verdicts are journaled the moment they arrive, so a crash loses only what was in flight.
"""

from __future__ import annotations

import queue
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any, Generic, TypeVar

from genetic_instruct import faults
from genetic_instruct.console import interrupts
from genetic_instruct.executors import Executor
from genetic_instruct.llm.base import ChatRequest, Completion, Engine
from genetic_instruct.llm.stream import RequestStream, open_stream
from genetic_instruct.state.journal import Journal

T = TypeVar("T")
POLL_S = 0.2  # how often a wait for answers looks at Ctrl-C


def _nothing() -> None:
    pass


@dataclass(frozen=True)
class SandboxJob(Generic[T]):
    """A run in the sandbox: `run` does it; `key` (journal.verdict_key) hashes what
    determines its result, a dataclass that `kind` rebuilds from its journaled fields."""

    stage: str  # "execution", "mutation"
    key: str
    run: Callable[[], T]
    kind: Callable[..., T]


@dataclass
class _Step:
    stage: str  # an engine role, or a sandbox stage ("execution", "mutation")
    then: Callable[[Any], None]
    key: str | None = None  # the journal key of a fresh request or run; None: replayed
    launched: bool = False  # holds one of the max_in_flight places (replayed ones do not)
    role: str = ""  # a request's engine role (journaled under it); "": a sandbox run


class Flow:
    """Requests and sandbox runs of one generation, kept in flight together.

    `on_answer(role, completion)` sees every answer (replayed ones too) before its
    continuation does: the caller counts tokens there. `on_idle` runs whenever no answer
    is waiting to be handed on: work that pays to batch (screening new tasks) waits there.
    `spans` holds, per stage, the seconds from its first step to its last answer (stages
    overlap, so they do not add up).
    """

    def __init__(
        self,
        engines: Executor,
        journal: Journal,
        max_in_flight: int,
        sandbox_workers: int,
        on_answer: Callable[[str, Completion], None],
        on_idle: Callable[[], None] = lambda: None,
    ) -> None:
        self._engines = engines
        self._journal = journal
        self._max_in_flight = max_in_flight
        self._sandbox_workers = sandbox_workers
        self._on_answer = on_answer
        self._on_idle = on_idle
        self._streams: dict[int, tuple[Engine, RequestStream]] = {}  # by id(engine)
        self._sandbox: ThreadPoolExecutor | None = None
        self._done: queue.SimpleQueue[tuple[int, Any]] = queue.SimpleQueue()
        self._steps: dict[int, _Step] = {}  # asked for and not yet handed on, by ticket
        self._launched = 0  # of them, at an engine or in the sandbox
        self._held: deque[tuple[_Step, Callable[[], None]]] = deque()  # waiting for room
        self._tickets = 0
        self._first: dict[str, float] = {}
        self._last: dict[str, float] = {}

    @property
    def spans(self) -> dict[str, float]:
        return {stage: round(self._last[stage] - self._first[stage], 3) for stage in self._last}

    def ask(
        self,
        role: str,
        request: ChatRequest,
        then: Callable[[Completion], None],
        stage: str | None = None,
    ) -> None:
        """Send `request` to the role's engine (or take its answer from the journal).
        `stage` is what `on_answer` and `spans` call the step (the role unless said): work
        riding in a generation's flow, such as the judge's calibration, is told apart."""
        engine = self._engines.for_role(role)
        key = request.journal_key(engine.model_name)
        ticket = self._ticket(stage or role)
        replayed = self._journal.lookup([key]).get(key)
        if replayed is not None:
            self._steps[ticket] = _Step(stage or role, then, role=role)
            self._done.put((ticket, replayed))
            return
        self._launch(
            ticket,
            _Step(stage or role, then, key, role=role),
            lambda: self._stream(engine).submit(ticket, request),
        )

    def sandbox(self, job: SandboxJob[T], then: Callable[[T], None]) -> None:
        """Run `job` on the sandbox's threads, beside the engines (or take its verdict from
        the journal); `then` gets its result."""
        ticket = self._ticket(job.stage)
        stored = self._journal.verdict(job.key)
        if stored is not None:
            replayed: Future[T] = Future()
            replayed.set_result(job.kind(**stored))
            self._steps[ticket] = _Step(job.stage, then)
            self._done.put((ticket, replayed))
            return
        if self._sandbox is None:
            self._sandbox = ThreadPoolExecutor(self._sandbox_workers, thread_name_prefix="gi-flow")
        pool = self._sandbox

        def go() -> None:
            pool.submit(job.run).add_done_callback(lambda done: self._done.put((ticket, done)))

        self._launch(ticket, _Step(job.stage, then, job.key), go)

    def run(self, starts: Iterable[Callable[[], None]]) -> None:
        """Call each start (it asks for an offspring's first step) while fewer than
        `max_in_flight` steps are out, and every continuation as its step ends, until
        nothing is left. Stops at a safe point on Ctrl-C (Interrupted); an engine's
        failure (EngineLost, say) is raised here, after what was answered is journaled."""
        pending = iter(starts)
        try:
            while True:
                while len(self._steps) < self._max_in_flight:
                    start = next(pending, None)
                    if start is None:
                        break
                    start()
                if self._done.empty():
                    self._on_idle()
                if not self._steps:
                    return
                try:
                    ticket, outcome = self._done.get(timeout=POLL_S)
                except queue.Empty:
                    interrupts.check()
                    continue
                self._settle(ticket, outcome)
                interrupts.check()
        finally:
            self.close()

    def close(self) -> None:
        """Journal what was answered; stop the streams and the sandbox's queue; let go of
        the callbacks, which hold the generation's offspring (and through them this flow:
        a cycle only a full collection would free)."""
        self._journal.flush()
        self._on_idle = _nothing
        self._steps.clear()
        self._held.clear()
        for _, stream in self._streams.values():
            stream.close()
        self._streams.clear()
        if self._sandbox is not None:
            self._sandbox.shutdown(wait=False, cancel_futures=True)
            self._sandbox = None

    def _launch(self, ticket: int, step: _Step, go: Callable[[], None]) -> None:
        """Start the step now if fewer than max_in_flight are out, else once one ends (a
        batch of new tasks, or a crossover answer holding several, can ask for more)."""
        self._steps[ticket] = step
        self._held.append((step, go))
        self._release()

    def _release(self) -> None:
        while self._held and self._launched < self._max_in_flight:
            step, go = self._held.popleft()
            step.launched = True
            self._launched += 1
            go()

    def _ticket(self, stage: str) -> int:
        self._tickets += 1
        self._first.setdefault(stage, time.monotonic())
        return self._tickets

    def _stream(self, engine: Engine) -> RequestStream:
        if id(engine) not in self._streams:
            self._streams[id(engine)] = (engine, open_stream(engine, self._deliver))
        return self._streams[id(engine)][1]

    def _deliver(self, ticket: int, answer: Completion | BaseException) -> None:
        """From an engine's thread: the loop's thread takes it from the queue."""
        self._done.put((ticket, answer))

    def _settle(self, ticket: int, outcome: Any) -> None:
        if isinstance(outcome, BaseException):  # an engine's thread failed
            raise outcome
        step = self._steps.pop(ticket)
        self._last[step.stage] = time.monotonic()
        if step.launched:
            self._launched -= 1
            self._release()
        if isinstance(outcome, Future):
            result = outcome.result()  # a sandbox that cannot run raises here
            if step.key is not None:
                self._journal.record_verdict(step.stage, step.key, asdict(result))
            faults.point(step.stage)
            step.then(result)
            return
        if step.key is not None:
            self._journal.record(step.role, step.key, outcome)
        self._on_answer(step.stage, outcome)
        step.then(outcome)
