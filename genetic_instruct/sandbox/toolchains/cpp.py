"""C++: g++ builds solution and tests as one program; the harness counts each assert.

Tests in the language's idiom, as HumanEval-X and MultiPL-E write them: a `main` of
`assert(...)` calls (<cassert>). The program is one translation unit:

    the solution (a `main` of its own renamed away, as Python's harness skips the
      solution's `if __name__ == "__main__":` block)
    gi_harness.hpp, which defines GI_ASSERT
    the tests, each assert(...) rewritten to GI_ASSERT(<index>, ...) and main renamed
    gi_main.cpp, the real main, which runs the tests' one

so an assert that fails, or raises, is counted and the tests go on, and a test's line
numbers are its own (#line). Built with g++ -std=c++17 -O1: C++17 is what the benchmarks
compile with, and -O1 builds about as fast as -O0 here while running loops far faster.
"""

from __future__ import annotations

import functools
import os
import tempfile

from genetic_instruct.languages import Language

from .. import rootfs, syntax_trees
from ..limits import SandboxLimits
from ..syntax_trees import Edit, Node
from .common import (
    Program,
    ProgramError,
    Toolchain,
    files_named_in,
    harness,
    library_files,
    native_program,
    probe,
    require,
)

STANDARD = "c++17"
FLAGS = (f"-std={STANDARD}", "-O1", "-pipe", "-w", "-fdiagnostics-color=never")
SOURCE = "program.cpp"
# What g++ links a C++ program with (its -v says so), resolved for the link step.
LINKED = ["stdc++", "m", "gcc_s", "gcc", "c"]
PROBE = "#include <cassert>\n#include <iostream>\nint main() { assert(1); std::cout << 1; }\n"


@functools.cache
def find() -> Toolchain:
    gxx = require("g++", "Debian/Ubuntu: apt-get install g++")
    version = probe([gxx, "-dumpfullversion"]).strip()
    with tempfile.TemporaryDirectory(prefix="gi-probe-") as scratch:
        source = os.path.join(scratch, "probe.cpp")
        with open(source, "w") as file:
            file.write(PROBE)
        binary = os.path.join(scratch, "probe")
        verbose = probe([gxx, *FLAGS, "-v", "-Wl,--trace", "-o", binary, source], scratch)
        files = gcc_build_files(gxx, verbose, LINKED, scratch)
        # The run needs what the probe loads; the build links against the same files.
        run_root = rootfs.plan_for([], [binary])
        libraries = rootfs.shared_libraries([binary])
    programs = linker_programs(gxx)
    build_root = rootfs.plan_for(
        [*programs, *include_dirs(verbose), *files, *libraries],
        [*programs, *(f for f in files if f.endswith(".so") and _is_elf(f))],
    )
    return Toolchain(Language.cpp, f"g++ {version}", run_root, build_root, {"g++": gxx})


PASSES = ("cc1plus", "as", "collect2", "ld", "lto-wrapper")


def linker_programs(driver: str) -> list[str]:
    """The driver and the passes it runs (compiler proper, assembler, linker), as paths."""
    passes = [probe([driver, f"-print-prog-name={name}"], None).strip() for name in PASSES]
    return [driver, *(p if os.path.isabs(p) else require(p, "binutils") for p in passes)]


def gcc_build_files(driver: str, verbose: str, linked: list[str], scratch: str) -> list[str]:
    """What a gcc-driven build reads besides headers: the files its -v and the linker's
    --trace name (passes, crt objects, plugins), and the libraries behind its -l flags."""
    return files_named_in(verbose) + library_files(driver, linked, scratch)


def include_dirs(verbose: str) -> list[str]:
    """The header directories a gcc -v lists between its two 'search starts here' lines."""
    lines = verbose.splitlines()
    try:
        first = next(i for i, line in enumerate(lines) if line.startswith("#include <...>"))
    except StopIteration:
        return []
    found = []
    for line in lines[first + 1 :]:
        if not line.startswith(" "):
            break
        path = os.path.normpath(line.strip())
        if os.path.isdir(path):
            found.append(path)
    return found


def _is_elf(path: str) -> bool:
    try:
        with open(path, "rb") as file:
            return file.read(4) == b"\x7fELF"
    except OSError:
        return False


def assemble(solution: str, tests: str, toolchain: Toolchain, limits: SandboxLimits) -> Program:
    renamed = rename_function(solution, "main", "gi_solution_main")
    rewritten, total = rewrite_tests(tests)
    text = (
        f'#line 1 "solution.cpp"\n{renamed}\n'
        f"#define GI_TOTAL {total}\n{harness('gi_harness.hpp')}\n"
        f'#line 1 "tests.cpp"\n{rewritten}\n'
        f'#line 1 "gi_main.cpp"\n{harness("gi_main.cpp")}'
    )
    return native_program(SOURCE, text, total, (toolchain.tools["g++"], *FLAGS))


def rename_function(source: str, old: str, new: str) -> str:
    """`source` with the function definition named `old` at the top level renamed."""
    return syntax_trees.renamed(Language.cpp, source, _defined_name, old, new)


def _defined_name(node: Node) -> Node | None:
    """The identifier a top-level function definition defines."""
    if node.type != "function_definition":
        return None
    declarator = node.child_by_field_name("declarator")
    while declarator is not None and declarator.type not in ("identifier", "field_identifier"):
        declarator = declarator.child_by_field_name("declarator")
    return declarator


def rewrite_tests(tests: str) -> tuple[str, int]:
    """The tests with each assert(...) numbered for the harness and main renamed (and
    given a `return 0;`: the renamed function is no longer main, whose end returns 0);
    and the number of asserts."""
    data = tests.encode("utf-8", "surrogatepass")
    tree = syntax_trees.parse(Language.cpp, data)
    edits: list[Edit] = []
    total = 0
    for node in syntax_trees.walk(tree.root_node):
        if node.type != "call_expression":
            continue
        function, arguments = (
            node.child_by_field_name("function"),
            node.child_by_field_name("arguments"),
        )
        if function is None or arguments is None or syntax_trees.text(function) != "assert":
            continue
        edits.append(
            (function.start_byte, arguments.start_byte + 1, f"GI_ASSERT({total}, ".encode())
        )
        total += 1
    main = next(
        (n for n in tree.root_node.children if (m := _defined_name(n)) and m.text == b"main"),
        None,
    )
    if main is None:
        raise ProgramError("the tests define no main(): write them as int main() { assert(...); }")
    edits += _renamed_main(main)
    return syntax_trees.apply_edits(data, edits).decode("utf-8", "surrogatepass"), total


def _renamed_main(main: Node) -> list[Edit]:
    name = _defined_name(main)
    body = main.child_by_field_name("body")
    returns = main.child_by_field_name("type")
    assert name is not None
    edits: list[Edit] = [(name.start_byte, name.end_byte, b"gi_tests_main")]
    if body is not None and returns is not None and returns.text in (b"int", b"auto"):
        end = body.end_byte - 1  # the closing brace
        edits.append((end, end, b" return 0; "))
    return edits
