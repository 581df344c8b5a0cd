"""The system calls generated code is refused: a seccomp filter, compiled once per process.

Namespaces, mounts, keyrings, tracing, BPF and io_uring have no use in a solution and each
has been a way out of a sandbox like this one: a program that may unshare a user namespace
may mount a tmpfs no limit sees; keyctl reads the caller's session keyring (its tokens)
straight into a failing assert and so into the judge's prompt; io_uring performs I/O that
no later filter inspects. Refused calls fail with EPERM, as Docker's default profile
does, so a program sees an ordinary error rather than dying.

The filter is built here, in the caller, with libseccomp (through pyseccomp, its ctypes
binding): libseccomp knows each architecture's numbers and writes the BPF program, with
the check that kills any call made through another ABI (32-bit int 0x80, x32), a classic
way around hand-written filters. The launcher only installs the compiled bytes: one prctl,
microseconds, and no import of libseccomp per program.

clone3 passes its flags in memory, where no seccomp filter can read them, so it is refused
as unknown (ENOSYS) and glibc falls back to clone, whose flags the filter does read.
"""

from __future__ import annotations

import errno
import functools
import tempfile

from genetic_instruct.errors import SandboxUnavailable

REFUSED = (
    # Keyrings: the caller's secrets; the sandbox also gets a fresh, empty session keyring.
    "keyctl", "add_key", "request_key",
    # Namespaces and mounts: a user namespace grants the right to mount a tmpfs that no
    # memory limit sees, and remounting would undo the read-only root.
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "mount_setattr",
    "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree",
    # Other processes' memory, and the kernel's attack surface.
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp",
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "open_by_handle_at", "name_to_handle_at",
    # The machine's, never a program's (root's only anyway, but no reason to ask).
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "reboot", "swapon", "swapoff", "syslog", "acct", "quotactl", "sethostname",
    "setdomainname", "settimeofday", "clock_settime", "adjtimex", "iopl", "ioperm",
    "vhangup", "lookup_dcookie",
)  # fmt: skip
# Memory no per-process limit sees, refused where no memory cgroup counts it (cgroup.py).
UNCOUNTED_MEMORY = ("memfd_create", "shmget")
CLONE_NAMESPACE_FLAGS = (
    0x00020000,  # CLONE_NEWNS
    0x02000000,  # CLONE_NEWCGROUP
    0x04000000,  # CLONE_NEWUTS
    0x08000000,  # CLONE_NEWIPC
    0x10000000,  # CLONE_NEWUSER
    0x20000000,  # CLONE_NEWPID
    0x40000000,  # CLONE_NEWNET
)


@functools.cache
def compiled_filter(memory_counted: bool) -> bytes:
    """The filter as a BPF program (struct sock_filter[]), for the launcher to install.

    `memory_counted`: a memory cgroup counts memfds and shared memory against the
    program's limit; without one they are refused too.
    """
    try:
        import pyseccomp as seccomp
    except (ImportError, RuntimeError) as exc:  # RuntimeError: no libseccomp.so found
        raise SandboxUnavailable(
            f"the sandbox's system-call filter needs libseccomp (Debian/Ubuntu: apt install "
            f"libseccomp2; Fedora: dnf install libseccomp) and pyseccomp: {exc}"
        ) from exc
    arch = seccomp.system_arch()
    refused = REFUSED if memory_counted else REFUSED + UNCOUNTED_MEMORY
    rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    for name in refused:
        if seccomp.resolve_syscall(arch, name) >= 0:  # some do not exist on every arch
            rules.add_rule(seccomp.ERRNO(errno.EPERM), name)
    for flag in CLONE_NAMESPACE_FLAGS:
        rules.add_rule(
            seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag)
        )
    if seccomp.resolve_syscall(arch, "clone3") >= 0:
        rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    with tempfile.TemporaryFile() as out:
        rules.export_bpf(out)
        out.seek(0)
        return out.read()


@functools.cache
def syscall_number(name: str) -> int:
    """This architecture's number for `name` (the launcher calls keyctl without libkeyutils)."""
    import pyseccomp as seccomp

    return int(seccomp.resolve_syscall(seccomp.system_arch(), name))
