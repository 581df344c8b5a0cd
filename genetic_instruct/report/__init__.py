"""The run report (report.html + report.json in the run directory) and the sweep comparison.

`write_report(store, cfg)` for one run, `write_comparison(run_dirs, out_dir)` for a sweep;
`genetic-instruct report run_dir=...` on the command line.
"""

from genetic_instruct.report.comparison import write_comparison
from genetic_instruct.report.lineage import lineage_depths
from genetic_instruct.report.metrics import build_report
from genetic_instruct.report.run_page import (
    REPORT_HTML,
    REPORT_JSON,
    current_report,
    report_outputs,
    write_report,
)
from genetic_instruct.report.saved_config import save_config, saved_config

__all__ = [
    "REPORT_HTML",
    "REPORT_JSON",
    "build_report",
    "current_report",
    "lineage_depths",
    "save_config",
    "report_outputs",
    "saved_config",
    "write_comparison",
    "write_report",
]
