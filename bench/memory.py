"""This process's memory, for benchmarks that report it."""

from __future__ import annotations


def peak_rss_gb() -> float:
    """The process's own peak resident memory (VmHWM). Not ``ru_maxrss``: Linux carries
    that over from the parent across exec, so a probe started by a large benchmark
    process would report the benchmark's peak."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20
    raise RuntimeError("no VmHWM in /proc/self/status")
