"""The execution step: a task solved `execution.attempts` times, every solution run against
its tests, the verdicts weighed together (agreement.py).

Attempt 1 is the Coder's answer, already read. Attempts 2..k are asked of the solver role
(roles.solver: the coder's model and sampling unless set), with the solve-only prompt, so
they never see the tests they are checked against. Their request seeds differ per attempt
and are fixed by the run (requests.py). Each request and each sandbox run is a step of the
flow like any other: journaled the moment it finishes, replayed on a resume, and started as
soon as what it needs is in (a solver's answer goes to the sandbox as it arrives). An
offspring waits only for its own attempts; no other offspring waits for it.

Once every attempt has run: asserts the independent attempts vote out are dropped (or the
task rejected, `suspect_test`), the exported solution is the first attempt that passes what
is left (the Coder's own when it passes; else the lowest-numbered passing solver attempt),
and its run is the one the judge and the mutation test see. With one attempt the step is
the paper's: the Coder's solution, gated on `execution.min_pass_fraction`. With more, a task
no attempt solves is rejected as `unsolved` (`execution.keep_unsolved` keeps it, marked).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

from genetic_instruct.answers.written_tests import top_level_asserts, without_asserts
from genetic_instruct.config import Config, SuspectTests
from genetic_instruct.evolution.agreement import (
    UNSOLVED,
    Attempted,
    Verdicts,
    difficulty,
    kept_result,
)
from genetic_instruct.evolution.asking import ask_about
from genetic_instruct.evolution.brood import Brood
from genetic_instruct.evolution.candidate import Candidate
from genetic_instruct.evolution.flow import SandboxJob
from genetic_instruct.evolution.roles import Solved, SolverRole
from genetic_instruct.llm.base import Completion
from genetic_instruct.rejection import Rejection
from genetic_instruct.sandbox import ExecutionResult, SandboxLimits, run_tests
from genetic_instruct.state.journal import verdict_key

SUSPECT = "suspect_test"


@dataclasses.dataclass
class _Tries:
    """One offspring's attempts while they come in."""

    solutions: list[str]
    reasonings: list[str | None]
    runs: list[ExecutionResult | None]
    unreadable: list[str | None]
    left: int


class AttemptsStep:
    """The step (loop.Step) that runs an offspring's attempts and decides on them."""

    def __init__(self, cfg: Config, solver: SolverRole, limits: SandboxLimits) -> None:
        self.cfg = cfg
        self.solver = solver
        self.limits = limits

    def __call__(self, brood: Brood, cand: Candidate, go_on: Callable[[], None]) -> None:
        """With `min_pass_fraction` 0 an offspring without usable tests goes on unexecuted
        (models too small to write tests, like the embedded demo's); no attempt is paid for
        where there is nothing to run it against."""
        ex = self.cfg.execution
        if not cand.tests:
            cand.reasoning = None  # nothing shows it led anywhere
            if ex.min_pass_fraction > 0:
                brood.reject(cand, "no_tests")
            else:
                go_on()
            return
        k = ex.attempts
        tries = _Tries(
            [cand.solution] + [""] * (k - 1),
            [cand.reasoning] + [None] * (k - 1),
            [None] * k,
            [None] * k,
            k,
        )
        settled = functools.partial(self._settled, brood, cand, tries, go_on)
        self._run(brood, cand, tries, 0, settled)
        for attempt in range(1, k):
            self._ask(brood, cand, tries, attempt, settled)

    def _run(
        self,
        brood: Brood,
        cand: Candidate,
        tries: _Tries,
        attempt: int,
        settled: Callable[[], None],
    ) -> None:
        solution, limits = tries.solutions[attempt], self.limits
        language, service = cand.plan.language, self.cfg.execution.service()
        job = SandboxJob(
            "execution",
            verdict_key(
                "execution",
                solution,
                cand.tests,
                dataclasses.asdict(limits),
                *(
                    # Python's keys are what they were before languages, so resumes replay
                    [] if language == "python" else [language]
                ),
            ),
            functools.partial(run_tests, solution, cand.tests, limits, language, service),
            ExecutionResult,
        )

        def ran(result: ExecutionResult) -> None:
            tries.runs[attempt] = result
            settled()

        brood.sandbox(cand, job, ran)

    def _ask(
        self,
        brood: Brood,
        cand: Candidate,
        tries: _Tries,
        attempt: int,
        settled: Callable[[], None],
    ) -> None:
        role = self.solver

        def accept(solved: Solved) -> None:
            tries.solutions[attempt] = solved.solution
            tries.reasonings[attempt] = solved.reasoning

        def refused(reason: Rejection, completion: Completion) -> None:
            # a failed attempt, not a failed offspring
            tries.unreadable[attempt] = str(reason)
            brood.samples.offer(
                role.engine_role, str(reason), cand.number, completion, not cand.gated
            )
            settled()

        then = functools.partial(self._run, brood, cand, tries, attempt, settled)
        ask_about(self.cfg, brood, role, cand, accept, then, refused, attempt)

    def _settled(
        self, brood: Brood, cand: Candidate, tries: _Tries, go_on: Callable[[], None]
    ) -> None:
        tries.left -= 1
        if tries.left == 0:
            self._decide(brood, cand, tries, go_on)

    def _decide(
        self, brood: Brood, cand: Candidate, tries: _Tries, go_on: Callable[[], None]
    ) -> None:
        ex = self.cfg.execution
        verdicts = Verdicts.judge(tries.runs, tries.unreadable)
        rejecting = bool(verdicts.suspects) and ex.suspect_tests == SuspectTests.reject
        dropped = () if rejecting else verdicts.suspects
        passing = verdicts.passing(dropped)
        chosen = verdicts.chosen(dropped)
        sources = top_level_asserts(cand.tests)
        cand.attempted = Attempted(
            count=ex.attempts,
            passed=len(passing),
            difficulty=difficulty(len(passing), ex.attempts, ex.easy_above, ex.hard_below),
            verdicts=verdicts.counts(dropped),
            suspects=tuple(sources[i] for i in verdicts.suspects if i < len(sources)),
        )
        run = tries.runs[chosen]
        assert run is not None  # the Coder's answer always runs, and ranks first of equals
        cand.solution = tries.solutions[chosen]
        cand.reasoning = tries.reasonings[chosen] if chosen in passing else None
        cand.tests = without_asserts(cand.tests, dropped)
        cand.execution = kept_result(run, dropped)
        # nothing left that can be trusted (a build that failed dropped no assert: a run
        # without asserts is its verdict's, below)
        if rejecting or (dropped and len(dropped) >= run.total):
            brood.reject(cand, SUSPECT)
        elif ex.attempts > 1 and not passing and not ex.keep_unsolved:
            brood.reject(cand, UNSOLVED)
        elif ex.attempts == 1 and cand.execution.pass_fraction < ex.min_pass_fraction:
            brood.reject(cand, f"tests_{cand.execution.status}")
        else:
            go_on()
