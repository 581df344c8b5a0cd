"""Code as near-duplicate detection and decontamination should see it, in each language.

Two programs that differ only in their comments are the same program, and a `#` or `//`
inside a string literal is no comment. So comments are found the way the language's own
parser finds them: Python's tokenizer, tree-sitter's grammars for C++, Java, JavaScript,
Rust and Go (string literals, raw strings, template literals and nested block comments
included), never by a regular expression over the text.

    without_comments(code, language)   the code, comments removed, blank lines dropped
    comment_text(code, language)       the comments' words only: a benchmark prompt's
                                       problem statement (MultiPL-E writes HumanEval's
                                       docstrings as comments above a signature)

Shingling (shingles.py) then folds case and whitespace as it does for every text. Code
that does not parse is left as it is: untrusted text never raises here.
"""

from __future__ import annotations

import io
import re
import tokenize

from genetic_instruct.languages import SYNTAX, Language
from genetic_instruct.sandbox import syntax_trees

_COMMENTS = frozenset({"comment", "line_comment", "block_comment"})
_BLANK_LINES = re.compile(r"\n[ \t]*(?=\n)")


def without_comments(code: str, language: Language) -> str:
    """`code` without its comments (their line breaks kept), blank lines dropped."""
    spans = _comment_spans(code, language)
    if spans is None:
        return code
    data = code.encode("utf-8", "surrogatepass")
    edits = [(start, end, b"\n" * data[start:end].count(b"\n")) for start, end in spans]
    kept = syntax_trees.apply_edits(data, edits).decode("utf-8", "surrogatepass")
    return _BLANK_LINES.sub("", "\n".join(line.rstrip() for line in kept.split("\n"))).strip("\n")


def comment_text(code: str, language: Language) -> str:
    """The words of `code`'s comments, markers taken off, one comment a line."""
    spans = _comment_spans(code, language)
    if not spans:
        return ""
    data = code.encode("utf-8", "surrogatepass")
    syntax = SYNTAX[language]
    markers = [syntax.line_comment, *(syntax.block_comment or ()), "/**", "///", "//!", "*"]
    lines = []
    for start, end in spans:
        for line in data[start:end].decode("utf-8", "surrogatepass").split("\n"):
            text = line.strip()
            for marker in sorted(markers, key=len, reverse=True):
                text = text.removeprefix(marker).removesuffix(marker).strip()
            if text:
                lines.append(text)
    return "\n".join(lines)


def _comment_spans(code: str, language: Language) -> list[tuple[int, int]] | None:
    """Byte spans of the comments, or None when the code cannot be read."""
    try:
        if language is Language.python:
            return _python_comments(code)
        tree = syntax_trees.parse(language, code)
    except Exception:  # a missing grammar, or untrusted text the tokenizer refuses
        return None
    return [
        (node.start_byte, node.end_byte)
        for node in syntax_trees.walk(tree.root_node)
        if node.type in _COMMENTS
    ]


def _python_comments(code: str) -> list[tuple[int, int]]:
    """Python's comments as byte spans, from its own tokenizer."""
    data = code.encode("utf-8", "surrogatepass")
    line_starts = [0]
    for line in data.split(b"\n")[:-1]:
        line_starts.append(line_starts[-1] + len(line) + 1)
    spans = []
    texts = code.split("\n")
    for token in tokenize.generate_tokens(io.StringIO(code).readline):
        if token.type == tokenize.COMMENT:
            (row, col), (_, end_col) = token.start, token.end
            text = texts[row - 1]
            start = line_starts[row - 1] + len(text[:col].encode("utf-8", "surrogatepass"))
            spans.append((start, start + len(text[col:end_col].encode("utf-8", "surrogatepass"))))
    return spans
