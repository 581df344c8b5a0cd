"""The sandbox's allow-listed root: generated code sees what Python needs and no more.

Probes run through run_tests, as the caller's own user (root under CI) and, when the
suite runs as root, as an ordinary user it makes up (a fresh uid and home, no login).
Each probe reads secrets that user may read on the host, a 0600 SSH key and Hugging Face
token in its home, a run's state.sqlite, a world-readable file in /tmp, and lists / and
/home. Every read must fail with "no such file": not merely "permission denied", which
would show the file is there and would not hold for the user's own files.
"""

from __future__ import annotations

import ast
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from genetic_instruct.sandbox import SandboxLimits, SandboxUnavailable, rootfs, run_tests

from .conftest import sandbox_pythonpath

LIMITS = SandboxLimits(wall_seconds=10, cpu_seconds=5)
PROBE = """
import os
def outcome(action, path):
    try:
        action(path)
        return "visible"
    except OSError as exc:
        return type(exc).__name__
def read(path):
    with open(path, "rb") as file:
        file.read()
seen = {path: outcome(read, path) for path in PATHS}
seen.update({path: outcome(os.listdir, path) for path in ("/home", os.path.dirname(PATHS[0]))})
print(repr((seen, sorted(os.listdir("/")))))
"""
CALLER = """
import sys
from genetic_instruct.sandbox import SandboxLimits, SandboxUnavailable, run_tests
try:
    result = run_tests(sys.argv[1], "assert True\\n", SandboxLimits(wall_seconds=10))
except SandboxUnavailable as exc:
    sys.exit(f"unavailable: {exc}")  # exit status 1
print(result.status, result.detail, file=sys.stderr)
print(result.stdout, end="")
"""

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux")


@pytest.fixture(scope="module", autouse=True)
def sandbox_available() -> None:
    try:
        run_tests("", "assert True", LIMITS)
    except SandboxUnavailable as exc:
        pytest.skip(f"sandbox unavailable here: {exc}")


@pytest.fixture
def world_readable() -> Iterator[Path]:
    path = Path(tempfile.gettempdir()) / f"gi-probe-{uuid.uuid4().hex}.txt"
    path.write_text("anyone on the host may read this")
    path.chmod(0o644)
    yield path
    path.unlink()


def make_home(uid: int, gid: int) -> Path:
    """A home with an SSH key, a Hugging Face token and a run directory, owned by uid."""
    home = Path(tempfile.mkdtemp(prefix="gi-home-"))
    secrets = [home / ".ssh" / "id_ed25519", home / ".cache" / "huggingface" / "token"]
    for secret in secrets:
        secret.parent.mkdir(parents=True)
        secret.write_text("secret")
        secret.chmod(0o600)
    run_dir = home / "runs" / "demo"
    run_dir.mkdir(parents=True)
    sqlite3.connect(run_dir / "state.sqlite").close()
    for path in [home, *home.rglob("*")]:
        os.chown(path, uid, gid)
    return home


def probe_as(prefix: list[str], python: str, home: Path, extra: Path) -> tuple[dict, list]:
    """Run PROBE through run_tests in a caller started with `prefix` (a user switch or
    nothing); what each path gave, and what / lists. Skips where the platform refuses
    that user the namespaces."""
    paths = [
        home / ".ssh" / "id_ed25519",
        home / ".cache" / "huggingface" / "token",
        home / "runs" / "demo" / "state.sqlite",
        extra,
    ]
    solution = f"PATHS = {[str(p) for p in paths]!r}\n{PROBE}"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": sandbox_pythonpath(),
        "HOME": str(home),
    }
    done = subprocess.run(
        [*prefix, python, "-c", CALLER, solution],
        capture_output=True,
        text=True,
        env=env,
        cwd=home,
        timeout=60,
    )
    if done.stderr.startswith("unavailable"):
        pytest.skip(f"sandbox refused to {prefix or 'the caller'}: {done.stderr.strip()}")
    assert done.returncode == 0 and done.stderr.startswith("passed"), done.stderr
    # The probe opened each path for real: the same reads work for this user outside.
    assert subprocess.run([*prefix, "cat", *map(str, paths)], capture_output=True).returncode == 0
    return ast.literal_eval(done.stdout)


def allowed_top_level() -> set[str]:
    """The top-level names the plan puts in the root, and the scratch dir's (/tmp)."""
    names = {path.split("/")[1] for _, path, *_ in rootfs.plan()}
    return names | {Path(tempfile.gettempdir()).parts[1]}


def assert_nothing_visible(seen: dict, top: list) -> None:
    assert seen and set(seen.values()) == {"FileNotFoundError"}, seen
    assert set(top) <= allowed_top_level() and "home" not in top, top


def test_the_callers_own_user_sees_none_of_the_hosts_files(world_readable):
    home = make_home(os.getuid(), os.getgid())
    try:
        assert_nothing_visible(*probe_as([], sys.executable, home, world_readable))
    finally:
        shutil.rmtree(home)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root")
def test_an_ordinary_user_sees_none_of_its_own_files(world_readable):
    uid = 20000 + os.getpid() % 10000  # one per test process, no account of anyone's
    user = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
    python = next((p for p in (sys.executable, "/usr/bin/python3") if runs_as(user, p)), None)
    if python is None:
        pytest.skip(f"no Python interpreter that uid {uid} can run")
    home = make_home(uid, uid)
    try:
        assert_nothing_visible(*probe_as(user, python, home, world_readable))
    finally:
        shutil.rmtree(home)


def runs_as(user: list[str], python: str) -> bool:
    """Whether the user can run this interpreter, import the package from the tree and
    spawn the interpreter again, as the sandbox does."""
    script = "import genetic_instruct.sandbox, subprocess, sys\n"
    script += "subprocess.run([sys.executable, '-c', ''], check=True)"
    check = [*user, python, "-c", script]
    env = {"PYTHONPATH": sandbox_pythonpath()}
    return subprocess.run(check, capture_output=True, env=env, cwd="/").returncode == 0


def test_what_python_needs_is_there():
    """The interpreter runs again inside, the standard library imports with its extension
    modules and their shared libraries, and /proc shows only the sandbox's processes."""
    solution = """
import os, subprocess, sys
import ctypes, hashlib, lzma, sqlite3, ssl, zlib
child = subprocess.run([sys.executable, "-c", "import json; print(json.dumps(1))"],
                       capture_output=True, text=True)
processes = sorted(name for name in os.listdir("/proc") if name.isdigit())
with open("/dev/urandom", "rb") as file:
    noise = file.read(8)
with open("/dev/null", "w") as file:
    file.write("gone")
"""
    tests = "assert child.stdout == '1\\n', child.stderr\nassert len(noise) == 8\n"
    tests += "assert len(processes) <= 3, processes\n"  # init, the runner, the child's pid
    result = run_tests(solution, tests, LIMITS)
    assert result.status == "passed", result


def test_site_packages_and_the_root_stay_read_only_and_empty():
    site_packages = os.path.join(os.path.dirname(os.__file__), "site-packages")
    solution = f"""
import os
site = os.listdir({site_packages!r}) if os.path.isdir({site_packages!r}) else []
try:
    os.mkdir("/planted")
    planted = True
except OSError:
    planted = False
"""
    result = run_tests(solution, "assert site == []\nassert not planted\n", LIMITS)
    assert result.status == "passed", result
