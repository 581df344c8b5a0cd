"""JavaScript: node runs the solution and its tests as one script; each assertion counted.

Tests in the language's idiom, as MultiPL-E and HumanEval-X write them: node's assert
module (`assert(...)`, `assert.deepEqual(...)`, ...) or `console.assert(...)`. The script
is the solution, then the tests in a block of their own (so `const assert = require(...)`
in both cannot clash), each assertion call wrapped in __gi.check so that a failing one is
counted and the tests go on. Node runs the harness (gi_harness.js), which takes what it
uses before the solution can touch it, compiles the script (a syntax error is a
compile_error) and runs it as a CommonJS module with __gi in its scope.

V8 reserves far more address space than it uses (its heap cage, code space, WebAssembly
guards), so its RLIMIT_AS is the memory limit plus ADDRESS_RESERVE_MB; the memory cgroup
bounds what it really uses, and --max-old-space-size keeps its heap under the limit.
"""

from __future__ import annotations

import functools
import os

from genetic_instruct.languages import Language

from .. import rootfs, syntax_trees
from ..limits import SandboxLimits
from ..syntax_trees import Edit, Node
from .common import Program, Step, Toolchain, harness, probe, require, run_env

ADDRESS_RESERVE_MB = 16384
THREADS = 16  # V8's platform workers and libuv's thread pool
SCRIPT, HARNESS = "program.js", "gi_harness.js"
ASSERTIONS = ("assert", "console.assert")


@functools.cache
def find() -> Toolchain:
    node = os.path.realpath(require("node", "Debian/Ubuntu: apt-get install nodejs"))
    version = probe([node, "--version"]).strip()
    root = rootfs.plan_for([node], [node])
    return Toolchain(Language.javascript, f"node {version}", root, (), {"node": node})


def assemble(solution: str, tests: str, toolchain: Toolchain, limits: SandboxLimits) -> Program:
    rewritten, total = rewrite_tests(tests)
    text = f"{solution}\n;{{\n{rewritten}\n}}\n"
    heap = max(32, limits.memory_mb // 2)
    node = (
        toolchain.tools["node"],
        f"--max-old-space-size={heap}",
        "--stack-size=4000",
        HARNESS,
        SCRIPT,
        str(total),
    )
    files = (
        (SCRIPT, text.encode("utf-8", "surrogatepass"), 0o600),
        (HARNESS, harness(HARNESS).encode("utf-8"), 0o600),
    )
    run = Step(node, run_env(), limits.memory_mb + ADDRESS_RESERVE_MB, THREADS)
    return Program(files=files, total=total, run=run)


def rewrite_tests(tests: str) -> tuple[str, int]:
    """The tests with each assertion call wrapped in a counted check; how many there are."""
    data = tests.encode("utf-8", "surrogatepass")
    tree = syntax_trees.parse(Language.javascript, data)
    sites = syntax_trees.outermost(tree.root_node, _is_assertion)
    edits = [_checked(node, index) for index, node in enumerate(sites)]
    return syntax_trees.apply_edits(data, edits).decode("utf-8", "surrogatepass"), len(sites)


def _is_assertion(node: Node) -> bool:
    """assert(...), assert.<anything>(...) or console.assert(...)."""
    if node.type != "call_expression":
        return False
    function = node.child_by_field_name("function")
    if function is None:
        return False
    name = syntax_trees.text(function)
    if name in ASSERTIONS:
        return True
    target = function.child_by_field_name("object")
    return function.type == "member_expression" and target is not None and target.text == b"assert"


def _checked(node: Node, index: int) -> Edit:
    function = node.child_by_field_name("function")
    arguments = node.child_by_field_name("arguments")
    assert function is not None and arguments is not None
    call = syntax_trees.text(node)
    if syntax_trees.text(function) == "console.assert":
        call = "__gi.consoleAssert" + syntax_trees.text(arguments)
    line = node.start_point[0] + 1
    quoted = syntax_trees.quoted(syntax_trees.text(node))
    # Line breaks inside the call are kept by replaced(): later lines keep their numbers.
    return syntax_trees.replaced(node, f"__gi.check({index}, {line}, {quoted}, () => {call})")
