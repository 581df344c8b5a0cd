"""execution.backend=sandbox_fusion: programs sent to a SandboxFusion server's /run_code.

No SandboxFusion server can run here (it is a Docker image with its own toolchains), so a
small fake of its API answers, as the service documents its answers; each test decides the
answer and reads the request the client sent.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from genetic_instruct.errors import ConfigError
from genetic_instruct.sandbox import SandboxLimits, SandboxUnavailable, run_many, run_tests

from .conftest import make_config


class FakeSandboxFusion:
    """Answers each POST /run_code with the next queued answer; keeps the requests."""

    def __init__(self) -> None:
        self.answers: list[dict] = []
        self.requests: list[dict] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                owner.requests.append({"path": self.path, **json.loads(body)})
                data = json.dumps(owner.answers.pop(0)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def service() -> Iterator[FakeSandboxFusion]:
    fake = FakeSandboxFusion()
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def finished(code: int, stderr: str = "") -> dict:
    run = {"status": "Finished", "return_code": code, "stdout": "", "stderr": stderr}
    return {
        "status": "Success" if code == 0 else "Failed",
        "compile_result": None,
        "run_result": {**run, "execution_time": 0.05},
    }


def test_a_passing_program_is_one_passed_test_and_the_request_is_sandbox_fusions(service) -> None:
    service.answers.append(finished(0))
    limits = SandboxLimits(wall_seconds=7, memory_mb=300)
    result = run_tests("def f():\n    return 1\n", "assert f() == 1\n", limits, service=service.url)
    assert (result.status, result.passed, result.total) == ("passed", 1, 1)
    sent = service.requests[0]
    assert sent["path"] == "/run_code" and sent["language"] == "python"
    assert sent["code"] == "def f():\n    return 1\n\n\nassert f() == 1\n\n"
    assert (sent["run_timeout"], sent["memory_limit_MB"]) == (7, 300)


def test_each_answer_maps_to_the_local_sandboxs_verdicts(service) -> None:
    service.answers += [
        finished(1, "Traceback ...\nAssertionError"),
        {
            "status": "Failed",
            "compile_result": {
                "status": "Finished",
                "return_code": 1,
                "stderr": "program.cpp:3:5: error: expected ';'",
            },
            "run_result": None,
        },
        {
            "status": "Failed",
            "compile_result": None,
            "run_result": {
                "status": "TimeLimitExceeded",
                "return_code": None,
                "stdout": "",
                "stderr": "",
            },
        },
    ]
    jobs = [
        ("x = 1", "assert x == 2"),
        ("int f() {}", "int main() {}", "cpp"),
        ("while True: pass", "assert True"),
    ]
    results = run_many(jobs, SandboxLimits(), workers=1, service=service.url)
    assert [r.status for r in results] == ["failed", "compile_error", "timeout"]
    assert "AssertionError" in results[0].detail
    assert results[1].detail == "program.cpp:3:5: error: expected ';'"


def test_programs_go_as_one_file_the_service_runs(service) -> None:
    """A solution's own main is renamed away, and Java's asserts check without -ea."""
    service.answers += [finished(0), finished(0)]
    run_tests(
        "int main() { return 1; }\nint f() { return 2; }\n",
        "#include <cassert>\nint main() { assert(f() == 2); }\n",
        service=service.url,
        language="cpp",
    )
    run_tests(
        "class Solution { static int f() { return 2; } }",
        "public class Main { public static void main(String[] a) { assert Solution.f() == 2; } }",
        service=service.url,
        language="java",
    )
    cpp, java = (request["code"] for request in service.requests)
    assert "int gi_solution_main()" in cpp and cpp.count("int main()") == 1
    assert "if (!(Solution.f() == 2)) throw new AssertionError(" in java and "assert " not in java


def test_a_service_that_fails_or_cannot_run_go_is_unavailable(service) -> None:
    service.answers.append({"status": "SandboxError", "message": "no runner for python"})
    with pytest.raises(SandboxUnavailable, match="no runner for python"):
        run_tests("x = 1", "assert x == 1", service=service.url)
    with pytest.raises(SandboxUnavailable, match="go test"):
        run_tests("package main", "package main", service=service.url, language="go")
    with pytest.raises(SandboxUnavailable, match="failed"):
        run_tests("x = 1", "assert x == 1", service="http://127.0.0.1:9")


def test_the_backend_needs_a_url() -> None:
    with pytest.raises(ConfigError, match="execution.backend_url"):
        make_config("execution.backend=sandbox_fusion")
    cfg = make_config("execution.backend=sandbox_fusion", "execution.backend_url=http://s:8080")
    assert cfg.execution.service() == "http://s:8080"
    assert make_config().execution.service() is None
