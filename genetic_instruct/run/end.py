"""Why a run stopped, said the same way on the terminal, in report.json/html and the card.

A run that ends below its target, or with nothing exported, must say why; the exit code
tells a scheduler (Slurm, a sweep) whether to look: 0 for a stop the config asked for,
3 for a stall, 75 (EX_TEMPFAIL: try again later) for a lost engine, 128+N for signal N.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

TARGET_REACHED = "target_reached"
MAX_GENERATIONS = "max_generations"
STALLED = "stalled"
INTERRUPTED = "interrupted"
ENGINE_LOST = "engine_lost"

EXIT_CODES = {TARGET_REACHED: 0, MAX_GENERATIONS: 0, STALLED: 3, ENGINE_LOST: 75}
META_KEY = "run_end"


@dataclass(frozen=True)
class RunEnd:
    reason: str  # one of the names above
    message: str  # one line for a person

    def to_meta(self) -> dict[str, Any]:
        return asdict(self)
