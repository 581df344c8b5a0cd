"""Rust: rustc builds solution, harness and tests as one crate; each assertion counted.

Tests in the language's idiom: MultiPL-E's `fn main() { assert_eq!(candidate(..), ..); }`,
or HumanEval-X's `#[cfg(test)] mod tests { use super::*; #[test] fn ...() { assert!(..); } }`
(its #[test] functions are called in order by a main made for them). The crate is

    the solution (its own `fn main` renamed away)
    gi_harness.rs (the real main, and gi_harness::check)
    `mod gi_tests { use super::*; <the tests> }`: a module, so a `use` in both files
      cannot clash, each assert!, assert_eq!, assert_ne! wrapped in a counted check

built with rustc -C opt-level=1 (far faster loops than debug builds, for little more
build time), warnings off: the model's unused variables are not errors.

rustc links through the system's C compiler driver (cc), so the build's root holds the
Rust sysroot and what cc needs to link. Installed by rustup under /root, the sysroot is
out of an ordinary user's reach, and so is Rust: find() says so.
"""

from __future__ import annotations

import functools
import os
import tempfile

from genetic_instruct.errors import SandboxUnavailable
from genetic_instruct.languages import Language

from .. import rootfs, syntax_trees
from ..limits import SandboxLimits
from ..syntax_trees import Edit, Node
from .common import Program, ProgramError, Toolchain, harness, native_program, probe, require
from .cpp import gcc_build_files, linker_programs

SOURCE = "program.rs"
FLAGS = ("--edition", "2021", "-C", "opt-level=1", "-C", "debuginfo=0", "-A", "warnings")
ASSERTIONS = ("assert", "assert_eq", "assert_ne")
# What rustc links a program with (its --print link-args says so), resolved for cc.
LINKED = ["gcc_s", "util", "rt", "pthread", "m", "dl", "c"]
PROBE = 'fn main() { assert_eq!(1 + 1, 2); println!("1"); }\n'


@functools.cache
def find() -> Toolchain:
    proxy = require("rustc", "https://rustup.rs, or apt-get install rustc")
    # rustup's proxy finds its toolchains through RUSTUP_HOME, ~/.rustup by default.
    home = os.environ.get("RUSTUP_HOME", os.path.expanduser("~/.rustup"))
    sysroot = probe([proxy, "--print", "sysroot"], None, {"RUSTUP_HOME": home}).strip()
    rustc = os.path.join(sysroot, "bin", "rustc")
    if not os.access(rustc, os.X_OK):
        raise SandboxUnavailable(f"rustc's sysroot {sysroot} is out of this user's reach")
    cc = require("cc", "Debian/Ubuntu: apt-get install gcc")
    version = probe([rustc, "--version"]).strip()
    with tempfile.TemporaryDirectory(prefix="gi-probe-") as scratch:
        source, binary = os.path.join(scratch, "probe.rs"), os.path.join(scratch, "probe")
        with open(source, "w") as file:
            file.write(PROBE)
        probe([rustc, *FLAGS, "-C", f"linker={cc}", "-o", binary, source], scratch)
        run_root = rootfs.plan_for([], [binary])
        libraries = rootfs.shared_libraries([binary])
        c_source = os.path.join(scratch, "probe.c")
        with open(c_source, "w") as file:
            file.write("int main(void) { return 0; }\n")
        verbose = probe([cc, "-v", "-Wl,--trace", "-o", binary, c_source], scratch)
        files = gcc_build_files(cc, verbose, LINKED, scratch)
    programs = linker_programs(cc)
    build_root = rootfs.plan_for(
        [sysroot, *programs, *files, *libraries],
        [rustc, *programs, *(f for f in files if f.endswith(".so"))],
    )
    tools = {"rustc": rustc, "cc": cc}
    return Toolchain(Language.rust, version, run_root, build_root, tools)


def assemble(solution: str, tests: str, toolchain: Toolchain, limits: SandboxLimits) -> Program:
    solution = renamed(solution, "main", "gi_solution_main")
    rewritten, total = rewrite_tests(tests)
    text = (
        f"{solution}\nconst GI_TOTAL: usize = {total};\n{harness('gi_harness.rs')}\n"
        f"mod gi_tests {{\n#![allow(unused_imports)]\nuse super::*;\n{rewritten}\n}}\n"
    )
    rustc = (toolchain.tools["rustc"], *FLAGS, "-C", f"linker={toolchain.tools['cc']}")
    return native_program(SOURCE, text, total, rustc, (("RUST_BACKTRACE", "0"),))


def renamed(source: str, old: str, new: str) -> str:
    """`source` with its top-level `fn old` renamed `new`."""
    return syntax_trees.renamed(Language.rust, source, _function_name, old, new)


def _function_name(node: Node) -> Node | None:
    return node.child_by_field_name("name") if node.type == "function_item" else None


def rewrite_tests(tests: str) -> tuple[str, int]:
    """The tests with each assertion macro a counted check, and a `pub fn gi_tests_main`
    (their main renamed, or one calling their #[test] functions); how many assertions."""
    data = tests.encode("utf-8", "surrogatepass")
    tree = syntax_trees.parse(Language.rust, data)
    edits: list[Edit] = []
    sites = syntax_trees.outermost(tree.root_node, _is_assertion)
    for index, node in enumerate(sites):
        source = syntax_trees.text(node)
        where = f"{index}, {node.start_point[0] + 1}, {syntax_trees.quoted(source)}"
        check = f"crate::gi_harness::check({where}, || {{ {source}; }})"
        edits.append(syntax_trees.replaced(node, check))
    total = len(sites)
    main = next((name for node in tree.root_node.children if (name := _main_name(node))), None)
    if main is not None:
        assert main.parent is not None
        edits.append((main.parent.start_byte, main.end_byte, b"pub fn gi_tests_main"))
        text = syntax_trees.apply_edits(data, edits).decode("utf-8", "surrogatepass")
        return text, total
    calls = _test_functions(tree.root_node, edits)
    if not calls:
        raise ProgramError(
            "the tests have no fn main and no #[test] function: write them as "
            "fn main() { assert_eq!(...); } or #[test] functions"
        )
    body = "".join(f"    {path}();\n" for path in calls)
    text = syntax_trees.apply_edits(data, edits).decode("utf-8", "surrogatepass")
    return f"{text}\npub fn gi_tests_main() {{\n{body}}}\n", total


def _main_name(node: Node) -> Node | None:
    """The name of a top-level `fn main`."""
    name = node.child_by_field_name("name") if node.type == "function_item" else None
    return name if name is not None and name.text == b"main" else None


def _is_assertion(node: Node) -> bool:
    if node.type != "macro_invocation":
        return False
    name = node.child_by_field_name("macro")
    return name is not None and syntax_trees.text(name) in ASSERTIONS


def _test_functions(root: Node, edits: list[Edit], path: str = "") -> list[str]:
    """The paths of the #[test] functions under `root` (modules included), each made
    visible to gi_tests_main, #[cfg(test)] and #[test] taken off (outside `cargo test` they
    leave the item out)."""
    calls: list[str] = []
    attributes: list[Node] = []
    for node in root.children:
        if node.type == "attribute_item":
            attributes.append(node)
            continue
        texts = [syntax_trees.text(a).replace(" ", "") for a in attributes]
        for attribute, text in zip(attributes, texts):
            if text in ("#[cfg(test)]", "#[test]"):  # both leave the item out of a main build
                edits.append(syntax_trees.blanked(attribute))
        if node.type == "function_item" and "#[test]" in texts:
            name = node.child_by_field_name("name")
            if node.children[0].type != "visibility_modifier":
                edits.append((node.start_byte, node.start_byte, b"pub(crate) "))
            if name is not None:
                calls.append(path + syntax_trees.text(name))
        elif node.type == "mod_item" and (body := node.child_by_field_name("body")) is not None:
            name = node.child_by_field_name("name")
            inner = f"{path}{syntax_trees.text(name) if name else ''}::"
            calls += _test_functions(body, edits, inner)
        attributes = []
    return calls
