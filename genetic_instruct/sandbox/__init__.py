"""Run untrusted generated Python against its assert-based tests.

Generated code is hostile until proven otherwise. It only ever runs in a fresh child
interpreter (`python -I -S -B`), in new mount, PID and network namespaces, as an
unprivileged uid, with CPU, memory, file-size, process-count and wall-clock limits, in a
size-limited scratch tmpfs, and none of the caller's environment. Its memory limit holds
for the program as a whole (a memory cgroup of its own, cgroup.py), it has its own IPC
namespace and an empty keyring, and a seccomp filter refuses the system calls it has no
use for (syscalls.py). Its root is an
allow-list, not the host's: a fresh read-only tmpfs holding the interpreter, the standard
library, the shared libraries they load, /dev/null, /dev/urandom, its own /proc and the
scratch directory (rootfs.py says what, _launcher.py how). Home directories, run
directories, /tmp and the rest of the host do not exist there. Outcomes come back on a
pipe, not stdout, so printed text cannot forge a pass.

    run_tests(solution, tests, limits) -> ExecutionResult
    run_many([(solution, tests), ...], limits, workers) -> [ExecutionResult, ...]

Platform. Linux only. As root, the sandbox drops to a uid of its own. As an ordinary user
it needs unprivileged user namespaces (most distributions allow them; some, such as
Ubuntu 24.04 with its AppArmor default, or hardened kernels, do not); where the platform
refuses, run_tests raises SandboxUnavailable rather than run with less isolation.
network="allow" opts out of the network namespace only: the file-system and process
isolation are not optional. The code sees the standard library and no site-packages.
Building the root needs ldd (glibc's or musl's), once per process.

Modules: limits (the value types), runner (the caller's side), rootfs (what the root
holds), cgroup (the program's memory cgroup), syscalls (the seccomp filter), verdict
(records and exit status to a status), mutants and mutation_score (how strong a
program's tests are), _launcher and _harness (run in the child only).
"""

from genetic_instruct.errors import SandboxUnavailable

from .limits import ExecutionResult, SandboxLimits
from .runner import run_many, run_tests

__all__ = ["ExecutionResult", "SandboxLimits", "SandboxUnavailable", "run_many", "run_tests"]
