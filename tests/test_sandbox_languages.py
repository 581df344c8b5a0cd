"""C++, Java, JavaScript, Rust and Go in the sandbox: built, run, each assert counted, the
same verdicts as Python's, and the same isolation, from this process (root under CI) and
from an ordinary user.

A language whose toolchain is missing skips with the reason, except under CI, where it
fails (.ci/run installs them).
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from genetic_instruct.languages import Language
from genetic_instruct.sandbox import SandboxLimits, SandboxUnavailable, artefacts, run_tests
from genetic_instruct.sandbox.limits import CompileLimits
from genetic_instruct.sandbox.toolchains import toolchain

from .sandbox_programs import ADDER, BROKEN, CRASHING, GREEDY, HOSTILE, LOOPING
from .test_sandbox import _lasting, sandbox_processes
from .test_sandbox_confinement import ordinary_user, sandboxed

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux")

LANGUAGES = [language.value for language in Language if language is not Language.python]
FAST = SandboxLimits(wall_seconds=20, cpu_seconds=4, memory_mb=256)
# The memory a hostile program runs under: room for JavaScript's child processes, so the
# process limit, not the memory limit, is what stops them.
ROOMY = SandboxLimits(wall_seconds=30, cpu_seconds=8, memory_mb=1536)


def skip_or_fail(why: str) -> None:
    """Skip here, fail under CI: CI installs every toolchain (.ci/run) and must run it all."""
    if os.environ.get("CI"):
        pytest.fail(f"{why}; CI must run this test")
    pytest.skip(why)


def needs(language: str) -> None:
    """Skip (fail under CI) where the language's toolchain cannot be used here."""
    try:
        toolchain(Language(language))
    except SandboxUnavailable as exc:
        skip_or_fail(f"{language}: {exc}")


def rustc_outside_root() -> bool:
    """Whether an ordinary user finds a rustc of their own on PATH: rustup installs under
    /root, which they cannot enter, so only a system rustc (Debian's) is theirs."""
    path = os.pathsep.join(
        d for d in os.environ.get("PATH", "").split(os.pathsep) if not d.startswith("/root")
    )
    return shutil.which("rustc", path=path) is not None


@pytest.fixture(scope="module", autouse=True)
def leaves_no_process_behind() -> Iterator[None]:
    """The hostile programs' processes (C++ and JavaScript leave one that would sleep for a
    minute) are gone with their runs: the PID namespace ends with its init."""
    yield
    assert _lasting(lambda: sandbox_processes() + _processes_of_the_ordinary_user()) == []


def _processes_of_the_ordinary_user() -> list[str]:
    """Processes left by the runs made as an ordinary user: their sandboxes' processes
    show on the host with that user's uid."""
    prefix = ordinary_user()
    if prefix is None:
        return []
    uid = prefix[1].split("=")[1]
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        owner = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1]
        if owner == uid:
            found.append(f"{pid} uid={owner} {cmdline}")
    return found


@pytest.fixture(params=LANGUAGES)
def language(request) -> str:
    needs(request.param)
    return request.param


@pytest.mark.parametrize(
    ("programs", "status"),
    [(BROKEN, "compile_error"), (CRASHING, "runtime_error"), (LOOPING, "timeout")],
    ids=["compile_error", "runtime_error", "timeout"],
)
def test_each_verdict_in_every_language(language: str, programs: dict, status: str) -> None:
    # The loop's timeout costs one second of CPU, not four.
    limits = SandboxLimits(wall_seconds=20, cpu_seconds=1 if status == "timeout" else 4)
    result = run_tests(programs[language], ADDER[language][1], limits, language)
    assert result.status == status, (result.detail, result.stderr[-500:])
    assert result.passed == 0 and result.detail


def test_each_assert_is_counted_and_a_failure_does_not_stop_the_rest(language: str) -> None:
    result = run_tests(*ADDER[language], FAST, language)
    assert (result.status, result.passed, result.total) == ("failed", 2, 3), result.detail
    assert "(2, 2)" in result.detail or "TestTwo" in result.detail  # the failing one is named


def test_a_program_over_its_memory_is_killed(language: str) -> None:
    result = run_tests(GREEDY[language], ADDER[language][1], FAST, language)
    assert result.status == "killed" and "memory limit" in result.detail, result.detail


def test_a_build_runs_once_for_a_program_run_twice(language: str) -> None:
    if language == "javascript":
        pytest.skip("JavaScript has no build")
    solution, tests = ADDER[language]
    solution += "\n// run twice\n"
    before = artefacts.hits
    first, second = (run_tests(solution, tests, FAST, language) for _ in range(2))
    assert artefacts.hits == before + 1
    assert (first.status, first.passed) == (second.status, second.passed) == ("failed", 2)
    assert first.compile_s > 0 and second.compile_s == 0


# Isolation, as in tests/test_sandbox*.py for Python ----------------------------------------


@pytest.fixture
def listener() -> Iterator[int]:
    """A port on the host's loopback that accepts connections."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


@pytest.fixture
def host_file(tmp_path_factory) -> str:
    """A file everyone on the host may read."""
    folder = tmp_path_factory.mktemp("host")
    folder.chmod(0o755)
    path = folder / "secret.txt"
    path.write_text("secret")
    path.chmod(0o644)
    return str(path)


@pytest.mark.parametrize("caller", ["this process", "an ordinary user"])
def test_hostile_programs_are_refused_in_every_language(
    language: str, caller: str, listener: int, host_file: str
) -> None:
    """Host files, the host's network, threads and processes past the limit, new
    namespaces (where the language can ask for one) and processes left behind."""
    solution, tests = HOSTILE[language]
    solution = solution.replace("{path}", host_file).replace("{port}", str(listener))
    limits = {"wall_seconds": 30, "cpu_seconds": 8, "memory_mb": 1536}
    if caller == "this process":
        result = run_tests(solution, tests, SandboxLimits(**limits), language)
        found = {"status": result.status, "detail": result.detail}
    else:
        prefix = ordinary_user()
        if prefix is None:
            pytest.skip("needs root and setpriv to become an ordinary user")
        if language == "rust" and not rustc_outside_root():
            skip_or_fail(
                "rust: rustup keeps rustc under /root, out of an ordinary user's reach; "
                "a system rustc (apt-get install rustc) is theirs"
            )
        found = sandboxed(prefix, solution, tests, language=language, **limits)
    assert found["status"] == "passed", found


def test_the_build_sees_no_host_file_either(host_file: str) -> None:
    """The compiler runs sandboxed too: a header named by a host path is not there."""
    needs("cpp")
    result = run_tests(f'#include "{host_file}"\n', ADDER["cpp"][1], FAST, "cpp")
    assert result.status == "compile_error" and "No such file" in result.detail, result.detail


def test_the_run_root_holds_only_the_program_and_what_it_loads() -> None:
    """A Go program's root has what it may load (the C library) and nothing else: no
    compiler, no shell, no headers, no account database, no home."""
    needs("go")
    solution = (
        'package main\n\nimport "os"\n\nfunc Exists(p string) bool { _, e := os.Stat(p); '
        "return e == nil }\n"
    )
    tests = (
        'package main\n\nimport "testing"\n\nfunc TestRoot(t *testing.T) {\n'
        '\tfor _, p := range []string{"/bin/sh", "/usr/include", "/etc/passwd", "'
        + toolchain(Language.go).tools["goroot"]
        + '", "'
        + str(Path.home())
        + '"} {\n\t\tif Exists(p) {\n\t\t\tt.Error(p)\n\t\t}\n\t}\n}\n'
    )
    result = run_tests(solution, tests, FAST, "go")
    assert result.status == "passed", (result.detail, result.stdout)


def test_a_build_past_its_own_limits_is_a_compile_error() -> None:
    """The compiler's limits are its own (execution.compile.*): a build that needs more is
    stopped and said to be one, and the program's limits are not what stopped it."""
    needs("cpp")
    heavy = "#include <bits/stdc++.h>\nint add(int a, int b) { return a + b; }\n"
    limits = SandboxLimits(wall_seconds=20, compile=CompileLimits(memory_mb=48))
    result = run_tests(heavy, ADDER["cpp"][1], limits, "cpp")
    assert result.status == "compile_error", (result.detail, result.stderr[-300:])
    assert "48 MB" in result.detail or "memory" in result.detail.lower(), result.detail
