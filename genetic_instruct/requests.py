"""The requests a role sends: one per prompt, each seeded by its place in the run.

A request's sampling seed depends only on (run seed, generation, role, index), never on
wall time or completion order, so a resumed run sends the same requests and the journal
answers them. Generation 0 holds the seeds and asks no model; the judge calibration
(calibration/) uses it, so its requests never collide with a generation's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from genetic_instruct.config import ROLES, Config, RoleConfig
from genetic_instruct.llm.base import ChatRequest, Sampling

CALIBRATION_GENERATION = 0


def request_seed(run_seed: int, generation: int, role: str, index: int) -> int:
    """A request's sampling seed, from its place in the run (not from wall time or order)."""
    entropy = [run_seed, generation, ROLES.index(role), index]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0] & 0x7FFFFFFF)


def role_requests(
    cfg: Config,
    role: str,
    generation: int,
    prompts: Sequence[str],
    colonies: Sequence[int],
    json_schema: dict[str, Any] | None = None,
) -> list[ChatRequest]:
    """One request per prompt, with the role's sampling; `colonies` says whose offspring
    each prompt is about (where Ray colonies send it)."""
    role_cfg: RoleConfig = getattr(cfg.roles, role)
    sampling = Sampling(role_cfg.temperature, role_cfg.top_p, role_cfg.max_tokens)
    return [
        ChatRequest(
            messages=(("user", prompt),),
            sampling=sampling,
            seed=request_seed(cfg.seed, generation, role, i),
            json_schema=json_schema,
            colony=colony,
            chat_template_kwargs=dict(role_cfg.chat_template_kwargs),
        )
        for i, (prompt, colony) in enumerate(zip(prompts, colonies, strict=True))
    ]
