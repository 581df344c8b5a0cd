"""Each language's compiler and runtime in the sandbox, and its test harness.

    toolchain(language) -> Toolchain    its tools and sandbox roots, found once per process
    assemble(language, solution, tests, limits) -> Program

One module per language (cpp, java, javascript, rust, go), each with `find()` and
`assemble()` (common.py says what they make); harness/ holds the harness sources they
place around the tests. Python is not here: its harness runs in the launcher's own
interpreter (../_harness.py).
"""

from __future__ import annotations

import threading
from types import ModuleType

from genetic_instruct.errors import SandboxUnavailable
from genetic_instruct.languages import Language

from ..limits import SandboxLimits
from . import cpp, go, java, javascript, rust
from .common import Program, ProgramError, Toolchain

MODULES: dict[Language, ModuleType] = {
    Language.cpp: cpp,
    Language.java: java,
    Language.javascript: javascript,
    Language.rust: rust,
    Language.go: go,
}
_finding = threading.Lock()  # run_many's threads must not each probe the same compiler


def toolchain(language: Language) -> Toolchain:
    """The language's toolchain; SandboxUnavailable (saying what to install) without one."""
    if language not in MODULES:
        raise SandboxUnavailable(f"the sandbox has no toolchain for {language}")
    with _finding:
        found: Toolchain = MODULES[language].find()
    return found


def assemble(language: Language, solution: str, tests: str, limits: SandboxLimits) -> Program:
    """The program the sandbox builds and runs; ProgramError if the two cannot make one."""
    program: Program = MODULES[language].assemble(solution, tests, toolchain(language), limits)
    return program


__all__ = ["Program", "ProgramError", "Toolchain", "assemble", "toolchain"]
