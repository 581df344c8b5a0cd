"""Programs in the other languages: built in one sandbox, run with their harness in another.

The build (g++, javac, rustc, go's compile and link) runs under the compile limits
(CompileLimits: a compiler needs far more than the program), in a root that holds the
toolchain; its output is collected from the scratch and run in a root that holds only
what the program loads. Both sandboxes have the Python run's isolation: namespaces, an
allow-listed root, a memory cgroup, an empty keyring, the seccomp filter.

A build depends only on its toolchain, command, files and limits, so its result, program
or compiler error, is kept in an in-memory cache (artefacts.py): a seed checked before a
run and again by calibration, or a program re-checked, is built once.
"""

from __future__ import annotations

import dataclasses
import re
import signal

from genetic_instruct.languages import Language

from . import toolchains
from .artefacts import Built, cached_build
from .launch import Launch, launch
from .limits import CompileLimits, ExecutionResult, NetworkMode, SandboxLimits
from .toolchains import Program, ProgramError, Toolchain
from .verdict import last_line


def run_compiled(
    solution: str, tests: str, limits: SandboxLimits, language: Language
) -> ExecutionResult:
    chain = toolchains.toolchain(language)
    try:
        program = toolchains.assemble(language, solution, tests, limits)
    except ProgramError as error:
        return _compile_error(str(error), "", 0.0)
    files, compile_s = program.files, 0.0
    if program.build is not None:
        built = cached_build(chain, program, limits, lambda: _build(chain, program, limits))
        if built.error is not None:
            return _compile_error(built.error, built.output, built.seconds)
        files, compile_s = built.files, built.seconds
    run = program.run
    body = {
        "kind": "exec",
        "argv": list(run.argv),
        "env": dict(run.env),
        "files": list(files),
        "results": True,
    }
    outcome = launch(Launch(body, chain.run_root, limits, run.address_space_mb, run.threads))
    return dataclasses.replace(outcome.result(), compile_s=compile_s)


def compile_limits(limits: SandboxLimits) -> SandboxLimits:
    """The build's sandbox limits: the compile ones, the program's output cap, no network."""
    own = limits.compile
    return SandboxLimits(
        wall_seconds=own.wall_seconds,
        cpu_seconds=own.cpu_seconds,
        memory_mb=own.memory_mb,
        file_size_mb=own.file_size_mb,
        max_processes=own.max_processes,
        output_bytes=limits.output_bytes,
        network=NetworkMode.isolate,
    )


def _build(chain: Toolchain, program: Program, limits: SandboxLimits) -> Built:
    step = program.build
    assert step is not None
    body = {
        "kind": "exec",
        "argv": list(step.argv),
        "env": dict(step.env),
        "files": list(program.files),
        "results": False,
    }
    spec = Launch(
        body,
        chain.build_root,
        compile_limits(limits),
        step.address_space_mb,
        step.threads,
        collect=program.outputs,
    )
    outcome = launch(spec)
    runner = outcome.exit()  # SandboxUnavailable where the platform refused
    if outcome.channels.records.unavailable:
        outcome.result()  # raises SandboxUnavailable, saying what could not start
    seconds, own = outcome.runtime_s, limits.compile
    output = outcome.channels.stdout.text() + outcome.stderr
    error: str | None
    if outcome.overran or runner is None or runner.wall_timeout:
        error = f"the build ran past its wall-clock limit of {own.wall_seconds:g}s"
    elif runner.signal is not None:
        error = _killed_build(runner.signal, runner.over_memory, own)
    elif runner.exit_code != 0:
        error = compiler_message(output)
    else:
        missing = [name for name in program.outputs if not _collected(outcome.collected, name)]
        error = f"the build left no {', '.join(missing)}" if missing else None
    if error is not None:
        return Built((), error, output, seconds)
    files = tuple((name, data, mode) for name, (data, mode) in outcome.collected.items())
    return Built(files, None, output, seconds)


def _collected(collected: dict[str, tuple[bytes, int]], name: str) -> bool:
    return any(key == name or key.startswith(name + "/") for key in collected)


def _killed_build(number: int, over_memory: bool, own: CompileLimits) -> str:
    if over_memory:
        return f"the build passed its memory limit of {own.memory_mb} MB"
    if number in (signal.SIGXCPU, signal.SIGKILL):
        return f"the build was killed at its CPU limit of {own.cpu_seconds:g}s"
    return f"the compiler was killed by signal {number}"


_ERROR_LINE = re.compile(r"\berror\b", re.IGNORECASE)
_LOCATED_LINE = re.compile(r"^\S+\.\w+:\d+:\d+: ")  # Go's "tests.go:7:12: too many..."


def compiler_message(output: str) -> str:
    """The compiler's first error line (g++, javac and rustc say "error"; Go names a
    file:line:column), or its last line when none does."""
    lines = output.splitlines()
    for pattern in (_ERROR_LINE, _LOCATED_LINE):
        found = next((line for line in lines if pattern.search(line)), None)
        if found is not None:
            return found.strip()[:300]
    return last_line(output) or "the compiler failed without a message"


def _compile_error(detail: str, output: str, seconds: float) -> ExecutionResult:
    """A program that did not build; its stderr is the compiler's output."""
    return ExecutionResult(
        status="compile_error",
        passed=0,
        total=0,
        pass_fraction=0.0,
        runtime_s=0.0,
        stdout="",
        stderr=output,
        detail=detail,
        compile_s=seconds,
    )
