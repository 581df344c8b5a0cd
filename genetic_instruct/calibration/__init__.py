"""Judge calibration: does the judge's score separate correct from faulty solutions?

`calibrate(...)` measures it (ROC AUC with a bootstrap interval, score distributions, the
threshold keeping a chosen share of correct solutions); `fitness_gate(cfg, calibration)` is
what a run gates survival on. `genetic-instruct calibrate` runs it alone.
"""

from genetic_instruct.calibration.measure import (
    calibrate,
    fitness_gate,
    run_gate,
    stored_calibration,
)
from genetic_instruct.calibration.result import CALIBRATION_JSON, Calibration

__all__ = [
    "CALIBRATION_JSON",
    "Calibration",
    "calibrate",
    "fitness_gate",
    "run_gate",
    "stored_calibration",
]
