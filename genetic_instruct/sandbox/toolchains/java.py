"""Java: javac builds solution, tests and harness; the harness runs the tests' main.

Tests in the language's idiom, as MultiPL-E writes them: a class whose `main` holds
`assert cond;` statements (Java's own assert, which the JVM skips unless told to run it;
here each is rewritten to a counted check, GiHarness.check, so a failing one is counted
and the tests go on, as in Python). The solution and the tests are two files of the same
default package (package lines and `public` on top-level types are taken out, so neither
file's name has to match a class), compiled with GiHarness.java in one javac run.

A JVM reserves far more address space than it uses (code cache, class space, thread
stacks, its CDS archive), so its RLIMIT_AS is the memory limit plus ADDRESS_RESERVE_MB;
its real memory is bounded by the program's memory cgroup, and its heap by -Xmx (half the
limit, what the JVM's own container default would be), so running out of heap is an
OutOfMemoryError the harness reports. It also starts ~15 threads of its own (THREADS).
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile

from genetic_instruct.errors import SandboxUnavailable
from genetic_instruct.files.user_cache import cache_dir
from genetic_instruct.languages import Language

from .. import rootfs, syntax_trees
from ..limits import SandboxLimits
from ..syntax_trees import Edit, Node
from .common import Program, ProgramError, Step, Toolchain, harness, probe, require, run_env

ADDRESS_RESERVE_MB = 1024
THREADS = 24
# Lean start-up for short programs: one GC thread, the fast JIT only, no perf data file.
JVM_FLAGS = (
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:-UsePerfData",
    "-Xshare:auto",
    "-XX:ReservedCodeCacheSize=64m",
    "-XX:CompressedClassSpaceSize=64m",
    "-Djava.io.tmpdir=.",
)
CLASSES = "classes"
TYPES = (
    "class_declaration",
    "interface_declaration",
    "enum_declaration",
    "record_declaration",
    "annotation_type_declaration",
)
# The JDK's native libraries a program may load; the GUI ones (AWT, fonts, sound) not.
GUI = ("awt", "font", "sound", "splash", "jawt", "atk", "lcms", "jpeg", "mlib", "x11")


@functools.cache
def find() -> Toolchain:
    javac = os.path.realpath(
        require("javac", "Debian/Ubuntu: apt-get install openjdk-17-jdk-headless")
    )
    home = os.path.dirname(os.path.dirname(javac))
    java = os.path.join(home, "bin", "java")
    version = probe([javac, "-version"]).strip()
    paths = [java, javac, os.path.join(home, "lib"), os.path.join(home, "conf")]
    paths += outside_links(home, ("lib", "conf"))
    native = [os.path.join(home, "lib", "server", "libjvm.so")]
    native += [
        os.path.join(home, "lib", name)
        for name in sorted(os.listdir(os.path.join(home, "lib")))
        if name.endswith(".so") and not any(part in name for part in GUI)
    ]
    run_root = rootfs.plan_for(paths, [java, *native])
    tools = {"java": java, "javac": javac}
    archive = javac_archive(javac, version)
    if archive is not None:
        tools["javac_archive"] = archive
        paths.append(archive)
    build_root = rootfs.plan_for(paths, [java, javac, *native])
    return Toolchain(Language.java, version, run_root, build_root, tools)


def javac_archive(javac: str, version: str) -> str | None:
    """A class-data archive of javac's own classes (the JVM's AppCDS), made once per JDK
    in the user's cache: javac then starts in about two thirds of the CPU (0.26 s against
    0.41 s on this project's machine), and javac's start-up is most of a Java build. None
    where it cannot be made (a read-only cache): javac starts as it did."""
    key = hashlib.sha256(f"{version}|{javac}|{JVM_FLAGS}".encode()).hexdigest()[:16]
    path = cache_dir() / f"javac-{key}.jsa"
    if path.is_file():
        return str(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="gi-probe-", dir=path.parent) as scratch:
            source = os.path.join(scratch, "Probe.java")
            with open(source, "w") as file:
                file.write(PROBE)
            dumped = os.path.join(scratch, "javac.jsa")
            flags = [f"-J{flag}" for flag in (*JVM_FLAGS, f"-XX:ArchiveClassesAtExit={dumped}")]
            probe([javac, *flags, "-d", scratch, source], scratch)
            os.chmod(dumped, 0o644)  # the sandbox's uid reads it
            os.replace(dumped, path)
    except (OSError, SandboxUnavailable):
        return None
    return str(path)


PROBE = "class Probe { public static void main(String[] a) { assert a.length >= 0; } }\n"


def outside_links(home: str, folders: tuple[str, ...]) -> list[str]:
    """What the JDK's symbolic links point to outside it (Debian keeps lib/jvm.cfg and
    conf/security/java.security in /etc/java-17-openjdk): the JVM reads them at start."""
    found = []
    for folder in folders:
        for parent, _, names in os.walk(os.path.join(home, folder)):
            for name in names:
                path = os.path.join(parent, name)
                target = os.path.realpath(path)
                if os.path.islink(path) and not target.startswith(home + "/"):
                    if os.path.isfile(target):
                        found.append(target)
    return found


def assemble(solution: str, tests: str, toolchain: Toolchain, limits: SandboxLimits) -> Program:
    rewritten, total, main_class = rewrite_tests(tests)
    files = (
        ("Solution.java", _encode(unpackaged(solution)), 0o600),
        ("Tests.java", _encode(rewritten), 0o600),
        ("GiHarness.java", _encode(harness("GiHarness.java")), 0o600),
    )
    compile_heap = max(256, limits.compile.memory_mb // 2)
    archive = toolchain.tools.get("javac_archive")
    shared = (f"-XX:SharedArchiveFile={archive}",) if archive else ()
    javac = (
        toolchain.tools["javac"],
        *(f"-J{flag}" for flag in (*JVM_FLAGS, *shared, f"-Xmx{compile_heap}m")),
        *("-encoding", "UTF-8", "-proc:none", "-nowarn", "-Xlint:none", "-g:none"),
        *("-d", CLASSES, *(name for name, _, _ in files)),
    )
    heap = max(32, limits.memory_mb // 2)
    java = (
        toolchain.tools["java"],
        *JVM_FLAGS,
        f"-Xmx{heap}m",
        "--add-opens=java.base/java.io=ALL-UNNAMED",  # the harness names descriptor 3
        *("-cp", CLASSES, "GiHarness", main_class, str(total), *top_level_types(solution)),
    )
    return Program(
        files=files,
        total=total,
        build=Step(javac, run_env(), limits.compile.memory_mb + ADDRESS_RESERVE_MB, THREADS),
        outputs=(CLASSES,),
        run=Step(java, run_env(), limits.memory_mb + ADDRESS_RESERVE_MB, THREADS),
    )


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def unpackaged(source: str) -> str:
    """`source` in the default package, its top-level types no longer public."""
    data = _encode(source)
    tree = syntax_trees.parse(Language.java, data)
    edits = _unpackaging(tree.root_node)
    return syntax_trees.apply_edits(data, edits).decode("utf-8", "surrogatepass")


def _unpackaging(root: Node) -> list[Edit]:
    edits: list[Edit] = []
    for node in root.children:
        if node.type == "package_declaration":
            edits.append(syntax_trees.blanked(node))
        elif node.type in TYPES:
            modifiers = next((c for c in node.children if c.type == "modifiers"), None)
            for word in modifiers.children if modifiers else ():
                if word.type == "public":
                    edits.append((word.start_byte, word.end_byte, b"      "))
    return edits


def top_level_types(source: str) -> list[str]:
    """The names of the classes, interfaces, enums and records `source` declares at the top."""
    tree = syntax_trees.parse(Language.java, _encode(source))
    names = (
        node.child_by_field_name("name") for node in tree.root_node.children if node.type in TYPES
    )
    return [syntax_trees.text(name) for name in names if name is not None]


def rewrite_tests(tests: str) -> tuple[str, int, str]:
    """The tests unpackaged, each `assert` a counted check; the number of asserts, and the
    class whose static main runs them."""
    data = _encode(tests)
    tree = syntax_trees.parse(Language.java, data)
    edits = _unpackaging(tree.root_node)
    asserts = syntax_trees.outermost(tree.root_node, is_assert)
    for index, node in enumerate(asserts):
        source = syntax_trees.text(node.children[1])
        where = f"{index}, {node.start_point[0] + 1}, {syntax_trees.quoted(source)}"
        check = (
            f"try {{ GiHarness.check({where}, {source}); }}"
            f" catch (Throwable gi$error) {{ GiHarness.raised({where}, gi$error); }}"
        )
        edits.append(syntax_trees.replaced(node, check))
    total = len(asserts)
    main_class = _main_class(tree.root_node)
    if main_class is None:
        raise ProgramError(
            "the tests define no class with a static main: write them as "
            "class Main { public static void main(String[] args) { assert ...; } }"
        )
    return syntax_trees.apply_edits(data, edits).decode("utf-8", "surrogatepass"), total, main_class


def is_assert(node: Node) -> bool:
    """`assert condition;` or `assert condition : message;`."""
    return node.type == "assert_statement" and len(node.children) >= 3


def _main_class(root: Node) -> str | None:
    for node in root.children:
        if node.type != "class_declaration":
            continue
        body = node.child_by_field_name("body")
        for member in body.children if body else ():
            name = member.child_by_field_name("name")
            modifiers = next((c for c in member.children if c.type == "modifiers"), None)
            static = modifiers is not None and b"static" in (modifiers.text or b"").split()
            if member.type == "method_declaration" and name and name.text == b"main" and static:
                class_name = node.child_by_field_name("name")
                return syntax_trees.text(class_name) if class_name else None
    return None
