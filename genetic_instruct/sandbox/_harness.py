"""Run a solution and its top-level asserts inside the sandboxed process; report each outcome.

Loaded only by _launcher.py in the child, never imported by the caller. Standard library
only, and cheap to import: it runs once per program.

Outcomes go to a pipe the caller opened, not to stdout (which belongs to the solution), one
line per record:

    "<nonce> <kind> <index> <text>\\n"
    kind: total (index = number of asserts), pass, fail, compile, error, memory, done

The nonce is random per run and never printed, so output that merely imitates records is
ignored by the caller. The solution shares this process with its asserts, so a program
written against this harness could still dig the nonce out of memory (as it could make any
assert hold by returning an object whose __eq__ is always true); what the channel stops is
accidental or naive forgery: printing, writing to every descriptor, patching os.write.
"""

from __future__ import annotations

import _ast
import os
import sys

# typing and collections.abc cost milliseconds per program; only type checkers need them.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    Report = Callable[[str, int, str], None]

_ONLY_AST = 0x400  # ast.PyCF_ONLY_AST; importing ast itself costs ~4 ms per program
_DETAIL_CHARS = 300  # keeps every record far below PIPE_BUF, so each write is atomic
_CHANNEL_LOST = 3  # exit status when the result pipe is gone


def make_reporter(fd: int, nonce: str, write=os.write, exit_now=os._exit) -> Report:
    """Bind the channel now, so a solution that patches os.write later cannot see records."""
    prefix = nonce + " "

    def report(kind: str, index: int, text: str) -> None:
        line = f"{prefix}{kind} {index} {' '.join(text[:_DETAIL_CHARS].split())}\n"
        try:
            write(fd, line.encode("utf-8", "replace"))
        except OSError:
            # The solution closed or replaced our pipe; the caller will see no "done".
            exit_now(_CHANNEL_LOST)

    return report


def run(solution: str, tests: str, report: Report) -> None:
    """Run the solution, then each top-level test statement in order, in its namespace."""
    # Not only SyntaxError: deep nesting raises RecursionError, a NUL byte ValueError.
    try:
        body = compile(tests, "tests.py", "exec", _ONLY_AST, dont_inherit=True).body
    except Exception as exc:
        report(_compile_kind(exc), 0, f"could not compile the tests: {_describe(exc)}")
        return
    report("total", sum(isinstance(statement, _ast.Assert) for statement in body), "")
    try:
        code = compile(solution, "solution.py", "exec", dont_inherit=True, optimize=0)
    except Exception as exc:
        report(_compile_kind(exc), 0, f"could not compile the solution: {_describe(exc)}")
        return
    # A real module in sys.modules, so pickle (multiprocessing) and dataclasses can find
    # what the solution defines. Not "__main__": its `if __name__ == "__main__":` block
    # would read stdin.
    module = type(sys)("solution")
    sys.modules["solution"] = module
    namespace = module.__dict__
    try:
        exec(code, namespace)
    except BaseException as exc:  # SystemExit too: the solution must not end the run
        report(_failure_kind(exc), 0, f"solution raised {_describe(exc)}")
        return
    # Lines as Python counts them (answers/text.split_lines, without importing re):
    # str.splitlines() also cuts at form feeds and U+2028 inside string literals.
    lines = tests.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    _run_tests(body, lines, namespace, report)


def _run_tests(body: list, lines: list[str], namespace: dict, report: Report) -> None:
    """Assert failures are counted and the run goes on; a failing setup statement ends it."""
    index = 0
    for statement in body:
        is_assert = isinstance(statement, _ast.Assert)
        where = f"line {statement.lineno}: {_source_line(lines, statement.lineno)}"
        try:
            module = _ast.Module([statement], [])
            exec(compile(module, "tests.py", "exec", dont_inherit=True, optimize=0), namespace)
        except BaseException as exc:
            if isinstance(exc, MemoryError) or not is_assert:
                report(_failure_kind(exc), 0, f"{where} raised {_describe(exc)}")
                return
            report("fail", index, f"{where} ({_describe(exc)})")
        else:
            if is_assert:
                report("pass", index, "")
        index += is_assert
    report("done", index, "")


def _failure_kind(exc: BaseException) -> str:
    return "memory" if isinstance(exc, MemoryError) else "error"


def _compile_kind(exc: BaseException) -> str:
    return "memory" if isinstance(exc, MemoryError) else "compile"


def _source_line(lines: list[str], lineno: int) -> str:
    return lines[lineno - 1].strip() if 0 < lineno <= len(lines) else ""


def _describe(exc: BaseException) -> str:
    """Name and message; str() of a hostile exception may itself raise."""
    name = type(exc).__name__
    try:
        message = str(exc)
    except BaseException:
        message = "<unprintable>"
    return f"{name}: {message}" if message else name
