"""An HTTP sandbox service instead of the local sandbox: SandboxFusion's `/run_code` API.

`execution.backend=sandbox_fusion` with `execution.backend_url` sends each program to a
SandboxFusion server (github.com/bytedance/SandboxFusion, the code sandbox used to train
and evaluate code models) where one already runs, for instance on a cluster whose nodes
cannot host namespaces. The request is SandboxFusion's:

    POST <url>/run_code {"code", "language", "compile_timeout", "run_timeout",
                         "memory_limit_MB", "stdin": "", "files": {}}
    -> {"status": "Success" | "Failed" | "SandboxError", "message",
        "compile_result": {"status", "return_code", "stderr", ...} | null,
        "run_result": {"status": "Finished" | "TimeLimitExceeded" | "Error",
                       "return_code", "stdout", "stderr", "execution_time"} | null}

The service runs one program and reports its exit, so the tests are one test here: the
solution and its tests go as one program (a solution's own `main` renamed away, Java's
`assert` made a check that runs without `-ea`), passed when it exits 0. Per-assert counts
and mutation scores' fine grain need the local sandbox. Go's tests need `go test` on a
package, which the service's single-file API does not give: refused, saying so. A service
that cannot be reached, or answers SandboxError, is SandboxUnavailable, as a platform that
refuses the local sandbox is.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from genetic_instruct.errors import SandboxUnavailable
from genetic_instruct.languages import Language

from . import syntax_trees
from .compiled import compiler_message
from .limits import ExecutionResult, SandboxLimits
from .toolchains.cpp import rename_function
from .toolchains.java import is_assert, unpackaged
from .toolchains.rust import renamed
from .verdict import last_line

# SandboxFusion's names for the languages (its `language` field).
LANGUAGES = {
    Language.python: "python",
    Language.cpp: "cpp",
    Language.java: "java",
    Language.javascript: "nodejs",
    Language.rust: "rust",
}
MARGIN_S = 30  # queueing and transfer on top of the program's own limits


def run_remote(
    url: str, solution: str, tests: str, limits: SandboxLimits, language: Language
) -> ExecutionResult:
    """Run `solution` against `tests` on the service at `url`."""
    if language not in LANGUAGES:
        raise SandboxUnavailable(
            f"the sandbox service cannot run {language} tests (its API runs one file; Go's "
            "tests need `go test` on a package): use execution.backend=local"
        )
    request = {
        "code": program_text(solution, tests, language),
        "language": LANGUAGES[language],
        "compile_timeout": limits.compile.wall_seconds,
        "run_timeout": limits.wall_seconds,
        "memory_limit_MB": limits.memory_mb,
        "stdin": "",
        "files": {},
    }
    timeout = limits.compile.wall_seconds + limits.wall_seconds + MARGIN_S
    return verdict(_post(url.rstrip("/") + "/run_code", request, timeout), limits)


def _post(url: str, body: dict, timeout: float) -> dict:
    data = json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise SandboxUnavailable(f"the sandbox service at {url} failed: {exc}") from exc
    if not isinstance(answer, dict):
        raise SandboxUnavailable(f"the sandbox service at {url} answered {answer!r:.200}")
    return answer


def verdict(answer: dict, limits: SandboxLimits) -> ExecutionResult:
    """The service's answer as an ExecutionResult with one test, the whole program."""
    if answer.get("status") == "SandboxError":
        raise SandboxUnavailable(f"the sandbox service failed: {answer.get('message', '')}")
    built = answer.get("compile_result") or {}
    run = answer.get("run_result") or {}
    stdout, stderr = str(run.get("stdout") or ""), str(run.get("stderr") or "")
    seconds = float(run.get("execution_time") or 0.0)
    if built and built.get("return_code") not in (0, None):
        output = str(built.get("stderr") or "") + str(built.get("stdout") or "")
        status, detail, stderr = "compile_error", compiler_message(output), output
    elif run.get("status") == "TimeLimitExceeded" or built.get("status") == "TimeLimitExceeded":
        status, detail = "timeout", f"wall-clock limit of {limits.wall_seconds:g}s exceeded"
    elif run.get("return_code") == 0 and run.get("status") == "Finished":
        status, detail = "passed", "the program and its tests ran to the end"
    else:
        ended = last_line(stderr) or f"exit code {run.get('return_code')}"
        status, detail = "failed", f"the tests did not pass ({ended})"
    passed = int(status == "passed")
    return ExecutionResult(
        status=status,
        passed=passed,
        total=1,
        pass_fraction=float(passed),
        runtime_s=seconds,
        stdout=stdout[: limits.output_bytes],
        stderr=stderr[: limits.output_bytes],
        detail=detail,
    )


def program_text(solution: str, tests: str, language: Language) -> str:
    """The solution and its tests as one file the service compiles and runs."""
    if language is Language.python:
        return f"{solution}\n\n{tests}\n"
    if language is Language.cpp:
        return f"{rename_function(solution, 'main', 'gi_solution_main')}\n\n{tests}\n"
    if language is Language.rust:
        return f"{renamed(solution, 'main', 'gi_solution_main')}\n\n{tests}\n"
    if language is Language.javascript:
        return f"{solution}\n;{{\n{tests}\n}}\n"
    return syntax_trees.imports_first([unpackaged(solution), checked_asserts(tests)], language)


def checked_asserts(tests: str) -> str:
    """Java tests whose `assert cond;` statements check without `-ea`: each becomes
    `if (!(cond)) throw new AssertionError(...)`, as the JVM would run it with -ea."""
    data = tests.encode("utf-8", "surrogatepass")
    tree = syntax_trees.parse(Language.java, data)
    edits = []
    for node in syntax_trees.outermost(tree.root_node, is_assert):
        condition = syntax_trees.text(node.children[1])
        message = syntax_trees.quoted(f"line {node.start_point[0] + 1}: {condition}")
        check = f"if (!({condition})) throw new AssertionError({message});"
        edits.append(syntax_trees.replaced(node, check))
    return syntax_trees.apply_edits(data, edits).decode("utf-8", "surrogatepass")
