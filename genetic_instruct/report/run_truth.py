"""What `inspect` says of a run's rows below its table: what was gated (and the unverified
warning), difficulty, what a kept row cost, whether the run can be made again.

The same functions the report and card use (gates.py, row_signals.py), fed from the
generations' stats and the run's saved config, so `inspect` stays cheap on a large run (no
record is read) and never says other than the card.
"""

from __future__ import annotations

from genetic_instruct.config import Config
from genetic_instruct.report.gates import measured_and_gated
from genetic_instruct.report.metrics import generation_row, tokens_per_accepted
from genetic_instruct.report.row_signals import difficulty_line, row_signals, tokens_line
from genetic_instruct.report.saved_config import saved_config
from genetic_instruct.state.meta import CALIBRATION, REPRODUCIBILITY, TEST_ORACLE
from genetic_instruct.state.store import RunStore


def run_truth(store: RunStore, cfg: Config) -> list[str]:
    """The lines, in the order a reader needs them: a warning first."""
    run_cfg = saved_config(cfg.run_dir) or cfg
    calibration = store.meta.get(CALIBRATION)
    gates = measured_and_gated(run_cfg, calibration)
    generations = [generation_row(stats) for stats in store.generation_stats()]
    accepted = sum(row["accepted"] for row in generations if row["generation"] > 0)
    signals = row_signals(generations, run_cfg)
    oracle = store.meta.get(TEST_ORACLE)
    judge = signals["judge_vs_pass_rate"]
    reproducible = store.meta.get(REPRODUCIBILITY)
    lines = [
        gates["warning"],
        *(f"checked: {line}" for line in gates["lines"]),
        None if calibration is None else calibration.line(),
        difficulty_line(signals),
        None if oracle is None else oracle.line(),
        None if judge is None else judge["line"],
        tokens_line(tokens_per_accepted(generations, accepted)),
        None if reproducible is None else reproducible.line(),
    ]
    return [line for line in lines if line]
