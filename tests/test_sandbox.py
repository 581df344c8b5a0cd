"""The sandbox against ordinary programs and hostile ones.

Each hostile test is written so it fails if its protection is missing: the hostile program
either asserts, inside the sandbox, that its attack failed (so the run passes only if the
protection held) or leaves a trace the test looks for from outside.
"""

from __future__ import annotations

import dataclasses
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from genetic_instruct.sandbox import (
    ExecutionResult,
    SandboxLimits,
    SandboxUnavailable,
    launch,
    run_many,
    run_tests,
)
from genetic_instruct.sandbox.verdict import Records

from .conftest import sandbox_pythonpath

REPO = Path(__file__).resolve().parents[1]
FAST = SandboxLimits(wall_seconds=5, cpu_seconds=3, memory_mb=256, output_bytes=4096)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux")


def run(solution: str, tests: str, limits: SandboxLimits = FAST) -> ExecutionResult:
    return run_tests(textwrap.dedent(solution), textwrap.dedent(tests), limits)


def sandbox_processes(marker: str = "") -> list[str]:
    """Live processes that belong to a sandbox: the launcher's command line, a sandbox uid,
    or a marker a hostile program put in the command line of something it exec'd."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue  # exited while we looked
        uid = int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])
        marked = bool(marker) and marker in cmdline
        if str(launch.LAUNCHER) in cmdline or uid >= launch.SANDBOX_UID_BASE or marked:
            found.append(f"{pid} uid={uid} {cmdline}")
    return found


def sandbox_dirs() -> set[str]:
    names = os.listdir(tempfile.gettempdir())
    return {name for name in names if name.startswith(launch.TEMP_PREFIX)}


@pytest.fixture(scope="module", autouse=True)
def leaves_nothing_behind():
    """Skip where isolation is impossible; afterwards, no process and no temp dir remain."""
    try:
        run_tests("", "assert True", FAST)
    except SandboxUnavailable as exc:
        pytest.skip(f"sandbox unavailable here: {exc}")
    dirs_before = sandbox_dirs()
    yield
    assert _lasting(sandbox_processes) == []
    assert _lasting(lambda: sorted(sandbox_dirs() - dirs_before)) == []


def _lasting(seen: Callable[[], list[str]], patience_s: float = 15.0) -> list[str]:
    """What `seen` still shows after `patience_s` of what it showed at first. The other
    pytest worker runs sandboxes of its own at any moment (the loop's, mutation tests), and
    each ends within its wall-clock limit; a leak from this module would last."""
    found = seen()
    deadline = time.monotonic() + patience_s
    while found and time.monotonic() < deadline:
        time.sleep(0.2)
        found = [item for item in seen() if item in found]
    return found


# Ordinary programs -----------------------------------------------------------------------


def test_all_asserts_pass():
    result = run(
        "def add(a, b):\n    return a + b",
        "assert add(1, 2) == 3\nassert add(0, 0) == 0",
    )
    assert (result.status, result.passed, result.total) == ("passed", 2, 2)
    assert result.pass_fraction == 1.0


def test_failing_asserts_are_counted_and_the_run_goes_on():
    result = run(
        "def add(a, b):\n    return a + b\n",
        "assert add(1, 2) == 3\nassert add(1, 1) == 3\nassert add(0, 0) == 0\n",
    )
    assert (result.status, result.passed, result.total) == ("failed", 2, 3)
    assert result.pass_fraction == pytest.approx(2 / 3)
    assert "line 2" in result.detail and "add(1, 1) == 3" in result.detail


def test_an_assert_that_raises_is_a_failed_test():
    result = run("def inv(x):\n    return 1 / x\n", "assert inv(0) == 0\nassert inv(2) == 0.5\n")
    assert (result.status, result.passed, result.total) == ("failed", 1, 2)
    assert "ZeroDivisionError" in result.detail


def test_setup_statements_run_between_asserts():
    tests = "x = double(3)\nassert x == 6\nimport math\nassert math.isqrt(x * x) == 6\n"
    result = run("def double(x):\n    return 2 * x\n", tests)
    assert (result.status, result.passed, result.total) == ("passed", 2, 2)


@pytest.mark.parametrize(
    ("solution", "tests", "status", "expected"),
    [
        ("def f(:\n    pass\n", "assert True\n", "compile_error", "compile the solution: Syntax"),
        ("x = 1\n", "assert (x ==\n", "compile_error", "compile the tests: SyntaxError"),
        ("x = 1\n", "assert " + "(" * 5000 + ")" * 5000, "compile_error", "compile the tests"),
        ("x = 1 / 0\n", "assert True\n", "runtime_error", "ZeroDivisionError"),
        ("x = 1\n", "y = undefined_name\nassert x == 1\n", "runtime_error", "NameError"),
        ("x = 1\n", "y = x + 1\n", "failed", "no assert: nothing was checked"),
        ("import sys\nsys.exit(0)\n", "assert True\n", "runtime_error", "SystemExit"),
        ("import os\nos._exit(0)\n", "assert True\n", "runtime_error", "exited before the tests"),
    ],
    ids=[
        "solution-syntax",
        "tests-syntax",
        "tests-too-deep",
        "import-raises",
        "setup-raises",
        "no-asserts",
        "sys-exit",
        "os-exit",
    ],
)
def test_programs_that_cannot_run_say_why(solution, tests, status, expected):
    """The same verdicts as the compiled languages': a program that does not compile, one
    that raises before its tests end, tests that check nothing."""
    result = run(solution, tests)
    assert result.status == status and result.passed == 0
    assert expected in result.detail


def test_print_output_is_captured():
    result = run("import sys\nprint('hello')\nprint('oops', file=sys.stderr)\n", "assert True\n")
    assert result.status == "passed" and result.stdout == "hello\n" and result.stderr == "oops\n"


def test_run_many_returns_results_in_input_order():
    jobs = [(f"x = {i}\n", f"assert x == {i if i % 3 else -1}\n") for i in range(7)]
    results = run_many(jobs, FAST, workers=2)
    assert [r.status for r in results] == ["failed" if i % 3 == 0 else "passed" for i in range(7)]
    assert run_many([], FAST) == []


def test_run_many_takes_limits_per_job():
    job = ("block = bytearray(160 * 1024 * 1024)\n", "assert len(block) > 0\n")
    small = dataclasses.replace(FAST, memory_mb=64)
    results = run_many([job, job], [small, FAST], workers=2)
    assert [r.status for r in results] == ["killed", "passed"]


def test_limits_are_validated_up_front():
    with pytest.raises(ValueError, match="network"):
        SandboxLimits(network="host")
    with pytest.raises(ValueError, match="wall_seconds"):
        SandboxLimits(wall_seconds=0)


NONCE = "ab" * 16


@given(st.lists(st.integers(min_value=1, max_value=40), max_size=30))
def test_records_do_not_depend_on_how_the_pipe_splits_them(cuts):
    stream = (
        f"{NONCE} total 3 \n{NONCE} pass 0 \n{NONCE} fail 1 line 2: assert f() (AssertionError)\n"
        f"junk without a nonce\n{NONCE} pass 2 \n{NONCE} done 3 \n"
    ).encode()
    records = Records(NONCE)
    position = 0
    for cut in cuts:
        records.feed(stream[position : position + cut])
        position += cut
    records.feed(stream[position:])
    assert (records.total, records.passed, records.ran, records.done) == (3, 2, 3, True)
    assert records.first_failure == "line 2: assert f() (AssertionError)"


def test_records_out_of_order_or_replayed_count_once():
    records = Records(NONCE)
    lines = ["total 2", "pass 0", "pass 0", "pass 5", "pass x"]
    records.feed("".join(f"{NONCE} {line} \n" for line in lines).encode())
    assert (records.passed, records.ran) == (1, 1)


# Hostile programs ------------------------------------------------------------------------


def test_infinite_loop_is_stopped_by_the_wall_clock():
    limits = SandboxLimits(wall_seconds=1, cpu_seconds=30)
    solution = "def spin():\n    while True:\n        pass\n"
    result = run(solution, "assert True\nspin()\nassert True\n", limits)
    assert result.status == "timeout" and "wall-clock" in result.detail
    assert (result.passed, result.total) == (1, 2)  # what ran before the loop still counts
    assert result.runtime_s < 1 + launch.GRACE_S


def test_busy_loop_is_stopped_by_the_cpu_limit():
    limits = SandboxLimits(wall_seconds=20, cpu_seconds=1)
    result = run("while True:\n    pass\n", "assert True\n", limits)
    assert result.status == "timeout" and "CPU" in result.detail
    assert result.runtime_s < 5


def test_fork_bomb_is_bounded_and_leaves_no_process():
    bomb = """
        import os, time
        forks = 0
        try:
            for _ in range(500):
                if os.fork() == 0:
                    time.sleep(60)
                    os._exit(0)
                forks += 1
        except OSError:
            pass
        print("forks", forks)
    """
    result = run(bomb, "assert forks < 8\n", SandboxLimits(wall_seconds=5, max_processes=8))
    assert result.status == "passed", result
    assert result.stdout.strip() == "forks 7"  # the runner itself is the eighth
    assert _lasting(sandbox_processes) == []  # the sleepers (60 s) died with the namespace


def test_memory_bomb_is_killed_and_the_caller_is_unharmed():
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = run("hog = bytearray(2 * 1024 ** 3)\n", "assert len(hog) > 0\n")
    assert result.status == "killed" and "memory limit" in result.detail
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 50_000  # KiB
    assert run("x = 1\n", "assert x == 1\n").status == "passed"


def test_huge_output_is_truncated_without_buffering_it():
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    flood = """
        import sys
        for _ in range(100):
            sys.stdout.write("x" * 1_000_000)
            sys.stderr.write("y" * 1_000_000)
    """
    result = run(flood, "assert True\n")
    assert result.status == "passed"
    assert result.stdout == "x" * FAST.output_bytes and result.stderr == "y" * FAST.output_bytes
    # 200 MB went through the pipes; the caller's peak memory barely moved (KiB).
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 50_000


def test_cannot_write_outside_its_directory():
    tag = uuid.uuid4().hex
    targets = [Path(f"/tmp/escape-{tag}"), REPO / f"escape-{tag}", Path(f"/var/tmp/escape-{tag}")]
    solution = f"""
        import os, tempfile
        escaped = []
        # /dev/shm is writable, but a private tmpfs: the host's stays untouched.
        with open("/dev/shm/escape-{tag}", "w") as file:
            file.write("private")
        for path in {[str(t) for t in targets]!r}:
            try:
                with open(path, "w") as file:
                    file.write("out")
                escaped.append(path)
            except OSError:
                pass
        with open("inside.txt", "w") as file:  # its own directory stays writable
            file.write("in")
        with tempfile.NamedTemporaryFile() as file:
            file.write(b"temp files work too")
    """
    result = run(solution, "assert escaped == []\nassert open('inside.txt').read() == 'in'\n")
    assert result.status == "passed", result
    assert [t for t in [*targets, Path(f"/dev/shm/escape-{tag}")] if t.exists()] == []


def test_cannot_delete_files_outside_its_directory():
    # World-writable on purpose: only the read-only mounts, not permissions, protect it.
    victim_dir = Path(tempfile.mkdtemp(prefix="gi-victim-"))
    try:
        victim_dir.chmod(0o777)
        victim = victim_dir / "precious.txt"
        victim.write_text("keep me")
        victim.chmod(0o666)
        solution = f"""
            import os, shutil
            attempts = ((os.remove, {str(victim)!r}), (shutil.rmtree, {str(victim_dir)!r}))
            for attempt, path in attempts:
                try:
                    attempt(path)
                except OSError:
                    pass
        """
        run(solution, "assert True\n")
        assert victim.read_text() == "keep me"
    finally:
        shutil.rmtree(victim_dir, ignore_errors=True)


def test_cannot_see_the_callers_environment(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "secret")
    solution = f"""
        import os
        seen = dict(os.environ)
        print(seen)
        leaked = []
        for pid in ({os.getpid()}, 1):
            try:
                leaked.append(open(f"/proc/{{pid}}/environ", "rb").read())
            except OSError:
                pass
    """
    result = run(solution, "assert 'OPENAI_API_KEY' not in seen\nassert leaked == []\n")
    assert result.status == "passed", result
    assert "secret" not in result.stdout


def listener() -> socket.socket:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.3)
    return server


def connect_attempt(port: int) -> str:
    return f"""
        import socket
        try:
            socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
            connected = True
        except OSError as exc:
            connected = False
            print(exc)
    """


def test_cannot_reach_the_network():
    with listener() as server:
        result = run(connect_attempt(server.getsockname()[1]), "assert not connected\n")
        assert result.status == "passed", result
        with pytest.raises(socket.timeout):
            server.accept()  # nothing ever arrived


def test_network_opt_out_is_explicit():
    # The same program reaches the listener with network="allow": the test above fails
    # for the right reason when isolation is missing.
    with listener() as server:
        limits = SandboxLimits(wall_seconds=5, network="allow")
        result = run(connect_attempt(server.getsockname()[1]), "assert connected\n", limits)
        assert result.status == "passed", result
        server.accept()[0].close()


STUBBORN = """
    import os, signal, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = os.fork()
    if child == 0:
        os.setsid()  # leaves the process group, so killpg alone would miss it
        # The interpreter is what the sandbox's root offers to exec.
        os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(60)", "{marker}"])
    while "{marker}" not in open(f"/proc/{{child}}/cmdline").read():
        time.sleep(0.01)
    print("grandchild started", flush=True)
    while True:
        time.sleep(0.05)
"""


def test_sigterm_ignoring_program_and_its_grandchild_are_killed():
    marker = f"{uuid.uuid4().int % 10**6 + 10**6}.5"
    result = run(STUBBORN.format(marker=marker), "assert True\n", SandboxLimits(wall_seconds=2))
    assert result.status == "timeout" and result.stdout == "grandchild started\n", result
    assert _lasting(lambda: sandbox_processes(marker)) == []


def test_the_callers_own_kill_leaves_no_orphans(monkeypatch):
    # Make the caller's fallback fire before init's own wall clock does.
    monkeypatch.setattr(launch, "GRACE_S", -4.0)
    marker = f"{uuid.uuid4().int % 10**6 + 10**6}.25"
    result = run(STUBBORN.format(marker=marker), "assert True\n", SandboxLimits(wall_seconds=5))
    assert result.status == "timeout" and result.runtime_s < 3
    assert result.stdout == "grandchild started\n", result
    assert _lasting(lambda: sandbox_processes(marker)) == []


def test_forged_results_do_not_turn_failures_into_passes():
    forger = """
        import os
        # Text that looks like a result, on stdout and on every open descriptor.
        print("passed 2/2")
        fakes = (b"total 2", b"pass 0", b"pass 1", b"done 2")
        for fd in range(3, 256):
            try:
                os.write(fd, b"".join(b"0" * 32 + b" " + r + b" \\n" for r in fakes))
            except OSError:
                pass
        # Rewrite the harness's own records on their way out.
        _write = os.write
        os.write = lambda fd, data: _write(fd, data.replace(b" fail ", b" pass "))
        def wrong():
            return 0
    """
    result = run(forger, "assert wrong() == 1\nassert wrong() == 2\n")
    assert (result.status, result.passed, result.total) == ("failed", 0, 2)


def test_exiting_midway_is_not_a_pass():
    solution = "import os\ndef leave():\n    os._exit(0)\n"
    result = run(solution, "assert True\nassert leave()\nassert True\n")
    assert result.status == "runtime_error" and (result.passed, result.total) == (1, 3)


# Platforms ------------------------------------------------------------------------------

ESCAPE_ATTEMPTS = """
import ctypes, socket
libc = ctypes.CDLL(None, use_errno=True)
# Try to undo the read-only mount first (MS_REMOUNT | MS_BIND, without MS_RDONLY).
libc.mount(None, b"/", None, 0x20 | 0x1000, None)
try:
    open("/tmp/escape-{tag}", "w").close()
    wrote = True
except OSError:
    wrote = False
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
    connected = True
except OSError:
    connected = False
"""


def caller_in_subprocess(prefix: list[str], python: str, network: str) -> str:
    """run_tests called from another process (another user, another namespace): what
    came back, or "unavailable ..."; the program tries to write /tmp and reach a listener."""
    tag = uuid.uuid4().hex
    with listener() as server:
        solution = ESCAPE_ATTEMPTS.format(tag=tag, port=server.getsockname()[1])
        script = (
            "import sys\n"
            "from genetic_instruct.sandbox import SandboxLimits, SandboxUnavailable, run_tests\n"
            "try:\n"
            f"    r = run_tests(sys.argv[1], sys.argv[2], SandboxLimits(network={network!r}))\n"
            "    print(r.status, r.detail)\n"
            "except SandboxUnavailable as exc:\n"
            "    print('unavailable', exc)\n"
        )
        tests = "assert not wrote\nassert not connected\n"
        env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": sandbox_pythonpath()}
        command = [*prefix, python, "-c", script, solution, tests]
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd="/", timeout=30)
        assert not Path(f"/tmp/escape-{tag}").exists()
        with pytest.raises(socket.timeout):
            server.accept()
    return done.stdout or done.stderr


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root")
@pytest.mark.parametrize("network", ["isolate", "allow"])
def test_refused_isolation_raises_instead_of_running(network):
    # In a user namespace that does not map its uid, a process may create no namespace.
    # "allow" opts out of the network namespace only: the rest is still required.
    outcome = caller_in_subprocess(["unshare", "--user"], sys.executable, network)
    assert outcome.startswith("unavailable"), outcome


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root")
def test_isolation_holds_for_an_ordinary_user():
    python = next((p for p in (sys.executable, "/usr/bin/python3") if _usable_by_nobody(p)), None)
    if python is None:
        pytest.skip("no Python interpreter that uid 65534 can run")
    outcome = caller_in_subprocess(NOBODY, python, "isolate")
    if outcome.startswith("unavailable"):
        pytest.skip(f"unprivileged user namespaces refused here: {outcome}")
    assert outcome.startswith("passed"), outcome


NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def _usable_by_nobody(python: str) -> bool:
    """Whether uid 65534 can run this interpreter and spawn it again, as the sandbox does."""
    spawn_self = "import subprocess, sys; subprocess.run([sys.executable, '-c', ''], check=True)"
    return subprocess.run([*NOBODY, python, "-c", spawn_self], capture_output=True).returncode == 0
