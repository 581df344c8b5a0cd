"""Parsing C++, Java, JavaScript, Rust and Go with tree-sitter: their parsers, and edits.

Python's own `ast` reads Python; for the other languages the sandbox needs the same few
things from a syntax tree: where a test's asserts are (to count each one, toolchains/),
where a program can be mutated (tree_mutants.py), and whether a seed's code parses at all.
tree-sitter is the parser editors and GitHub use; its grammars are separate wheels
(tree-sitter-cpp, ...), loaded on first use.

A tree-sitter tree points into the source's UTF-8 bytes, so an edit is a byte range and
its replacement; `apply_edits` makes the new text in one pass. Parsing never raises on bad
code: the tree marks what it could not read (ERROR and MISSING nodes), which
`first_syntax_error` reports.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterable, Iterator

import tree_sitter
from tree_sitter import Node, Tree

from genetic_instruct.errors import SandboxUnavailable
from genetic_instruct.languages import Language

GRAMMARS = {
    Language.cpp: "tree_sitter_cpp",
    Language.java: "tree_sitter_java",
    Language.javascript: "tree_sitter_javascript",
    Language.rust: "tree_sitter_rust",
    Language.go: "tree_sitter_go",
}
Edit = tuple[int, int, bytes]  # start byte, end byte, what replaces them

# A parser is not safe to share between threads, and run_many assembles programs from a
# pool of them: one parser per thread and language.
_local = threading.local()


def parse(language: Language, source: str | bytes) -> Tree:
    """The syntax tree of `source` (text, or its UTF-8 bytes)."""
    data = source.encode("utf-8", "surrogatepass") if isinstance(source, str) else source
    return _parser(language).parse(data)


def _parser(language: Language) -> tree_sitter.Parser:
    parsers = _local.__dict__.setdefault("parsers", {})
    if language not in parsers:
        parsers[language] = _new_parser(language)
    return parsers[language]


def _new_parser(language: Language) -> tree_sitter.Parser:
    try:
        grammar = importlib.import_module(GRAMMARS[language])
    except ImportError as exc:
        package = GRAMMARS[language].replace("_", "-")
        raise SandboxUnavailable(
            f"reading {language} code needs its tree-sitter grammar: pip install {package} ({exc})"
        ) from exc
    return tree_sitter.Parser(tree_sitter.Language(grammar.language()))


def walk(node: Node) -> Iterator[Node]:
    """Every node under `node` (itself first) in source order, without recursion, so a
    deeply nested program cannot exhaust the stack."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def text(node: Node) -> str:
    return node.text.decode("utf-8", "replace") if node.text is not None else ""


def first_syntax_error(tree: Tree) -> str | None:
    """'line N: ...' for the first place the parser could not read, or None."""
    if not tree.root_node.has_error:
        return None
    for node in walk(tree.root_node):
        if node.is_error or node.is_missing:
            line = node.start_point[0] + 1
            if node.is_missing:
                return f"line {line}: expected {node.type}"
            return f"line {line}: cannot parse {text(node)[:40]!r}"
    return "cannot parse"


def outermost(root: Node, wanted: Callable[[Node], bool]) -> list[Node]:
    """The nodes under `root` that are `wanted`, in source order, leaving out those inside
    one already found (an assert in a closure inside an assert is part of the outer one)."""
    found: list[Node] = []
    for node in walk(root):
        if found and node.start_byte < found[-1].end_byte:
            continue
        if wanted(node):
            found.append(node)
    return found


def top_level_renames(
    root: Node, name_of: Callable[[Node], Node | None], old: str, new: str
) -> list[Edit]:
    """Edits renaming the top-level definitions whose name (`name_of`) is `old`: a
    solution's own `main`, moved out of the way of the harness's."""
    return [
        (name.start_byte, name.end_byte, new.encode())
        for node in root.children
        if (name := name_of(node)) is not None and text(name) == old
    ]


def renamed(
    language: Language, source: str, name_of: Callable[[Node], Node | None], old: str, new: str
) -> str:
    """`source` with its top-level definitions named `old` (by `name_of`) renamed `new`."""
    data = source.encode("utf-8", "surrogatepass")
    edits = top_level_renames(parse(language, data).root_node, name_of, old, new)
    return apply_edits(data, edits).decode("utf-8", "surrogatepass")


def apply_edits(source: bytes, edits: Iterable[Edit]) -> bytes:
    """`source` with each (start, end, replacement) applied; edits must not overlap."""
    pieces: list[bytes] = []
    position = 0
    for start, end, replacement in sorted(edits, key=lambda edit: (edit[0], edit[1])):
        if start < position:
            raise ValueError(f"overlapping edits at byte {start}")
        pieces += [source[position:start], replacement]
        position = end
    pieces.append(source[position:])
    return b"".join(pieces)


def blanked(node: Node) -> Edit:
    """An edit that removes `node` but keeps its line breaks, so later lines keep their
    numbers (a compiler's message about line 12 is about the model's line 12)."""
    data = node.text or b""
    return node.start_byte, node.end_byte, b"\n" * data.count(b"\n")


def replaced(node: Node, replacement: str) -> Edit:
    """An edit that puts `replacement` (one line) where `node` was, keeping its line
    breaks after it for the same reason."""
    breaks = (node.text or b"").count(b"\n")
    return (
        node.start_byte,
        node.end_byte,
        replacement.encode("utf-8", "surrogatepass") + b"\n" * breaks,
    )


def quoted(value: str) -> str:
    """`value` as a double-quoted string literal that C++, Java, JavaScript, Rust and Go
    all read back as the same text: a test's source, quoted into its harness call."""
    escaped = []
    for char in value:
        if char in '"\\':
            escaped.append("\\" + char)
        elif char == "\n":
            escaped.append("\\n")
        elif char < " " or char == "\x7f":
            escaped.append(" ")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def imports_first(sources: list[str], language: Language) -> str:
    """Java or Go sources as one file: their imports (each once) first, then the rest of
    each, package clauses taken out (Go's made one `package main` at the very top). A
    Java or Go file must import before it declares, so files cannot just be joined."""
    imports: dict[str, None] = {}
    bodies: list[str] = []
    for source in sources:
        data = source.encode("utf-8", "surrogatepass")
        edits = []
        for node in parse(language, data).root_node.children:
            if node.type == "import_declaration":
                specs = [spec for spec in walk(node) if spec.type == "import_spec"]
                for spec in specs or [node]:
                    imports[text(spec).strip()] = None
                edits.append(blanked(node))
            elif node.type in ("package_clause", "package_declaration"):
                edits.append(blanked(node))
        bodies.append(apply_edits(data, edits).decode("utf-8", "surrogatepass"))
    if language is Language.go:
        head = "package main\n\nimport (\n" + "".join(f"\t{i}\n" for i in imports) + ")\n"
    else:
        head = "".join(f"{i}\n" for i in imports)
    return head + "\n".join(bodies)
