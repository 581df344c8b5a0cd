"""The request a role sends about one subject, seeded by its place in the run.

A request's sampling seed depends only on (run seed, generation, role, index, attempt),
never on wall time or completion order, so a resumed run sends the same requests and the
journal answers them. Generation 0 holds the seeds and asks no model; the judge calibration
(calibration/) uses it, so its requests never collide with a generation's.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from genetic_instruct.config import ROLES, Config, RoleConfig
from genetic_instruct.evolution.seed_sequence import first_words
from genetic_instruct.llm.base import ChatRequest, Sampling

CALIBRATION_GENERATION = 0
# What the calibration's steps are called in a Flow (Flow.ask's stage): when they ride in a
# generation's flow, that generation neither counts nor times them as its own.
CALIBRATION_STAGE = "calibration"


def request_seed(run_seed: int, generation: int, role: str, index: int, attempt: int = 0) -> int:
    """A request's sampling seed, from its place in the run (not from wall time or order):
    `SeedSequence([run_seed, generation, role's number, index, *([attempt] if attempt
    else [])])`'s first word, 31 bits. `attempt` numbers the solutions of one task
    (execution.attempts); the first keeps the seed requests had before attempts existed,
    so journals and datasets stay as they were."""
    if not 0 <= index < 2**32:
        raise ValueError(f"request index out of range: {index}")
    block = _seed_block(run_seed, generation, ROLES.index(role), attempt, index // _BLOCK)
    return int(block[index % _BLOCK])


_BLOCK = 4096  # seeds made at once: a generation's requests of a role come in index order


@functools.lru_cache(maxsize=64)
def _seed_block(run_seed: int, generation: int, role: int, attempt: int, block: int) -> np.ndarray:
    indexes = np.arange(block * _BLOCK, (block + 1) * _BLOCK, dtype=np.uint64)
    words = first_words([run_seed, generation, role], indexes, [attempt] if attempt else [])
    return words & np.uint32(0x7FFFFFFF)


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
