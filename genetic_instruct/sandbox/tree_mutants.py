"""Program mutants for C++, Java, JavaScript, Rust and Go: mutants.py's operators, over a
tree-sitter syntax tree (syntax_trees.py) instead of Python's `ast`.

The same kinds of small deliberate bug, under the same names, so a mutation score means
the same in every language:

    compare_flip      a < b -> a <= b, == -> != (=== -> !== in JavaScript), and back
    negate_condition  if / while (for in Go) condition c -> !(c)
    bool_swap         && <-> ||
    arith_replace     + <-> -, * -> +, / -> *, % -> /
    swap_operands     a - b -> b - a for non-commutative operators (- / % << >>)
    off_by_one        an integer literal n -> n + 1 (bounds, sizes, constants)
    drop_statement    delete one expression statement in a block (a call, an update)
    wrong_return      return true <-> return false; return <integer> -> another integer
    drop_call         x.method() -> x: a step of a method chain left out (Python has no
                      such operator: its programs loop where these chain iterators, and a
                      Rust or JavaScript program written as one chain had no mutant at all)

A mutant is an edit of the source's bytes, so everything else stays as written. Python
compiles each of its mutants before keeping it; here a mutant must parse without error,
and one that then does not build is no mutant at all (mutation_score.py leaves a
compile_error out of the count rather than call it killed). Deterministic as mutants.py:
the sites depend only on the text and a seed. Untrusted input never raises.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

from genetic_instruct.languages import Language

from . import syntax_trees
from .mutants import _ATTEMPTS_PER_MUTANT, DEFAULT_MUTANTS, Mutant, _rng, interleave
from .syntax_trees import Edit, Node

_COMPARE_FLIP = {
    "<": "<=",
    "<=": "<",
    ">": ">=",
    ">=": ">",
    "==": "!=",
    "!=": "==",
    "===": "!==",
    "!==": "===",
}
_BOOL_SWAP = {"&&": "||", "||": "&&"}
_ARITH = {"+": "-", "-": "+", "*": "+", "/": "*", "%": "/"}
_NON_COMMUTATIVE = frozenset({"-", "/", "%", "<<", ">>"})
_INTEGERS = frozenset(
    {"number_literal", "decimal_integer_literal", "number", "integer_literal", "int_literal"}
)
# A decimal integer and its type suffix, if any (10u, 3L, 7usize, 1_000i64).
_INTEGER = re.compile(r"(0|[1-9][0-9_]*)([uUlL]{0,3}|[iu](?:8|16|32|64|128|size))")
_BLOCKS = frozenset({"compound_statement", "block", "statement_block", "statement_list"})
_STATEMENTS = frozenset(
    {"expression_statement", "inc_statement", "dec_statement", "assignment_statement"}
)
_CONDITIONALS = frozenset({"if_statement", "while_statement", "if_expression", "while_expression"})
_RETURNS = frozenset({"return_statement", "return_expression"})
_BOOLEANS = {"true": "false", "false": "true"}

Sites = Callable[[Node], list[Edit]]


def _operator(node: Node) -> Node | None:
    if node.type != "binary_expression":
        return None
    return node.child_by_field_name("operator")


def _replacing(table: dict[str, str]) -> Sites:
    def sites(node: Node) -> list[Edit]:
        op = _operator(node)
        text = syntax_trees.text(op) if op is not None else ""
        if op is None or text not in table:
            return []
        return [(op.start_byte, op.end_byte, table[text].encode())]

    return sites


def _swap_sites(node: Node) -> list[Edit]:
    op = _operator(node)
    left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
    if op is None or left is None or right is None:
        return []
    if syntax_trees.text(op) not in _NON_COMMUTATIVE or left.text == right.text:
        return []
    between = (node.text or b"")[
        left.end_byte - node.start_byte : right.start_byte - node.start_byte
    ]
    return [(node.start_byte, node.end_byte, (right.text or b"") + between + (left.text or b""))]


def _negate_sites(node: Node) -> list[Edit]:
    if node.type not in _CONDITIONALS and not (node.type == "for_statement" and _go_loop(node)):
        return []
    condition = node.child_by_field_name("condition") or _go_loop(node)
    if condition is None or condition.type in ("let_condition", "let_chain"):
        return []
    text = syntax_trees.text(condition)
    if text.startswith("(") and text.endswith(")"):
        negated = f"(!{text})"
    elif condition.type in ("condition_clause",):
        negated = f"(!({text.strip('()')}))"
    else:
        negated = f"!({text})"
    return [(condition.start_byte, condition.end_byte, negated.encode("utf-8", "surrogatepass"))]


def _go_loop(node: Node) -> Node | None:
    """Go's `for cond { }`: its condition is the loop's only clause."""
    if node.type != "for_statement":
        return None
    clause = next((c for c in node.named_children if c.type == "binary_expression"), None)
    return clause


def _off_by_one_sites(node: Node) -> list[Edit]:
    match = _INTEGER.fullmatch(syntax_trees.text(node)) if node.type in _INTEGERS else None
    if match is None:  # floats, hex and octal are left alone
        return []
    number, suffix = int(match.group(1).replace("_", "")), match.group(2) or ""
    return [(node.start_byte, node.end_byte, f"{number + 1}{suffix}".encode())]


def _drop_sites(node: Node) -> list[Edit]:
    if node.type not in _BLOCKS:
        return []
    statements = [child for child in node.named_children if child.type in _STATEMENTS]
    return [
        syntax_trees.replaced(s, ";" if s.type == "expression_statement" else "")
        for s in statements
    ]


def _return_sites(node: Node) -> list[Edit]:
    if node.type not in _RETURNS:
        return []
    values = [child for child in node.named_children if child.type != "expression_list"]
    values += [
        c
        for child in node.named_children
        if child.type == "expression_list"
        for c in child.named_children
    ]
    edits: list[Edit] = []
    for value in values[:1]:
        text = syntax_trees.text(value)
        if text in _BOOLEANS:
            edits.append((value.start_byte, value.end_byte, _BOOLEANS[text].encode()))
        elif text.isdigit():
            edits.append((value.start_byte, value.end_byte, b"0" if text != "0" else b"1"))
    return edits


def _drop_call_sites(node: Node) -> list[Edit]:
    """`x.method()` -> `x`: a step of a method chain left out (`.rev()`, `.trim()`,
    `.reverse()`), the call-chain languages' form of a dropped statement."""
    if node.type == "method_invocation":  # Java: object . name (arguments)
        receiver, arguments = (
            node.child_by_field_name("object"),
            node.child_by_field_name("arguments"),
        )
    elif node.type == "call_expression":
        function, arguments = (
            node.child_by_field_name("function"),
            node.child_by_field_name("arguments"),
        )
        receiver = None
        if function is not None and function.type == "generic_function":
            function = function.child_by_field_name("function")
        if function is not None and function.type in _MEMBER_ACCESS:
            receiver = next(
                (r for f in _RECEIVERS if (r := function.child_by_field_name(f)) is not None),
                None,
            )
    else:
        return []
    if receiver is None or arguments is None or arguments.named_child_count:
        return []
    return [(node.start_byte, node.end_byte, receiver.text or b"")]


_MEMBER_ACCESS = frozenset({"field_expression", "member_expression", "selector_expression"})
_RECEIVERS = ("value", "object", "argument", "operand")

OPERATORS: dict[str, Sites] = {
    "compare_flip": _replacing(_COMPARE_FLIP),
    "negate_condition": _negate_sites,
    "bool_swap": _replacing(_BOOL_SWAP),
    "arith_replace": _replacing(_ARITH),
    "swap_operands": _swap_sites,
    "off_by_one": _off_by_one_sites,
    "drop_statement": _drop_sites,
    "wrong_return": _return_sites,
    "drop_call": _drop_call_sites,
}


def tree_mutants(
    source: str, language: Language, k: int = DEFAULT_MUTANTS, seed: int = 0
) -> list[Mutant]:
    """Up to `k` distinct mutants of `source`, each parsing and unlike the original; the
    same (source, language, k, seed) always gives the same list; never raises."""
    try:
        data = source.encode("utf-8", "surrogatepass")
        tree = syntax_trees.parse(language, data)
        schedule = _schedule(tree.root_node, _rng(source, seed))
    except Exception:  # untrusted code: a parser refusal, odd encodings
        return []
    found: list[Mutant] = []
    seen = {data}
    for name, edit in schedule[: k * _ATTEMPTS_PER_MUTANT]:
        if len(found) >= k:
            break
        mutated = syntax_trees.apply_edits(data, [edit])
        if mutated in seen or syntax_trees.parse(language, mutated).root_node.has_error:
            continue
        seen.add(mutated)
        found.append(Mutant(name, mutated.decode("utf-8", "surrogatepass")))
    return found


def _schedule(root: Node, rng: random.Random) -> list[tuple[str, Edit]]:
    by_operator: dict[str, list[tuple[str, Edit]]] = {name: [] for name in OPERATORS}
    for node in syntax_trees.walk(root):
        for name, sites in OPERATORS.items():
            by_operator[name].extend((name, edit) for edit in sites(node))
    return interleave(by_operator, rng)
