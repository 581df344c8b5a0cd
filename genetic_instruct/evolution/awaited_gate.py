"""The fitness gate a generation applies, known at once or measured in its own flow.

A run that calibrates its judge need not wait for the calibration before its first
generation: the gate is first needed when a judge verdict is decided. So the calibration
(run/calibrate.py) rides in the first generation's flow, its sandbox runs and requests
beside the generation's, and only the decisions on verdicts wait for the gate. The gate
depends on the calibration's answers alone, never on when they came, so the dataset is
the one a run that calibrated first makes.
"""

from __future__ import annotations

from collections.abc import Callable

from genetic_instruct.evolution.fitness import FitnessGate
from genetic_instruct.evolution.flow import Flow

# Work that decides the gate inside a flow: called with the flow and what takes the gate.
GateToCome = Callable[[Flow, Callable[[FitnessGate], None]], None]


class AwaitedGate:
    def __init__(self, gate: FitnessGate | GateToCome) -> None:
        self._gate = gate if isinstance(gate, FitnessGate) else None
        self._to_come = None if isinstance(gate, FitnessGate) else gate
        self._waiting: list[Callable[[], None]] = []  # decisions to make once it is known

    def start(self, flow: Flow) -> list[Callable[[], None]]:
        """The flow's first start: the work that measures the gate, if it is still to come
        (once: a later flow finds it known)."""
        to_come, self._to_come = self._to_come, None
        return [] if to_come is None else [lambda: to_come(flow, self._decided)]

    def hold(self, decide: Callable[[], None]) -> None:
        """Decide now, or once the gate is known."""
        if self._gate is None:
            self._waiting.append(decide)
        else:
            decide()

    @property
    def known(self) -> FitnessGate:
        assert self._gate is not None and not self._waiting, "the gate was never decided"
        return self._gate

    def _decided(self, gate: FitnessGate) -> None:
        self._gate = gate
        waiting, self._waiting = self._waiting, []
        for decide in waiting:
            decide()
