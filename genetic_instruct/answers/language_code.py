"""The program in a model's answer in C++, Java, JavaScript, Rust or Go: its fenced blocks
of that language, which hold the solution and which the tests, and files put together.

As strict as the Python reader (python_code.py), on the final answer only (the Role has
already taken the reasoning away and turned a truncated answer down):

    a block counts when its fence names the language (```cpp, ```c++, ```java, ```js,
    ```javascript, ```rust, ```go, any alias in languages.py), or names a file with the
    language's extension (```java:Solution.java, ```cpp title="main.cpp", ```go main.go),
    or has no tag and parses as the language without an error. Blocks in other languages
    (a ```bash install line, a ```python draft, example ```text output) never count.
    The tests are the blocks written as the language's tests (tests_in); the solution the
    other blocks, the last one that defines what the task names (a revision follows its
    draft), else the last that defines anything.
    An answer that ends inside a block of the language was cut short: code_truncated.
    Several solution files (a header and its source, two Java classes, two Go files of one
    package) make one program: C++'s `#include "given.hpp"` of a file given is dropped,
    Java's and Go's imports are gathered at the top (and Go's package clauses made one).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from genetic_instruct.answers.python_code import named_in
from genetic_instruct.answers.text import Fence, fences
from genetic_instruct.languages import SYNTAX, Language, language_named
from genetic_instruct.rejection import Rejection
from genetic_instruct.sandbox import syntax_trees
from genetic_instruct.sandbox.syntax_trees import Node

# A file name in a fence's info string: ```java:Solution.java, title="a.cpp", file=x.go, x.rs
_FILE_NAME = re.compile(
    r"""(?:^|[\s:])(?:(?:title|file|filename|name|path)=)?["']?([\w./-]+\.\w+)"""
)


@dataclass(frozen=True)
class SourceFile:
    """A block of the answer in the language, and the file name its fence gave, if any."""

    code: str
    name: str | None = None


def language_files(answer: str, language: Language) -> list[SourceFile]:
    """The answer's blocks in `language`, in order; without fences, the whole answer when
    it is itself a clean program of the language."""
    blocks = fences(answer)
    if not blocks:
        clean = _parses(answer, language) and _defines(answer, language)
        return [SourceFile(answer.strip("\n"))] if clean else []
    found = []
    for block in blocks:
        tag, name = fence_header(answer, block)
        if not block.code.strip():
            continue
        if not _closed(answer, block):
            raise Rejection("code_truncated")  # the answer ends inside a block: cut short
        tagged = language_named(tag) if tag else None
        named = _language_of_file(name) if name else None
        if tagged is language or (tagged is None and named is language):
            found.append(SourceFile(block.code, name))
        elif not tag and name is None and _parses(block.code, language):
            found.append(SourceFile(block.code, None))
    return found


def _closed(text: str, block: Fence) -> bool:
    """Whether the block has its closing fence (an unclosed one runs to the text's end)."""
    lines = text[block.start : block.end].rstrip("\r\n").split("\n")
    last = lines[-1].strip()
    return len(lines) > 1 and bool(last) and set(last) <= {"`", "~"}


def fence_header(text: str, block: Fence) -> tuple[str, str | None]:
    """A fence's language tag (lower case, "" for none) and the file name it gives."""
    line = text[block.start :].split("\n", 1)[0].strip().lstrip("`~").strip()
    tag, _, rest = line.partition(" ")
    tag, colon, after = tag.partition(":")  # ```java:Solution.java
    if colon:
        rest = f"{after} {rest}"
    if "." in tag and language_named(tag) is None:  # ```main.go: the tag is the file name
        tag, rest = "", f"{tag} {rest}"
    match = _FILE_NAME.search(rest)
    return tag.lower(), match.group(1) if match else None


def _language_of_file(name: str) -> Language | None:
    extension = os.path.splitext(name)[1].lower()
    for language, syntax in SYNTAX.items():
        if extension in (syntax.extension, *(f".{alias}" for alias in syntax.aliases)):
            return language
    return {".h": Language.cpp, ".cc": Language.cpp, ".hpp": Language.cpp}.get(extension)


def _parses(code: str, language: Language) -> bool:
    tree = syntax_trees.parse(language, code)
    return syntax_trees.first_syntax_error(tree) is None


# What a block of tests looks like in each language: its test entry point and its checks.
_TEST_SHAPES = {
    Language.cpp: (re.compile(r"\bint\s+main\s*\("), re.compile(r"\bassert\s*\(")),
    Language.java: (re.compile(r"\bstatic\s+void\s+main\s*\("), re.compile(r"\bassert\s")),
    Language.javascript: (
        re.compile(r""),
        re.compile(r"(?:^|[^\w.])(?:assert(?:\.\w+)?|console\.assert)\s*\("),
    ),
    Language.rust: (
        re.compile(r"\bfn\s+main\s*\(|#\[test\]"),
        re.compile(r"\bassert(?:_eq|_ne)?!\s*\("),
    ),
    Language.go: (re.compile(r"\bfunc\s+Test\w*\s*\(\s*\w+\s+\*testing\.T\s*\)"), re.compile(r"")),
}

# The nodes that define a named thing (function, method, class, type), by language.
_DEFINITIONS = {
    Language.cpp: ("function_definition", "class_specifier", "struct_specifier"),
    Language.java: (
        "method_declaration",
        "class_declaration",
        "interface_declaration",
        "enum_declaration",
        "record_declaration",
    ),
    Language.javascript: (
        "function_declaration",
        "generator_function_declaration",
        "class_declaration",
        "method_definition",
        "variable_declarator",
    ),
    Language.rust: ("function_item", "struct_item", "enum_item", "trait_item"),
    Language.go: ("function_declaration", "method_declaration", "type_spec"),
}


def tests_in(code: str, language: Language) -> bool:
    """Whether a block is the language's tests (a main with asserts, Test functions)."""
    entry, check = _TEST_SHAPES[language]
    return bool(entry.search(code)) and bool(check.search(code))


def defined(code: str, language: Language) -> set[str]:
    """The names a block defines, at any depth (functions, methods, classes, types; in
    JavaScript also `const f = (...) => ...`)."""
    tree = syntax_trees.parse(language, code)
    kinds = _DEFINITIONS[language]
    names = set()
    for node in syntax_trees.walk(tree.root_node):
        if node.type not in kinds:
            continue
        if node.type == "variable_declarator":
            value = node.child_by_field_name("value")
            if value is None or value.type not in ("arrow_function", "function_expression"):
                continue
        name = _name_of(node)
        if name:
            names.add(name)
    return names - {"main"}


def _name_of(node: Node) -> str:
    """A definition's name: its `name` field, or the identifier its declarator ends in (C++)."""
    name = node.child_by_field_name("name")
    if name is not None:
        return syntax_trees.text(name)
    declarator = node.child_by_field_name("declarator")
    while declarator is not None and declarator.type not in ("identifier", "field_identifier"):
        inner = declarator.child_by_field_name("declarator")
        if inner is None:  # a qualified name (Class::method): its last part
            inner = declarator.child_by_field_name("name")
        declarator = inner
    return syntax_trees.text(declarator) if declarator is not None else ""


def _defines(code: str, language: Language) -> bool:
    return bool(defined(code, language))


def read_program(
    answer: str, language: Language, instruction: str, tests_wanted: bool = True
) -> tuple[str, str]:
    """(solution, tests) from an answer in `language`; Rejection with a counted reason
    (no_code, code_syntax_error, no_tests) when it holds no usable program."""
    files = language_files(answer, language)
    if not files:
        raise Rejection("no_code")
    tests = [f for f in files if tests_in(f.code, language)]
    others = [f for f in files if f not in tests]
    programs = [f for f in others if _defines(f.code, language)]
    if not programs:
        broken = any(not _parses(f.code, language) for f in others)
        raise Rejection("code_syntax_error" if broken else "no_code")
    chosen = _chosen(others, programs, language, instruction)
    solution = joined(chosen, language)
    if not _parses(solution, language):
        raise Rejection("code_syntax_error")
    if tests_wanted and not tests:
        raise Rejection("no_tests")
    return solution, tests[-1].code if tests else ""


def _chosen(
    others: list[SourceFile], programs: list[SourceFile], language: Language, instruction: str
) -> list[SourceFile]:
    """The solution's files: where the answer names its files, every named one that is not
    tests (several files make one program, a header that only declares included), else the
    last block that defines what the task names, else the last that defines anything."""
    named = [f for f in others if f.name]
    if len(named) > 1 and all(f.name for f in programs):
        latest = {f.name: f for f in named}  # a file given twice: its last version
        return list(latest.values())
    wanted = named_in(instruction)
    naming = [f for f in programs if defined(f.code, language) & wanted]
    return [(naming or programs)[-1]]


def joined(files: list[SourceFile], language: Language) -> str:
    """Several files of one program as one source (see the module docstring)."""
    if len(files) == 1:
        return files[0].code
    if language is Language.cpp:
        given = {os.path.basename(f.name or "") for f in files}
        return "\n".join(_without_local_includes(f.code, given) for f in files)
    if language in (Language.java, Language.go):
        return syntax_trees.imports_first([f.code for f in files], language)
    return "\n".join(f.code for f in files)


_INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"\s*$', re.M)


def _without_local_includes(code: str, given: set[str]) -> str:
    return _INCLUDE.sub(lambda m: "" if os.path.basename(m.group(1)) in given else m.group(0), code)
