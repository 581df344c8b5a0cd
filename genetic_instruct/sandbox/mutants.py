"""Program mutants: small, deliberate bugs in a solution, to measure how strong its tests are.

A test suite that passes on the solution and still passes on a mutant did not notice the
bug; the share of mutants it kills is its mutation score (see mutation_score.py). The
operators are the classic ones that mutmut and cosmic-ray apply (relational and arithmetic
operator replacement, boolean operator swap, condition negation, statement deletion,
constant and boundary changes), as named functions over the standard library's `ast`:

    compare_flip    a < b -> a <= b, == -> !=, in -> not in, is -> is not
    negate_condition  if / while / x if c else y: c -> not (c)
    bool_swap       and <-> or
    arith_replace   + <-> -, * -> +, / -> *, // -> *, % -> //  (also in augmented assignments)
    swap_operands   a - b -> b - a for non-commutative operators
    off_by_one      range(a, b) -> range(a, b + 1); x[i] -> x[i + 1]; x[a:b] bounds + 1
    drop_statement  delete one statement (pass where it was the only one)
    wrong_return    return <constant> -> another constant; return <expr> -> return None

Why not mutmut or cosmic-ray themselves: both are built around a project on disk and its
test runner (mutmut 3 rewrites modules with trampolines and drives pytest; cosmic-ray keeps
a session database and runs a test command per mutant). We need mutants as source strings,
to run through our own sandbox (run_many) next to the candidate's asserts; their operators
are a few lines each over `ast`, which also checks what we need (the mutant compiles, and
differs from the original: ast.dump). So: no dependency. Annotations are never mutated
(`list[int + 1]` would only fail at definition, a kill that says nothing about the tests),
nor imports, docstrings, `def`/`class` statements (deleting them is a NameError, not a bug).

Deterministic: which sites are mutated depends only on the program text and a seed, so a
resumed run makes the same mutants. The solution is untrusted model output: nothing here
raises on odd code (deep nesting, huge literals); such a program just gets fewer mutants.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import random
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, TypeVar

DEFAULT_MUTANTS = 5
T = TypeVar("T")
_ATTEMPTS_PER_MUTANT = 4  # sites tried per mutant wanted, bounding time on large programs

_COMPARE_FLIP: dict[type, type] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
_ARITH: dict[type, type] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Add,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Mult,
    ast.Mod: ast.FloorDiv,
}
_NON_COMMUTATIVE = (
    ast.Sub,
    ast.Div,
    ast.FloorDiv,
    ast.Mod,
    ast.Pow,
    ast.LShift,
    ast.RShift,
    ast.MatMult,
)
_KEPT_STATEMENTS = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Import,
    ast.ImportFrom,
    ast.Pass,
    ast.Global,
    ast.Nonlocal,
)
_ANNOTATION_FIELDS = frozenset({"annotation", "returns"})
_BODY_FIELDS = ("body", "orelse", "finalbody")


class Mutant(NamedTuple):
    operator: str  # a key of OPERATORS
    source: str


Variant = Any  # what an operator needs to find its change again in a copy of the node
Operator = tuple[Callable[[ast.AST], list[Variant]], Callable[[ast.AST, Variant], None]]


def _plus_one(expr: ast.expr) -> ast.expr:
    return ast.BinOp(left=expr, op=ast.Add(), right=ast.Constant(1))


# -- operators: (variants at a node, apply one variant to a copy of that node) ------------
def _compare_sites(node: ast.AST) -> list[Variant]:
    return list(range(len(node.ops))) if isinstance(node, ast.Compare) else []


def _compare_apply(node: ast.AST, index: int) -> None:
    assert isinstance(node, ast.Compare)  # as its sites found it; so for the next ones
    node.ops[index] = _COMPARE_FLIP[type(node.ops[index])]()


def _negate_sites(node: ast.AST) -> list[Variant]:
    return [0] if isinstance(node, (ast.If, ast.While, ast.IfExp)) else []


def _negate_apply(node: ast.AST, _: Variant) -> None:
    assert isinstance(node, (ast.If, ast.While, ast.IfExp))
    node.test = ast.UnaryOp(op=ast.Not(), operand=node.test)


def _bool_sites(node: ast.AST) -> list[Variant]:
    return [0] if isinstance(node, ast.BoolOp) else []


def _bool_apply(node: ast.AST, _: Variant) -> None:
    assert isinstance(node, ast.BoolOp)
    node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()


def _arith_sites(node: ast.AST) -> list[Variant]:
    arithmetic = isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in _ARITH
    return [0] if arithmetic else []


def _arith_apply(node: ast.AST, _: Variant) -> None:
    assert isinstance(node, (ast.BinOp, ast.AugAssign))
    node.op = _ARITH[type(node.op)]()


def _swap_sites(node: ast.AST) -> list[Variant]:
    return [0] if isinstance(node, ast.BinOp) and isinstance(node.op, _NON_COMMUTATIVE) else []


def _swap_apply(node: ast.AST, _: Variant) -> None:
    assert isinstance(node, ast.BinOp)
    node.left, node.right = node.right, node.left


def _off_by_one_sites(node: ast.AST) -> list[Variant]:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range":
        args = node.args
        return [("args", i) for i in range(len(args)) if not isinstance(args[i], ast.Starred)]
    if isinstance(node, ast.Subscript):
        index = node.slice
        if isinstance(index, ast.Slice):
            return [(name, None) for name in ("lower", "upper") if getattr(index, name) is not None]
        numeric = isinstance(index, ast.Constant) and type(index.value) is int
        if numeric or isinstance(index, (ast.Name, ast.BinOp, ast.UnaryOp)):
            return [("slice", None)]
    return []


def _off_by_one_apply(node: ast.AST, variant: tuple[str, int | None]) -> None:
    name, position = variant
    if name == "args":
        assert isinstance(node, ast.Call) and position is not None
        node.args[position] = _plus_one(node.args[position])
    elif name == "slice":
        assert isinstance(node, ast.Subscript)
        node.slice = _plus_one(node.slice)
    else:
        assert isinstance(node, ast.Subscript)
        setattr(node.slice, name, _plus_one(getattr(node.slice, name)))


def _drop_sites(node: ast.AST) -> list[Variant]:
    return [
        (name, i)
        for name in _BODY_FIELDS
        if isinstance(body := getattr(node, name, None), list)
        for i, statement in enumerate(body)
        if isinstance(statement, ast.stmt) and _droppable(statement, i, node)
    ]


def _droppable(statement: ast.stmt, index: int, owner: ast.AST) -> bool:
    if isinstance(statement, _KEPT_STATEMENTS):
        return False
    docstring = (
        index == 0
        and isinstance(owner, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        and isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )
    return not docstring


def _drop_apply(node: ast.AST, variant: tuple[str, int]) -> None:
    name, index = variant
    body = getattr(node, name)
    del body[index]
    if not body and name == "body":
        body.append(ast.Pass())


def _return_sites(node: ast.AST) -> list[Variant]:
    return [0] if isinstance(node, ast.Return) and node.value is not None else []


def _return_apply(node: ast.AST, _: Variant) -> None:
    assert isinstance(node, ast.Return) and node.value is not None
    node.value = ast.Constant(_wrong_constant(node.value))


def _wrong_constant(value: ast.expr) -> Any:
    if not isinstance(value, ast.Constant):
        return None
    constant = value.value
    if isinstance(constant, bool):
        return not constant
    if isinstance(constant, (int, float)):
        return constant + 1
    if isinstance(constant, str):
        return "" if constant else "X"
    return 0 if constant is None else None


OPERATORS: dict[str, Operator] = {
    "compare_flip": (_compare_sites, _compare_apply),
    "negate_condition": (_negate_sites, _negate_apply),
    "bool_swap": (_bool_sites, _bool_apply),
    "arith_replace": (_arith_sites, _arith_apply),
    "swap_operands": (_swap_sites, _swap_apply),
    "off_by_one": (_off_by_one_sites, _off_by_one_apply),
    "drop_statement": (_drop_sites, _drop_apply),
    "wrong_return": (_return_sites, _return_apply),
}


# -- choosing and making mutants ----------------------------------------------------------
def _nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node in a fixed pre-order, annotations left out."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        children = [
            child
            for name, value in ast.iter_fields(node)
            if name not in _ANNOTATION_FIELDS
            for child in (value if isinstance(value, list) else [value])
            if isinstance(child, ast.AST)
        ]
        stack.extend(reversed(children))


def _rng(source: str, seed: int) -> random.Random:
    digest = hashlib.sha256(f"{seed}\0{source}".encode("utf-8", "replace")).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _schedule(tree: ast.AST, rng: random.Random) -> list[tuple[str, int, Variant]]:
    """All sites, interleaved across operators in a seeded order (one of each in turn)."""
    by_operator: dict[str, list[tuple[str, int, Variant]]] = {name: [] for name in OPERATORS}
    for position, node in enumerate(_nodes(tree)):
        for name, (sites, _) in OPERATORS.items():
            by_operator[name].extend((name, position, v) for v in sites(node))
    return interleave(by_operator, rng)


def interleave(by_operator: dict[str, list[T]], rng: random.Random) -> list[T]:
    """Each operator's sites shuffled, then taken one of each operator in turn (operators
    in a shuffled order), so the first mutants are of different kinds."""
    queues = [queue for queue in by_operator.values() if queue]
    for queue in queues:
        rng.shuffle(queue)
    rng.shuffle(queues)
    longest = max((len(q) for q in queues), default=0)
    return [q[i] for i in range(longest) for q in queues if i < len(q)]


def _apply(tree: ast.AST, site: tuple[str, int, Variant]) -> str:
    name, position, variant = site
    mutant = copy.deepcopy(tree)
    node = next(n for i, n in enumerate(_nodes(mutant)) if i == position)
    OPERATORS[name][1](node, variant)
    return ast.unparse(ast.fix_missing_locations(mutant))


def mutants(source: str, k: int = DEFAULT_MUTANTS, seed: int = 0) -> list[Mutant]:
    """Up to `k` distinct mutants of `source`, each compiling and unlike the original.

    Spread across operators; the same (source, k, seed) always gives the same list. A
    program that cannot be parsed or mutated gets fewer (or none); this never raises.
    """
    try:
        tree = ast.parse(source)
        # the original as parsed and as mutants are compared: unparsed and parsed again
        seen = {ast.dump(tree), ast.dump(ast.parse(ast.unparse(tree)))}
        schedule = _schedule(tree, _rng(source, seed))
    except Exception:  # untrusted code: RecursionError, MemoryError on odd input
        return []
    found: list[Mutant] = []
    for site in schedule[: k * _ATTEMPTS_PER_MUTANT]:
        if len(found) >= k:
            break
        try:
            text = _apply(tree, site)
            dump = ast.dump(ast.parse(text))
            compile(text, "<mutant>", "exec", dont_inherit=True)
        except Exception:  # a mutant that does not compile is not a valid mutant
            continue
        if dump not in seen:
            seen.add(dump)
            found.append(Mutant(site[0], text))
    return found
