"""Child-side entry point: isolate, then hand the program to the harness.

The caller runs this file as `python -I -S -B _launcher.py JOB RESULT_FD CONTROL_FD
ADMIT_FD`: a
fresh interpreter that reads no environment variables and imports nothing from
site-packages. A script rather than subprocess's preexec_fn because the caller may run
sandboxes from a thread pool, and unshare(CLONE_NEWUSER) needs a single-threaded process;
here all setup happens in a process with one thread, before any untrusted code is loaded.

Three processes, one job each:

  launcher  Enters new mount, PID, IPC
            (SysV shared memory dies with the run) and (unless network="allow") network
            namespaces and
            builds the sandbox's root: a fresh tmpfs holding what the caller's plan lists
            (read-only binds of the interpreter, standard library and shared libraries,
            /dev/null, /dev/urandom; see rootfs.py), a private /dev/shm and a size-limited
            tmpfs as the scratch directory. Waits for the caller's word on ADMIT_FD that it
            has moved the launcher into the program's memory cgroup (cgroup.py; moving a
            process costs the kernel an RCU grace period, ~10 ms of waiting, which this
            overlaps with the launcher's start-up), so every process of the program is
            born inside it. Forks init and waits for it. The caller kills the
            launcher's process group if a run overruns.
  init      PID 1 of the new PID namespace and still trusted: mounts the namespace's own
            /proc, pivots into the new root and detaches the host's, forks the runner,
            enforces the wall clock, reports the runner's exit status and CPU time on the
            control pipe. Without a memory cgroup it also sums the resident memory of
            the namespace's processes every MEMORY_TICK_S and kills them all past the
            limit. When init exits the kernel kills everything left in the namespace,
            even processes that left the process group with setsid(), so no orphan
            survives.
  runner    Applies rlimits, drops privileges, takes a fresh and empty session keyring
            (the caller's holds its secrets), installs the caller's seccomp filter
            (syscalls.py), runs the harness.

Privileges. As root, the runner takes a uid of its own, the caller's uid_base + the
launcher's pid (unique among live sandboxes, so concurrent runs do not share RLIMIT_NPROC's count,
which the kernel keeps per uid and does not enforce for root at all), with no supplementary
groups; where the uid map cannot hold such a uid it uses nobody (65534). As an ordinary
user the launcher also enters a new user namespace that maps only its own uid, which grants
the right to mount there; the runner then drops every capability, so it cannot undo the
read-only mounts, and RLIMIT_NPROC counts the processes of that namespace (Linux >= 5.14),
launcher and init included, so the limit is raised by two for them.
If the platform refuses a namespace, a mount or the pivot, the launcher or init reports
"unavailable" and the caller raises SandboxUnavailable; nothing runs with less isolation
than asked for.

Why pivot_root into a built root, as bubblewrap, nsjail and container runtimes do, and
not the alternatives. Remounting the host's mounts read-only (what this file did before)
hides nothing: the code could read whatever its uid may, a user's ~/.ssh included. A
chroot into the same tree would leave the host's mounts in the namespace, visible in
/proc/self/mountinfo and reachable again by anything holding a directory descriptor from
outside; pivot_root followed by a detach of the old root removes them from the namespace
altogether. Landlock would need kernel >= 5.13 with the LSM enabled (often it is not) and
still shows the file tree; gVisor costs a separate runtime and tens of ms per program;
calling bwrap or nsjail would add a system dependency for what is about 60 lines here.

Linux only (namespaces, pidfd_open: Linux >= 5.3). Standard library only.
"""

from __future__ import annotations

import _signal  # the signal module imports enum: milliseconds per program for two constants
import ctypes
import marshal
import os
import resource
import select
import sys
import time

# typing costs ~18 ms per program; only type checkers need it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import NoReturn

# Imported now: this directory is not in the sandbox's root. Under -I the script's own
# directory is not on sys.path.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness  # noqa: E402

del sys.path[0]

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20, 0x1000, 0x4000, 0x40000
MNT_DETACH = 0x2
# A bind's remount replaces its flags; those the source mount has must be carried over,
# or the kernel refuses the remount (they are locked in a user namespace) or we would
# silently relax them. statvfs reports them; only relatime has another value as MS_*.
CARRIED_FLAGS = (
    (os.ST_NODEV, MS_NODEV),
    (os.ST_NOEXEC, MS_NOEXEC),
    (os.ST_NOATIME, 0x400),
    (os.ST_NODIRATIME, 0x800),
    (os.ST_RELATIME, 0x200000),
)
ROOT_TMPFS = "size=1m,mode=0755"  # holds only directories, symlinks and mount points
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_SECCOMP, PR_SET_NO_NEW_PRIVS = 1, 4, 22, 38
SECCOMP_MODE_FILTER = 2
KEYCTL_JOIN_SESSION_KEYRING = 1
# Each descriptor can pin memory that no limit sees (a pipe's buffer, a socket's queue);
# a generated program needs a handful.
OPEN_FILES = 256
MEMORY_TICK_S = 0.05  # how often init sums the program's memory when no cgroup does
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
LINUX_CAPABILITY_VERSION_3 = 0x20080522
NOBODY = 65534
SETUP_FAILED = 125  # a forked child's body raised: the sandbox's fault, not the program's
RESULTS_FD = 3  # where an exec'd harness writes its records (the Python harness: any fd)

_libc = ctypes.CDLL(None, use_errno=True)
# Flags are unsigned long: passed as plain ints, their upper 32 bits would be undefined.
_path, _flags = ctypes.c_char_p, ctypes.c_ulong
_libc.mount.argtypes = (_path, _path, _path, _flags, _path)
_libc.prctl.argtypes = (ctypes.c_int, _flags, _flags, _flags, _flags)


class _CapHeader(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _FilterProgram(ctypes.Structure):  # struct sock_fprog
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


def main() -> None:
    job_path, result_fd, control_fd, admit_fd = sys.argv[1], *map(int, sys.argv[2:5])
    job = _take_job(job_path)
    try:
        _isolate(job)
        _build_root(job["root"], job)
        # Opened now: init's pivot takes the host's tree from this namespace.
        work_fd = os.open(job["root"] + job["workdir"], os.O_RDONLY | os.O_DIRECTORY)
        out_fd = os.open(job["out"], os.O_RDONLY | os.O_DIRECTORY) if job["collect"] else -1
    except OSError as exc:
        _send(control_fd, f"unavailable {exc}")
        os._exit(1)
    if os.read(admit_fd, 1) != b"1":  # the caller could not place us: nothing may run
        os._exit(1)
    os.close(admit_fd)
    init = os.fork()
    if init == 0:
        # Above all out_fd: a directory of the host's tree, which the program must never hold.
        for fd in (work_fd, out_fd):
            if fd >= 0:
                os.close(fd)
        _as_child(_run_init, job, result_fd, control_fd)
    os.close(result_fd)
    os.close(control_fd)
    # init's exit ends the PID namespace: every process of the program is gone when
    # waitpid returns, so nothing writes to the scratch while it is collected.
    os.waitpid(init, 0)
    if job["collect"]:
        _collect(job["collect"], work_fd, out_fd, job["collect_bytes"])
    os._exit(0)


def _collect(names: list[str], work_fd: int, out_fd: int, budget: int) -> None:
    """Copy what the program left under `names` in its scratch (a build's output: a
    file, or a flat directory of files) to the caller's folder, up to `budget` bytes.

    The scratch is the program's: nothing in it is followed (no links, no devices, no
    nested directories), so a link planted there cannot make this trusted process read
    or write anything else.
    """
    for name in names:
        try:
            source = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=work_fd)
        except OSError:
            continue  # the build failed and left nothing: the caller reads its exit
        try:
            if _is_dir(source):
                os.mkdir(name, 0o700, dir_fd=out_fd)
                inner = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=out_fd)
                for child in sorted(os.listdir(source)):
                    budget = _copy_file(source, child, inner, budget)
                os.close(inner)
            else:
                budget = _copy_open(source, name, out_fd, budget)
        finally:
            os.close(source)


def _is_dir(fd: int) -> bool:
    return (os.fstat(fd).st_mode & 0o170000) == 0o040000


def _copy_file(dir_fd: int, name: str, out_fd: int, budget: int) -> int:
    try:
        source = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError:
        return budget
    try:
        return _copy_open(source, name, out_fd, budget)
    finally:
        os.close(source)


def _copy_open(source: int, name: str, out_fd: int, budget: int) -> int:
    """Copy one regular file, keeping whether it is executable; the rest of the budget."""
    status = os.fstat(source)
    if (status.st_mode & 0o170000) != 0o100000 or status.st_size > budget:
        return budget
    mode = 0o700 if status.st_mode & 0o100 else 0o600
    target = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode, dir_fd=out_fd)
    try:
        copied = 0
        while copied < status.st_size:
            chunk = os.read(source, min(1 << 20, status.st_size - copied))
            if not chunk:
                break
            os.write(target, chunk)
            copied += len(chunk)
    finally:
        os.close(target)
    return budget - copied


def _as_child(body: Callable[..., None], *args: object) -> NoReturn:
    """Run a forked child's body, which must never return into its parent's code."""
    try:
        body(*args)
    except BaseException as exc:
        os.write(2, f"sandbox {body.__name__} failed: {exc!r}\n".encode())
    os._exit(SETUP_FAILED)


def _take_job(path: str) -> dict:
    """Read the job and delete it before anything untrusted runs: it holds the nonce."""
    with open(path, "rb") as file:
        job = marshal.load(file)
    os.unlink(path)
    job["rootless"] = os.geteuid() != 0
    job["uid"], job["gid"] = _sandbox_ids(job["rootless"], job["uid_base"])
    return job


def _sandbox_ids(rootless: bool, uid_base: int) -> tuple[int, int]:
    if rootless:
        return os.getuid(), os.getgid()
    uid = uid_base + os.getpid()
    return (uid, uid) if _uid_mapped(uid) else (NOBODY, NOBODY)


def _uid_mapped(uid: int) -> bool:
    """In a container's user namespace only part of the uid range may exist."""
    with open("/proc/self/uid_map") as file:
        for line in file:
            inside, _outside, count = map(int, line.split())
            if inside <= uid < inside + count:
                return True
    return False


def _isolate(job: dict) -> None:
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC
    flags |= CLONE_NEWNET if job["isolate_network"] else 0
    flags |= CLONE_NEWUSER if job["rootless"] else 0
    _check(_libc.unshare(flags), "unshare")
    if job["rootless"]:
        _map_own_ids(job["uid"], job["gid"])
    # Private first, so nothing mounted below propagates back to the host.
    _mount(None, "/", None, MS_REC | MS_PRIVATE)


def _build_root(root: str, job: dict) -> None:
    """Lay out the new root at `root` (a host path, mounted only in this namespace) as the
    caller's plan says, one system call per entry, then make it read-only."""
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, ROOT_TMPFS)
    limited = f"size={job['file_size_mb']}m"
    for kind, path, *target in job["root_plan"]:
        inside = root + path
        if kind == "dir":
            os.mkdir(inside, 0o755)
        elif kind == "file":
            os.close(os.open(inside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        elif kind == "symlink":
            os.symlink(target[0], inside)
        elif kind in ("bind", "device"):
            _bind(path, inside, read_only=kind == "bind")
        elif kind == "mask":
            _mount("tmpfs", inside, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k")
        elif kind == "shm":  # multiprocessing's locks; a private one, as small as the scratch
            _mount("tmpfs", inside, "tmpfs", MS_NOSUID | MS_NODEV, f"{limited},mode=1777")
    # The program's cwd: a fresh temporary directory's path, so it cannot collide above.
    os.makedirs(root + job["workdir"], 0o755)
    owned = f"{limited},mode=0700,uid={job['uid']},gid={job['gid']}"
    _mount("tmpfs", root + job["workdir"], "tmpfs", MS_NOSUID | MS_NODEV, owned)
    # Read-only last: rootless, the root tmpfs belongs to the sandbox's own uid.
    _mount(None, root, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _bind(source: str, target: str, read_only: bool) -> None:
    """Bind one host file or directory (not what is mounted below it), read-only unless
    it is a device node, then carry the source mount's locked flags over."""
    _mount(source, target, None, MS_BIND)
    flags = MS_REMOUNT | MS_BIND | MS_NOSUID | (MS_RDONLY | MS_NODEV if read_only else 0)
    carried = os.statvfs(target).f_flag
    for statvfs_flag, mount_flag in CARRIED_FLAGS:
        flags |= mount_flag if carried & statvfs_flag else 0
    _mount(None, target, None, flags)


def _enter_root(root: str, pivot_root: int) -> None:
    """Mount this PID namespace's /proc, make `root` the root and detach the host's.

    Runs in init: a proc mount shows the PID namespace of the process that mounts it.
    pivot_root(".", ".") stacks the old root on the new one, and the detach removes it,
    as pivot_root(2) describes.
    """
    _mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.chdir(root)
    _check(_libc.syscall(ctypes.c_long(pivot_root), b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "detach the host's root")
    os.chdir("/")


def _map_own_ids(uid: int, gid: int) -> None:
    maps = (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1"))
    for name, text in maps:
        with open(f"/proc/self/{name}", "w") as file:
            file.write(text)


def _mount(
    source: str | None, target: str | bytes, fstype: str | None, flags: int, data: str | None = None
) -> None:
    result = _libc.mount(_bytes(source), _bytes(target), _bytes(fstype), flags, _bytes(data))
    _check(result, f"mount {os.fsdecode(target)}")


def _bytes(value: str | bytes | None) -> bytes | None:
    return os.fsencode(value) if isinstance(value, str) else value


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _run_init(job: dict, result_fd: int, control_fd: int) -> None:
    # If the launcher dies, init dies, and with it the namespace.
    _libc.prctl(PR_SET_PDEATHSIG, _signal.SIGKILL, 0, 0, 0)
    # Not ptrace-able by the runner, which keeps the same uid when rootless.
    _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    try:
        _enter_root(job["root"], job["syscalls"]["pivot_root"])
    except OSError as exc:
        _send(control_fd, f"unavailable {exc}")
        raise
    runner = os.fork()
    if runner == 0:
        os.close(control_fd)
        _as_child(_run_sandboxed, job, result_fd)
    os.close(result_fd)
    try:
        budget = None if job["memory_cgroup"] else job["memory_mb"] * 1024 * 1024
        status, cpu_s, timed_out, over_memory = _wait(runner, job["wall_seconds"], budget)
    except OSError as exc:  # pidfd_open needs Linux >= 5.3; our exit kills the runner
        _send(control_fd, f"unavailable {exc}")
        raise
    _send(control_fd, f"exit {status} {cpu_s!r} {int(timed_out)} {int(over_memory)}")
    os._exit(0)


def _wait(pid: int, seconds: float, budget: int | None) -> tuple[int, float, bool, bool]:
    """Wait for the runner up to the wall limit, killing it past that; with a memory
    `budget` (bytes), kill every process of the namespace once their resident memory
    together passes it. (wait status, CPU seconds, timed out, over memory)"""
    pidfd = os.pidfd_open(pid)
    deadline = time.monotonic() + seconds
    over_memory = ended = False
    while not ended and (remaining := deadline - time.monotonic()) > 0:
        tick = remaining if budget is None else min(remaining, MEMORY_TICK_S)
        ended = bool(select.select([pidfd], [], [], tick)[0])
        if not ended and budget is not None and _resident_bytes() > budget:
            os.kill(-1, _signal.SIGKILL)  # from PID 1: every process of the namespace but us
            over_memory = True
            break
    if not ended:
        os.kill(pid, _signal.SIGKILL)
    _, status, usage = os.wait4(pid, 0)
    return status, usage.ru_utime + usage.ru_stime, not ended and not over_memory, over_memory


def _resident_bytes() -> int:
    """Resident memory of every process in this PID namespace but init: what /proc shows
    here, since init mounted the namespace's own. Pages shared after a fork count once per
    process, which errs on the side of the limit."""
    total = 0
    for name in os.listdir("/proc"):
        if name.isdigit() and name != "1":
            try:
                with open(f"/proc/{name}/statm", "rb") as file:
                    total += int(file.read().split()[1])
            except (OSError, IndexError, ValueError):  # it exited meanwhile
                pass
    return total * PAGE_SIZE


def _run_sandboxed(job: dict, result_fd: int) -> None:
    os.chdir(job["workdir"])
    _apply_limits(job)
    _drop_privileges(job)
    if job["kind"] == "exec":
        try:
            _write_files(job.pop("files"))
            _confine(job)
        except Exception as exc:  # nothing of the program ran yet: the sandbox's fault
            _unavailable(job["nonce"], result_fd, f"cannot set up the program: {exc!r}")
        _exec(job, result_fd)
    _confine(job)
    sys.argv[:] = ["solution.py"]
    os.set_inheritable(result_fd, False)  # programs the solution execs get no channel
    report = _harness.make_reporter(result_fd, job.pop("nonce"))
    _harness.run(job.pop("solution"), job.pop("tests"), report)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # the solution may have replaced or closed it
            pass
    # Skips atexit handlers and non-daemon threads the solution left behind.
    os._exit(0)


def _write_files(files: list) -> None:
    """The program's files (sources, or a build's output), owned by the sandbox's uid."""
    for name, data, mode in files:
        folder = os.path.dirname(name)  # a build's output folder (Java's classes/)
        if folder and not os.path.isdir(folder):
            os.mkdir(folder, 0o700)
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)


def _exec(job: dict, result_fd: int) -> NoReturn:
    """Become the job's program (a compiler, or a built program and its harness).

    A harness writes its records to RESULTS_FD and reads this run's nonce from the file
    the caller put among its files; a compiler gets no channel. If the program cannot be
    started (a toolchain file missing from the root), that is the sandbox's fault, said
    on the channel as "unavailable".
    """
    argv = job["argv"]
    # Temporary files and a home in the scratch, as for Python (the runner's own env).
    env = {"HOME": job["workdir"], "TMPDIR": job["workdir"], **job["env"]}
    os.set_inheritable(result_fd, False)
    if job["results"] and result_fd == RESULTS_FD:
        os.set_inheritable(RESULTS_FD, True)
    elif job["results"]:
        os.dup2(result_fd, RESULTS_FD)  # inheritable: the one descriptor the program gets
    try:
        os.execve(argv[0], argv, env)
    except OSError as exc:
        _unavailable(job["nonce"], result_fd, f"cannot start {argv[0]}: {exc}")


def _unavailable(nonce: str, result_fd: int, why: str) -> NoReturn:
    """Say on the records channel that the sandbox, not the program, failed; then end."""
    os.write(result_fd, f"{nonce} unavailable 0 {why}\n".encode("utf-8", "replace"))
    os._exit(SETUP_FAILED)


def _apply_limits(job: dict) -> None:
    cpu = int(-(-job["cpu_seconds"] // 1))  # the kernel counts whole seconds; round up
    megabyte = 1024 * 1024
    # Rootless, the count is per user namespace and so includes the launcher and init.
    processes = job["max_processes"] + (2 if job["rootless"] else 0)
    address_space = job["address_space_mb"] * megabyte
    limits = (
        (resource.RLIMIT_CPU, cpu, cpu + 1),  # SIGXCPU at the limit, SIGKILL a second later
        (resource.RLIMIT_AS, address_space, address_space),
        (resource.RLIMIT_FSIZE, job["file_size_mb"] * megabyte, job["file_size_mb"] * megabyte),
        (resource.RLIMIT_NPROC, processes, processes),
        (resource.RLIMIT_CORE, 0, 0),
        (resource.RLIMIT_NOFILE, OPEN_FILES, OPEN_FILES),
    )
    for which, soft, hard in limits:
        resource.setrlimit(which, (soft, hard))


def _drop_privileges(job: dict) -> None:
    if job["rootless"]:
        _drop_capabilities()
    else:
        uid, gid = job["uid"], job["gid"]
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)  # leaving uid 0 clears every capability
    # Setuid binaries and file capabilities grant nothing from here on.
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")


def _confine(job: dict) -> None:
    """A fresh session keyring, then the filter: the last steps before untrusted code.

    Joining an anonymous session keyring leaves the caller's (inherited across fork and
    exec, holding its tokens) out of reach even by its id; the filter then refuses keyctl
    and its kin altogether, the user keyring included. Needs PR_SET_NO_NEW_PRIVS, set by
    _drop_privileges, to install the filter without privileges.
    """
    # Where the platform itself refuses keyctl (Docker's default profile), no keyring is
    # reachable from here at all, and the filter below refuses it again: nothing to check.
    _libc.syscall(ctypes.c_long(job["syscalls"]["keyctl"]), KEYCTL_JOIN_SESSION_KEYRING, None)
    program = job.pop("seccomp")
    code = ctypes.create_string_buffer(program, len(program))
    fprog = _FilterProgram(len(program) // 8, ctypes.cast(code, ctypes.c_void_p))
    _check(
        _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0),
        "prctl(PR_SET_SECCOMP)",
    )


def _drop_capabilities() -> None:
    header = _CapHeader(LINUX_CAPABILITY_VERSION_3, 0)
    nothing = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable; two words each
    _check(_libc.capset(ctypes.byref(header), nothing), "capset")


def _send(fd: int, text: str) -> None:
    os.write(fd, text.encode("utf-8", "replace") + b"\n")


if __name__ == "__main__":
    main()
