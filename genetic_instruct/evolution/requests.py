"""The request a role sends about one subject, seeded by its place in the run.

A request's sampling seed depends only on (run seed, generation, role, index, attempt),
never on wall time or completion order, so a resumed run sends the same requests and the
journal answers them. Generation 0 holds the seeds and asks no model; the judge calibration
(calibration/) uses it, so its requests never collide with a generation's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from genetic_instruct.config import ROLES, Config, RoleConfig
from genetic_instruct.llm.base import ChatRequest, Sampling

CALIBRATION_GENERATION = 0
# What the calibration's steps are called in a Flow (Flow.ask's stage): when they ride in a
# generation's flow, that generation neither counts nor times them as its own.
CALIBRATION_STAGE = "calibration"


def request_seed(run_seed: int, generation: int, role: str, index: int, attempt: int = 0) -> int:
    """A request's sampling seed, from its place in the run (not from wall time or order).
    `attempt` numbers the solutions of one task (execution.attempts); the first keeps the
    seed requests had before attempts existed, so journals and datasets stay as they were."""
    entropy = [run_seed, generation, ROLES.index(role), index, *([attempt] if attempt else [])]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0] & 0x7FFFFFFF)


def role_request(
    cfg: Config,
    role: str,
    generation: int,
    index: int,
    prompt: str,
    colony: int,
    json_schema: dict[str, Any] | None = None,
    attempt: int = 0,
) -> ChatRequest:
    """`index` numbers the request within its role and generation (for the Instructor its
    plan, for the others its offspring; never the order of arrival), `attempt` the solver's
    tries at one offspring; `colony` says whose offspring it is about (where Ray colonies
    send it)."""
    role_cfg: RoleConfig = getattr(cfg.roles, role)
    return ChatRequest(
        messages=(("user", prompt),),
        sampling=Sampling(role_cfg.temperature, role_cfg.top_p, role_cfg.max_tokens),
        seed=request_seed(cfg.seed, generation, role, index, attempt),
        json_schema=json_schema,
        colony=colony,
        chat_template_kwargs=dict(role_cfg.chat_template_kwargs),
    )
