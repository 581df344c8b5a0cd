"""Running a solution against its tests in the sandbox, in any language, one or many.

Python runs in the launcher's own interpreter (_harness.py); the other languages are
built and run by compiled.py. Either way one sandboxed process tree (launch.py) runs the
program; nothing here executes generated code.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from genetic_instruct.errors import SandboxUnavailable
from genetic_instruct.languages import Language

from . import rootfs
from .launch import Launch, launch
from .limits import ExecutionResult, SandboxLimits


def run_tests(
    solution: str,
    tests: str,
    limits: SandboxLimits | None = None,
    language: Language | str = Language.python,
    service: str | None = None,
) -> ExecutionResult:
    """Run `solution` against `tests`, both in `language`, sandboxed.

    Python: the solution, then the top-level statements of `tests` in its namespace; each
    top-level assert is one test, and a failing assert is counted and the run goes on.
    The other languages are compiled first (in a sandbox of their own, under the compile
    limits) and their tests counted the same way by a harness of their own (toolchains/).
    The code runs in a child process only, never here, and nothing it does can make this
    function raise; SandboxUnavailable is raised only when the platform refuses the
    isolation (see _launcher.py for what that is, as root and as an ordinary user) or the
    language's toolchain is missing. `service`: the URL of a SandboxFusion server to run
    it on instead (remote.py says what that gives up).
    """
    if not sys.platform.startswith("linux"):
        raise SandboxUnavailable(f"the sandbox needs Linux namespaces; this is {sys.platform}")
    limits = limits or SandboxLimits()  # a fresh default: limits are mutable (Hydra's)
    if service is not None:
        from .remote import run_remote

        return run_remote(service, solution, tests, limits, Language(language))
    if Language(language) is not Language.python:
        from .compiled import run_compiled  # the toolchains load only when a program needs one

        return run_compiled(solution, tests, limits, Language(language))
    body = {"kind": "python", "solution": solution, "tests": tests}
    return launch(Launch(body, rootfs.plan(), limits)).result()


def run_many(
    jobs: Sequence[tuple[str, str] | tuple[str, str, Language | str]],
    limits: SandboxLimits | Sequence[SandboxLimits] | None = None,
    workers: int | None = None,
    service: str | None = None,
) -> list[ExecutionResult]:
    """run_tests over (solution, tests) or (solution, tests, language) jobs, `workers` at
    a time; results in input order. `limits` holds for every job, or is a sequence of one
    per job; `service` as for run_tests.

    Threads, not processes: each run is already its own process tree, and a thread only
    waits on its pipes. The default is one worker per CPU this process may use, since a
    run is mostly CPU-bound interpreter start-up or compiling (bench/RESULTS-sandbox.md).
    """
    if not jobs:
        return []
    count = min(workers or usable_cpus(), len(jobs))
    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="gi-sandbox") as pool:
        if limits is None or isinstance(limits, SandboxLimits):
            per_job = [limits or SandboxLimits()] * len(jobs)
        else:
            per_job = list(limits)
        return list(pool.map(lambda job, lim: _run_job(job, lim, service), jobs, per_job))


def _run_job(
    job: tuple[str, str] | tuple[str, str, Language | str],
    limits: SandboxLimits,
    service: str | None,
) -> ExecutionResult:
    language = job[2] if len(job) == 3 else Language.python
    return run_tests(job[0], job[1], limits, language, service)


def usable_cpus() -> int:
    """CPUs this process may run on (a cgroup or taskset may allow fewer than exist)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
