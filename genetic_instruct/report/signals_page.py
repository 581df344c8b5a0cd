"""The report page's "Row signals" section: what was checked, difficulty per generation as
a chart (did mutation make tasks harder?) and the test oracle, as report/gates.py and
report/row_signals.py measured them; the judge against the pass rate stands beside the
AUC, in the calibration section."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from genetic_instruct.report.charts import bar_chart
from genetic_instruct.report.page import figure, note
from genetic_instruct.report.row_signals import DIFFICULTIES, difficulty_line


def signals_section(report: Mapping[str, Any]) -> str:
    gates = report["gates"]
    signals = report["row_signals"]
    parts = [note(gates["warning"])] if gates["unverified"] else []
    parts += [note(f"Checked: {line}") for line in gates["lines"]]
    by_generation = signals["difficulty"]["by_generation"]
    if by_generation:
        chart = bar_chart(
            list(by_generation),
            {
                label: [counts.get(label, 0) for counts in by_generation.values()]
                for label in DIFFICULTIES
            },
            stacked=True,
            x_label="generation",
            y_label="tasks (rejected ones included)",
        )
        parts.append(figure(chart, difficulty_line(signals) or ""))
    else:
        parts.append(note("No difficulty measured: it needs execution.attempts of 2 or more."))
    oracle = report["test_oracle"]
    if oracle is not None:
        parts.append(note(oracle["line"]))
    return "".join(parts)
