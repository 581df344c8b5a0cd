"""Go: the compiler builds solution, tests and harness as one package main; each Test
function of the tests is one test, as `go test` counts them.

Tests in the language's idiom, as MultiPL-E and HumanEval-X write them: `func TestX(t
*testing.T)` functions in package main, failing through t.Error/t.Fatal (or a panic). The
harness (gi_main.go) runs them through the testing package itself, each wrapped so that
its outcome is reported and the next one still runs; a solution's own `main` is renamed
away and its package clause made `package main`.

No `go build`: it wants a module, a build cache and a writable GOROOT view. The build is
the two tools it would run, `compile` then `link`, against the standard library's
precompiled packages in GOROOT/pkg (Debian's golang-go ships them), in one sandbox (a
shell joins the two). A Go program that uses net or os/user loads the C library (the
standard library's cgo parts): the run's root holds it and the loader, nothing more.
"""

from __future__ import annotations

import functools
import os
import shlex
import tempfile

from genetic_instruct.errors import SandboxUnavailable
from genetic_instruct.languages import Language

from .. import rootfs, syntax_trees
from ..limits import SandboxLimits
from ..syntax_trees import Node
from .common import Program, ProgramError, Step, Toolchain, harness, probe, require, run_env

ADDRESS_RESERVE_MB = 1024  # the runtime reserves its heap arenas and stacks ahead
THREADS = 16  # the runtime's own: sysmon, GC workers, one per P
FILES = ("solution.go", "tests.go", "gi_main.go")
BINARY = "program"


@functools.cache
def find() -> Toolchain:
    go = require("go", "Debian/Ubuntu: apt-get install golang-go")
    goroot = os.path.realpath(probe([go, "env", "GOROOT"]).strip())
    version = probe([go, "version"]).strip()
    arch = probe([go, "env", "GOOS"]).strip() + "_" + probe([go, "env", "GOARCH"]).strip()
    tools, packages = os.path.join(goroot, "pkg", "tool", arch), os.path.join(goroot, "pkg", arch)
    if not os.path.isfile(os.path.join(packages, "fmt.a")):
        raise SandboxUnavailable(
            f"{version} has no precompiled standard library in {packages} (Go 1.20 and later "
            "ship none); install Debian's golang-go (1.19)"
        )
    shell = os.path.realpath(require("sh", "a POSIX shell"))
    compile_, link = os.path.join(tools, "compile"), os.path.join(tools, "link")
    build_root = rootfs.plan_for(
        [compile_, link, packages, os.path.join(goroot, "pkg", "include"), shell],
        [compile_, link, shell],
    )
    run_root = _run_root(compile_, link)
    names = {"compile": compile_, "link": link, "sh": shell, "goroot": goroot}
    return Toolchain(Language.go, version, run_root, build_root, names)


# A program that uses the standard library's cgo packages (net, os/user): linked against
# the C library, so its root needs the loader and libc, which it lists.
PROBE = (
    'package main\n\nimport (\n\t"net"\n\t"os/user"\n)\n\n'
    'func main() { net.Dial("", ""); user.Current() }\n'
)


def _run_root(compile_: str, link: str) -> tuple[rootfs.Entry, ...]:
    """Build PROBE here (trusted): what it loads is what a Go program may load."""
    with tempfile.TemporaryDirectory(prefix="gi-probe-") as scratch:
        source, archive = os.path.join(scratch, "probe.go"), os.path.join(scratch, "probe.a")
        with open(source, "w") as file:
            file.write(PROBE)
        binary = os.path.join(scratch, "probe")
        probe([compile_, "-p", "main", "-o", archive, source], scratch)
        probe([link, "-o", binary, archive], scratch)
        return rootfs.plan_for([], [binary])


def assemble(solution: str, tests: str, toolchain: Toolchain, limits: SandboxLimits) -> Program:
    tools = toolchain.tools
    tested = test_functions(tests)
    if not tested:
        raise ProgramError(
            "the tests have no Test function: write them as func TestX(t *testing.T) { ... }"
        )
    entries = "".join(
        f'{{Name: "{name}", F: giWrap({i}, {line}, "{name}", {name})}},\n\t\t'
        for i, (name, line) in enumerate(tested)
    )
    main = harness("gi_main.go").replace("GI_TESTS\n\t\t", entries)
    sources = (as_main_package(solution, rename_main=True), as_main_package(tests), main)
    build = " && ".join(
        (
            shlex.join([tools["compile"], "-p", "main", "-complete", "-o", "main.a", *FILES]),
            shlex.join([tools["link"], "-o", BINARY, "main.a"]),
        )
    )
    env = run_env((("GOROOT", tools["goroot"]), ("GOCACHE", "off")))
    return Program(
        files=tuple(
            (name, text.encode("utf-8", "surrogatepass"), 0o600)
            for name, text in zip(FILES, sources)
        ),
        total=len(tested),
        build=Step((tools["sh"], "-c", build), env, threads=THREADS),
        outputs=(BINARY,),
        run=Step(
            (f"./{BINARY}",),
            run_env((("GOMAXPROCS", "2"), ("GOTRACEBACK", "single"))),
            limits.memory_mb + ADDRESS_RESERVE_MB,
            THREADS,
        ),
    )


def test_functions(tests: str) -> list[tuple[str, int]]:
    """The tests' `func TestX(t *testing.T)` functions, names and lines, in source order."""
    tree = syntax_trees.parse(Language.go, tests)
    found = []
    for node in tree.root_node.children:
        name = node.child_by_field_name("name")
        if node.type != "function_declaration" or name is None:
            continue
        text = syntax_trees.text(name)
        parameters = node.child_by_field_name("parameters")
        takes_t = parameters is not None and "*testing.T" in syntax_trees.text(parameters)
        if text.startswith("Test") and takes_t:
            found.append((text, node.start_point[0] + 1))
    return found


def as_main_package(source: str, rename_main: bool = False) -> str:
    """`source` in package main (a missing package clause added), its `func main` renamed
    away when `rename_main`, so the harness's main is the program's."""
    data = source.encode("utf-8", "surrogatepass")
    tree = syntax_trees.parse(Language.go, data)
    edits = []
    clause = next((n for n in tree.root_node.children if n.type == "package_clause"), None)
    if clause is None:
        edits.append((0, 0, b"package main\n"))
    else:
        edits.append(syntax_trees.replaced(clause, "package main"))
    if rename_main:
        edits += syntax_trees.top_level_renames(tree.root_node, _name, "main", "giSolutionMain")
    return syntax_trees.apply_edits(data, edits).decode("utf-8", "surrogatepass")


def _name(node: Node) -> Node | None:
    """A top-level function's name."""
    return node.child_by_field_name("name") if node.type == "function_declaration" else None
