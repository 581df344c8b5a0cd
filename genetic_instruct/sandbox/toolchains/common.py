"""What every language's toolchain module makes, and the probes they share.

A language module (cpp.py, java.py, ...) does two things. `find()` locates its compiler
and runtime on this machine, once per process, and works out what the sandbox's root must
hold for them (rootfs.plan_for), by asking the tools themselves: trusted commands on
trusted files, run here and never in the sandbox. `assemble()` turns a solution and its
tests into a Program: the files to write, the build to run (if any), and the run itself,
with the language's harness placed around the tests so that each assert is counted the
way Python's top-level asserts are (verdict.Records).

The harness and the sandbox talk as in Python: records on descriptor 3, each line led by
a nonce the harness reads from launch.NONCE_FILE in its scratch and deletes before the solution
runs, so the program's own output cannot forge a pass.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from importlib import resources

from genetic_instruct.errors import SandboxUnavailable
from genetic_instruct.languages import Language

from ..launch import CHILD_PATH as SANDBOX_PATH
from ..rootfs import Entry

PROBE_TIMEOUT_S = 120


class ProgramError(ValueError):
    """A solution and tests that cannot make a program (the tests have no main, say): a
    compile_error whose detail is the message."""


@dataclass(frozen=True)
class Step:
    """One process the sandbox starts: a compiler, or the built program with its harness.

    address_space_mb: RLIMIT_AS for runtimes that reserve far more address space than
        they use (a JVM, V8); None keeps memory_mb. The program's memory is bounded by its
        memory cgroup (or init's count) either way.
    threads: threads the runtime starts for itself (a JVM's compiler and GC threads),
        allowed on top of max_processes so that the program keeps its own allowance.
    """

    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    address_space_mb: int | None = None
    threads: int = 0


@dataclass(frozen=True)
class Program:
    """A solution and its tests as the sandbox builds and runs them.

    files: (name, content, mode) written into the scratch before the build, or before
        the run when there is no build (JavaScript).
    total: the tests counted (assert sites, or Go's Test functions).
    build: the compiler's step; its outputs (names in the scratch) are what the run gets.
    """

    files: tuple[tuple[str, bytes, int], ...]
    total: int
    run: Step
    build: Step | None = None
    outputs: tuple[str, ...] = ()


def native_program(
    source: str, text: str, total: int, compiler: tuple[str, ...], env: tuple = ()
) -> Program:
    """One source file that `compiler` (its argv, less `-o program source`) builds into a
    native program, run as ./program: C++'s and Rust's shape."""
    return Program(
        files=((source, text.encode("utf-8", "surrogatepass"), 0o600),),
        total=total,
        build=Step((*compiler, "-o", NATIVE, source), run_env()),
        outputs=(NATIVE,),
        run=Step((f"./{NATIVE}",), run_env(env)),
    )


NATIVE = "program"


@dataclass(frozen=True)
class Toolchain:
    """A language's tools on this machine and the roots its steps run in.

    version: what the compiler says it is; with the build's command and files, the key
        of a built program in the artefact cache.
    tools: name -> absolute path, as the language module uses them.
    """

    language: Language
    version: str
    run_root: tuple[Entry, ...]
    build_root: tuple[Entry, ...] = ()
    tools: dict[str, str] = field(default_factory=dict)


def harness(name: str) -> str:
    """A harness source shipped beside this module (toolchains/harness/)."""
    return (
        resources.files(__package__).joinpath("harness").joinpath(name).read_text(encoding="utf-8")
    )


def require(tool: str, install: str) -> str:
    """The absolute path of `tool` on PATH, or SandboxUnavailable saying how to install it."""
    found = shutil.which(tool)
    if found is None:
        raise SandboxUnavailable(f"{tool} is not on PATH; install it ({install})")
    return os.path.abspath(found)


def probe(argv: list[str], cwd: str | None = None, extra: dict[str, str] | None = None) -> str:
    """A trusted command's stdout and stderr together (version queries, probe builds);
    SandboxUnavailable if it fails, since the toolchain then cannot work in the sandbox.
    `extra`: variables a tool needs to find itself (rustup's RUSTUP_HOME)."""
    env = {"PATH": os.environ.get("PATH", SANDBOX_PATH), "LC_ALL": "C", "HOME": cwd or "/"}
    env.update(extra or {})
    if cwd:
        env["TMPDIR"] = cwd
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, cwd=cwd, env=env, timeout=PROBE_TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxUnavailable(f"cannot run {argv[0]}: {exc}") from exc
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise SandboxUnavailable(
            f"{' '.join(argv[:3])} failed (exit {done.returncode}): {output.strip()[-300:]}"
        )
    return output


_PATH_IN_WORD = re.compile(r"(?:^|[=,]|^-[LBI])(/[^\s'\"(),:]+)")


def files_named_in(text: str) -> list[str]:
    """The existing files a compiler driver's -v or a linker's --trace output names: what
    a build touched besides the headers (crt objects, libraries, linker scripts, plugins).
    Paths are made lexical-normal (a/12/../../x): the directories on the way are real."""
    found: dict[str, None] = {}
    for word in text.split():
        for match in _PATH_IN_WORD.finditer(word.strip("'\"")):
            path = os.path.normpath(match.group(1))
            if os.path.isfile(path):
                found[path] = None
    return list(found)


def library_files(driver: str, libraries: list[str], cwd: str) -> list[str]:
    """The files behind `-l` flags as `driver` (gcc, cc) resolves them, .so and .a, and
    what a linker script among them names (libc.so names libc.so.6 and ld.so): the link
    step needs them although a --trace does not list scripts."""
    files: list[str] = []
    for library in libraries:
        for suffix in (".so", ".a"):
            path = probe([driver, f"-print-file-name=lib{library}{suffix}"], cwd).strip()
            if os.path.isabs(path) and os.path.isfile(path):
                files.append(os.path.normpath(path))
                files += _named_by_script(path)
    return files


def _named_by_script(path: str) -> list[str]:
    try:
        with open(path, "rb") as file:
            head = file.read(4096)
    except OSError:
        return []
    if b"\0" in head:  # an ELF file or an archive, not a script
        return []
    return files_named_in(head.decode("utf-8", "replace").replace("(", " ").replace(")", " "))


def run_env(extra: tuple[tuple[str, str], ...] = ()) -> tuple[tuple[str, str], ...]:
    """A step's environment: none of the caller's variables (its API keys live there)."""
    return (("PATH", SANDBOX_PATH), ("LANG", "C.UTF-8"), *extra)
