"""Judge calibration: does the judge's score separate correct from faulty solutions?

`calibrate(...)` measures it (ROC AUC with a bootstrap interval, score distributions, the
threshold keeping a chosen share of correct solutions) and keeps the outcome in the run
state (meta CALIBRATION) and in run_dir/calibration.json. A run gates on it
(run/calibrate.py); `genetic-instruct calibrate` runs it alone.
"""

from genetic_instruct.calibration.measure import CALIBRATION_JSON, calibrate

__all__ = ["CALIBRATION_JSON", "calibrate"]
