"""Finding the tests a model wrote, in the forms models write them, and making them runnable.

The sandbox's harness runs the solution, then the tests' top-level statements in the
solution's namespace, counting each top-level assert as one test. Models write tests as
top-level asserts, asserts under `if __name__ == "__main__":`, pytest-style `test_*`
functions, or unittest.TestCase classes; this module turns all of them into that shape:

    asserts under __main__      hoisted to the top level (minus unittest.main() and the like)
    def test_x(): ...           kept, followed by `assert test_x() or True`
    class T(unittest.TestCase)  kept, followed by `assert T("test_m").run().wasSuccessful()`
                                for each test method (setUp and tearDown run as unittest does)

so each test function or method is one counted test, and a failing one fails alone. Tests
that import the solution from a module of its own (`from solution import f`) get that import
dropped: the solution's names are already in their namespace. pytest fixtures need pytest,
which the sandbox does not have: test functions with parameters are not run.
"""

from __future__ import annotations

import ast
import functools
import sys
import textwrap
from collections.abc import Collection

from genetic_instruct.answers.text import split_lines

_STDLIB = frozenset(sys.stdlib_module_names)
_TEST_RUNNER_MODULES = frozenset({"unittest", "pytest", "doctest"})


def _source_lines(code: str) -> list[str]:
    """The code's lines, numbered as ast numbers them (line n is item n - 1)."""
    return split_lines(code)


@functools.lru_cache(maxsize=64)
def parse_module(code: str) -> ast.Module | None:
    """The module's tree, or None when it is not Python (NUL bytes and deep nesting too).

    Cached: reading one answer asks about the same blocks several times (which blocks are
    Python, which define what, which hold tests), and parsing is most of a parser's cost.
    Callers never change the trees.
    """
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def defined_names(tree: ast.Module) -> set[str]:
    """Top-level functions, classes and assigned names."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def _is_main_guard(node: ast.stmt) -> bool:
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    parts = [node.test.left, *node.test.comparators]
    return any(isinstance(p, ast.Name) and p.id == "__name__" for p in parts) and any(
        isinstance(p, ast.Constant) and p.value == "__main__" for p in parts
    )


def _is_test_function(node: ast.stmt) -> bool:
    return isinstance(node, ast.FunctionDef) and node.name.startswith("test")


def _is_test_case(node: ast.stmt) -> bool:
    if not isinstance(node, ast.ClassDef):
        return False
    bases = [ast.unparse(base) for base in node.bases]
    return any(base.endswith("TestCase") for base in bases)


def _is_runner_call(node: ast.stmt) -> bool:
    """`unittest.main()`, `pytest.main([...])`, `doctest.testmod()`: they would exit or
    read argv; the harness runs the tests itself."""
    if not isinstance(node, ast.Expr) or not isinstance(node.value, ast.Call):
        return False
    func = node.value.func
    return (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and (func.value.id in _TEST_RUNNER_MODULES)
    )


def _is_runner_import(node: ast.stmt) -> bool:
    if isinstance(node, ast.Import):
        return all(alias.name.split(".")[0] in _TEST_RUNNER_MODULES for alias in node.names)
    return isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in (
        _TEST_RUNNER_MODULES
    )


def _holds_tests(nodes: list[ast.stmt]) -> bool:
    return any(
        isinstance(n, ast.Assert)
        or _is_test_function(n)
        or _is_test_case(n)
        or (
            isinstance(n, ast.Expr)
            and isinstance(n.value, ast.Call)
            and ast.unparse(n.value.func).startswith(("test", "check"))
        )
        for n in nodes
    )


def is_test_node(node: ast.stmt) -> bool:
    """A statement that belongs to the tests rather than to the program."""
    if isinstance(node, ast.Assert) or _is_test_function(node) or _is_test_case(node):
        return True
    if _is_runner_import(node) or _is_runner_call(node):
        return True
    return _is_main_guard(node) and _holds_tests(node.body)  # type: ignore[attr-defined]


def split_program(code: str) -> tuple[str, str]:
    """(program, tests) of one module: test statements moved out, the rest kept as written
    (comments and layout included: the program is what the dataset ships)."""
    tree = parse_module(code)
    if tree is None:
        return code, ""
    lines = _source_lines(code)
    moved = [n for n in tree.body if is_test_node(n)]
    drop = {i for n in moved for i in range(_first_line(n) - 1, n.end_lineno or n.lineno)}
    program = "\n".join(line for i, line in enumerate(lines) if i not in drop).strip("\n")
    lone = _alone_on_their_lines(tree.body)
    return program, "\n".join(_segment(lines, n, lone) for n in moved)


def runnable_tests(code: str, solution_names: set[str]) -> str:
    """Tests in the harness's shape (see the module's docstring); "" when there are none."""
    tree = parse_module(code)
    if tree is None:
        return ""
    lines = _source_lines(code)
    out: list[str] = []
    body = _flatten_main(tree.body)
    lone = _alone_on_their_lines(body)
    for node in body:
        if _imports_solution(node, solution_names) or _is_runner_call(node):
            continue
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in solution_names:
            continue  # a copy of the solution would shadow the one under test
        out.append(_segment(lines, node, lone))
        if _is_test_function(node) and not _has_parameters(node):
            out.append(f"assert {node.name}() or True")  # type: ignore[attr-defined]
        elif _is_test_case(node):
            out.extend(
                f'assert {node.name}("{m.name}").run().wasSuccessful()'  # type: ignore[attr-defined]
                for m in node.body  # type: ignore[attr-defined]
                if isinstance(m, ast.FunctionDef) and m.name.startswith("test")
            )
    tests = "\n".join(out)
    checked = parse_module(tests)
    if checked is None or not any(isinstance(n, ast.Assert) for n in checked.body):
        return ""
    return tests


def top_level_asserts(tests: str) -> list[str]:
    """The source of each top-level assert, in the order the harness numbers them."""
    tree = parse_module(tests)
    if tree is None:
        return []
    lines = _source_lines(tests)
    lone = _alone_on_their_lines(tree.body)
    return [_segment(lines, n, lone) for n in tree.body if isinstance(n, ast.Assert)]


def without_asserts(tests: str, drop: Collection[int]) -> str:
    """The tests without the top-level asserts numbered in `drop` (0-based, in the harness's
    order); every other statement as written."""
    tree = parse_module(tests)
    if tree is None or not drop:
        return tests
    lines = _source_lines(tests)
    lone = _alone_on_their_lines(tree.body)
    kept, number = [], 0
    for node in tree.body:
        if isinstance(node, ast.Assert):
            number += 1
            if number - 1 in drop:
                continue
        kept.append(_segment(lines, node, lone))
    return "\n".join(kept)


def _first_line(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decorators)])


def _segment(lines: list[str], node: ast.stmt, lone: set[int]) -> str:
    """The node's own source lines, dedented (a body hoisted out of __main__ is indented).
    Statements sharing a line with another (`a = 1; assert a`) are unparsed instead."""
    if id(node) not in lone:
        return ast.unparse(node)
    return textwrap.dedent("\n".join(lines[_first_line(node) - 1 : node.end_lineno]))


def _alone_on_their_lines(nodes: list[ast.stmt]) -> set[int]:
    """ids of the statements that share no line with their neighbours."""
    lone = set()
    for i, node in enumerate(nodes):
        before = nodes[i - 1].end_lineno if i else 0
        after = _first_line(nodes[i + 1]) if i + 1 < len(nodes) else None
        if (before or 0) < _first_line(node) and (after is None or (node.end_lineno or 0) < after):
            lone.add(id(node))
    return lone


def _flatten_main(body: list[ast.stmt]) -> list[ast.stmt]:
    out: list[ast.stmt] = []
    for node in body:
        out.extend(node.body if _is_main_guard(node) else [node])  # type: ignore[attr-defined]
    return out


def _has_parameters(node: ast.stmt) -> bool:
    args = node.args  # type: ignore[attr-defined]
    return bool(args.args or args.posonlyargs or args.kwonlyargs or node.decorator_list)  # type: ignore[attr-defined]


def _imports_solution(node: ast.stmt, solution_names: set[str]) -> bool:
    """`from solution import f` (any non-standard module) when f is the solution's."""
    if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
        return False
    if node.module.split(".")[0] in _STDLIB:
        return False
    names = {alias.name for alias in node.names}
    return names == {"*"} or names <= solution_names
