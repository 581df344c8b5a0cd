"""One role's request about one offspring, and what its answer leads to: the one way the
loop's steps and the attempts (attempts.py) ask a model.

The request is seeded by its place in the run (requests.py); the answer is dropped when the
offspring was meanwhile found to copy an earlier one; else it is read, and either taken
(`accept`, which may still raise Rejection, then `then`) or refused with the reason.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from genetic_instruct.config import Config
from genetic_instruct.evolution.brood import Brood
from genetic_instruct.evolution.candidate import Candidate
from genetic_instruct.evolution.requests import role_request
from genetic_instruct.evolution.roles import Role
from genetic_instruct.llm.base import Completion
from genetic_instruct.rejection import Rejection

Reading = TypeVar("Reading")


def ask_about(
    cfg: Config,
    brood: Brood,
    role: Role[Candidate, Reading],
    cand: Candidate,
    accept: Callable[[Reading], None],
    then: Callable[[], None],
    refused: Callable[[Rejection, Completion], None],
    attempt: int = 0,
    hold: Callable[[Callable[[], None]], None] | None = None,
) -> None:
    """Ask `role` about `cand` (its `attempt`-th try, for the solver). `hold`, when given,
    gets what the answer leads to and calls it when it may be decided (the judge's
    verdicts wait for a fitness gate still being calibrated); the request goes out now."""

    def answered(completion: Completion) -> None:
        if brood.gate.duplicate(cand.number):  # found to copy an earlier one meanwhile
            return
        try:
            accept(role.read(completion, cand))
        except Rejection as reason:
            refused(reason, completion)
            return
        then()

    request = role_request(
        cfg,
        role.engine_role,
        brood.generation,
        cand.number,
        role.prompt(cand),
        cand.plan.colony,
        role.json_schema,
        attempt=attempt,
    )
    if hold is None:
        brood.flow.ask(role.engine_role, request, answered)
    else:
        brood.flow.ask(role.engine_role, request, lambda c: hold(functools.partial(answered, c)))
