"""Sandbox bootstrap: builds the cage around one check, then runs the judge inside it.

supervisor.py starts this file's source as ``python -I -S -c <source> <marshalled config, hex>`` (stdlib only: the
package is not importable there). It runs with the caller's privileges, so it is trusted code and never runs anything
untrusted itself. Steps: enter new namespaces when the kernel allows (pid, net, mount, ipc, uts; plus user when not
root), become non-dumpable (no process of the sandbox uid may ptrace it or read its memory), fork an init process
(pid 1 of the new pid namespace: when it exits, the kernel kills everything left inside), make the filesystem
read-only except the work dir, then fork the judge (see _judge.py): rlimits, drop root to an unprivileged uid,
no_new_privs, non-dumpable again, and run the judge's source in that process. The judge's exit status is passed up
unchanged as init's and the bootstrap's own, so the supervisor learns it from waitpid, which nothing in the sandbox can
forge. What it managed to set up goes back as length-prefixed marshal records on the private status pipe (marshal,
not json: importing json costs more than the rest of the start-up).
"""

from __future__ import annotations

import contextlib
import ctypes
import marshal
import os
import resource
import sys

TYPE_CHECKING = False  # typing is not imported at run time: it would add a third to the start-up
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NoReturn

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MNT_DETACH = 0x2

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
SIGKILL = 9  # Linux; the signal module would pull in enum

SYS_MOUNT_SETATTR = 442  # same number on x86_64 and aarch64 (syscalls numbered after 424 are shared)
AT_FDCWD = -100
AT_RECURSIVE = 0x8000
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2

SETUP_FAILED = 70  # exit statuses of the bootstrap itself; a judge's are 0 (passed) to 3, see _judge.py
JUDGE_FAILED = 71

_libc = ctypes.CDLL(None, use_errno=True)

# seccomp: syscall numbers per architecture (x86_64 also refuses the x32 range). Refused with EPERM.
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_ALWAYS_DENIED = {
    # ptrace, process_vm_readv, process_vm_writev, kcmp, pidfd_getfd, perf_event_open, bpf, userfaultfd,
    # unshare, setns, mount, keyctl
    "x86_64": (101, 310, 311, 312, 438, 298, 321, 323, 272, 308, 165, 250),
    "aarch64": (117, 270, 271, 272, 438, 241, 280, 282, 97, 268, 40, 219),
}
_SPAWN_DENIED = {"x86_64": (57, 58), "aarch64": ()}  # fork, vfork (aarch64 has only clone/clone3)
_CLONE = {"x86_64": 56, "aarch64": 220}
_CLONE3 = 435
_CLONE_THREAD = 0x00010000


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = [None if s is None else s.encode() for s in (source, target, fstype, data)]
    rc = _libc.mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), enc[3])
    _check(rc, f"mount {target}")


def _mount_setattr(path: str, attr_set: int, attr_clr: int) -> None:
    attr = _MountAttr(attr_set, attr_clr, 0, 0)
    rc = _libc.syscall(
        ctypes.c_long(SYS_MOUNT_SETATTR),
        ctypes.c_int(AT_FDCWD),
        ctypes.c_char_p(path.encode()),
        ctypes.c_uint(AT_RECURSIVE),
        ctypes.byref(attr),
        ctypes.c_size_t(ctypes.sizeof(attr)),
    )
    _check(rc, f"mount_setattr {path}")


def _prctl(option: int, value: int) -> None:
    _check(_libc.prctl(ctypes.c_int(option), ctypes.c_ulong(value), 0, 0, 0), f"prctl {option}")


class _Reporter:
    """Length-prefixed marshal records on the status pipe, each under PIPE_BUF so writers never interleave."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def send(self, **fields: Any) -> None:
        for key in ("error", "warning"):
            if key in fields:
                fields[key] = str(fields[key])[:1500]
        payload = marshal.dumps(fields, 4)
        with contextlib.suppress(OSError):
            os.write(self.fd, len(payload).to_bytes(4, "big") + payload)


def _seccomp_program(arch: str, allow_spawn: bool) -> list[tuple[int, int, int, int]]:
    """Classic BPF: (code, jt, jf, k) instructions over struct seccomp_data (nr at 0, arch at 4, args at 16)."""
    ld, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    allow, kill, eperm, enosys = 0x7FFF0000, 0x80000000, 0x00050000 | 1, 0x00050000 | 38
    prog = [(ld, 0, 0, 4), (jeq, 1, 0, _AUDIT_ARCH[arch]), (ret, 0, 0, kill), (ld, 0, 0, 0)]
    if arch == "x86_64":
        prog += [(jge, 0, 1, 0x40000000), (ret, 0, 0, eperm)]
    denied = _ALWAYS_DENIED[arch] + (() if allow_spawn else _SPAWN_DENIED[arch])
    for nr in denied:
        prog += [(jeq, 0, 1, nr), (ret, 0, 0, eperm)]
    if not allow_spawn:
        # glibc tries clone3 first and falls back to clone on ENOSYS; clone is allowed only for threads.
        prog += [(jeq, 0, 1, _CLONE3), (ret, 0, 0, enosys)]
        prog += [(jeq, 0, 4, _CLONE[arch]), (ld, 0, 0, 16), (jset, 0, 1, _CLONE_THREAD), (ret, 0, 0, allow)]
        prog += [(ret, 0, 0, eperm)]
    prog.append((ret, 0, 0, allow))
    return prog


def _install_seccomp(allow_spawn: bool) -> bool:
    """Load the filter in the judge's child, just before it execs the worker (no_new_privs is set already).

    execve stays allowed (that exec is how the worker starts): an exec'd program is still this process, under this
    filter, with no way to fork. False where the kernel or the architecture lacks seccomp.
    """
    arch = os.uname().machine
    if arch not in _AUDIT_ARCH:
        return False

    class SockFilter(ctypes.Structure):
        _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]

    prog = _seccomp_program(arch, allow_spawn)
    table = (SockFilter * len(prog))(*[SockFilter(*ins) for ins in prog])
    fprog = SockFprog(len(prog), table)
    pr_set_seccomp, seccomp_mode_filter = 22, 2
    return int(_libc.prctl(pr_set_seccomp, seccomp_mode_filter, ctypes.byref(fprog), 0, 0)) == 0


def _count_tasks(uid: int) -> int:
    """Tasks (threads count: RLIMIT_NPROC counts them) whose real uid is `uid`, for a relative process limit."""
    total = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status") as fh:
                text = fh.read()
        except OSError:
            continue
        real_uid, threads = -1, 1
        for line in text.splitlines():
            if line.startswith("Uid:"):
                real_uid = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
        if real_uid == uid:
            total += threads
    return total


def _enter_namespaces(root: bool, isolation: list[str]) -> bool:
    """unshare() the namespaces; False (and nothing changed) when the kernel or the container refuses."""
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    if not root:
        flags |= CLONE_NEWUSER
    uid, gid = os.getuid(), os.getgid()
    if _libc.unshare(ctypes.c_int(flags)) != 0:
        return False
    if not root:
        # Map only our own ids: inside, we are still an ordinary user (no capabilities after exec).
        try:
            with open("/proc/self/setgroups", "w") as fh:
                fh.write("deny")
            with open("/proc/self/uid_map", "w") as fh:
                fh.write(f"{uid} {uid} 1")
            with open("/proc/self/gid_map", "w") as fh:
                fh.write(f"{gid} {gid} 1")
        except OSError:
            pass  # the ids read as the overflow id inside; everything below still works or fails closed
        isolation.append("userns")
    isolation += ["pidns", "netns", "ipcns"]
    return True


def _setup_mounts(cfg: dict[str, Any]) -> list[str]:
    """In the new mount namespace: fresh /proc, interpreter made reachable, everything read-only but the work dir."""
    done: list[str] = []
    try:
        _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing we mount may propagate back to the host
    except OSError:
        return done
    done.append("mountns")
    try:
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        done.append("proc")
    except OSError:
        pass
    hidden = cfg.get("hidden_python")
    if hidden:
        # The interpreter lives under a directory the sandbox uid cannot search (e.g. /root/.pyenv): cover that
        # directory with an empty tmpfs and bind only the interpreter's prefix back at its own path (libpython is
        # found through an absolute RUNPATH, so the path must not change).
        try:
            _mount(hidden["prefix"], hidden["hold"], None, MS_BIND | MS_REC)
            _mount("tmpfs", hidden["cover"], "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
            os.makedirs(hidden["prefix"], mode=0o755, exist_ok=True)
            _mount(hidden["hold"], hidden["prefix"], None, MS_BIND | MS_REC)
            _libc.umount2(hidden["hold"].encode(), MNT_DETACH)
            done.append("python-bind")
        except OSError:
            pass
    work = cfg["work"]
    try:
        _mount(work, work, None, MS_BIND | MS_REC)
        _mount_setattr("/", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0)
        try:
            _mount_setattr(work, 0, MOUNT_ATTR_RDONLY)
        except OSError:
            _mount_setattr("/", 0, MOUNT_ATTR_RDONLY)  # a read-only work dir would break ordinary programs
            raise
        done.append("ro-root")
    except OSError:
        pass
    return done


def _set_limits(cfg: dict[str, Any], nproc: int) -> None:
    def cap(res: int, value: int, hard: int | None = None) -> None:
        _, cur_hard = resource.getrlimit(res)
        want_hard = value if hard is None else hard
        if cur_hard != resource.RLIM_INFINITY:
            want_hard = min(want_hard, cur_hard)
        resource.setrlimit(res, (min(value, want_hard), want_hard))

    cap(resource.RLIMIT_CORE, 0)
    cap(resource.RLIMIT_CPU, cfg["cpu_seconds"], cfg["cpu_seconds"] + 1)
    cap(resource.RLIMIT_AS, cfg["memory_bytes"])
    cap(resource.RLIMIT_NPROC, nproc)
    cap(resource.RLIMIT_FSIZE, cfg["max_file_bytes"])
    cap(resource.RLIMIT_NOFILE, cfg["max_open_files"])
    cap(resource.RLIMIT_MEMLOCK, 0)
    cap(resource.RLIMIT_MSGQUEUE, 0)


def _choose_python(cfg: dict[str, Any], mounts: list[str]) -> str:
    if cfg["python_ok"] or "python-bind" in mounts:
        return str(cfg["python"])
    if cfg.get("alt_python"):
        return str(cfg["alt_python"])
    raise OSError(f"the interpreter {cfg['python']} is not reachable by the sandbox user and no mount namespace")


def _start_judge(cfg: dict[str, Any], rep: _Reporter, python: str, nproc: int, fds: dict[str, int]) -> NoReturn:
    """In the forked child: limits, privilege drop, no_new_privs, non-dumpable, then the judge's main in-process.

    No exec: the judge is trusted code, and a forked copy of this process holds nothing secret (the nonce arrives
    on the job pipe, which the judge reads only after it has started the worker).
    """
    try:
        # Everything the judge imports, imported while our own interpreter's files are still readable (without a
        # mount namespace, the sandbox uid may not reach them) and before any untrusted code could touch a file.
        import _json  # noqa: F401
        import types  # noqa: F401

        os.chdir(cfg["work"])
        _set_limits(cfg, nproc)
        if os.geteuid() == 0 and cfg.get("uid") is not None:
            os.setgroups([])
            os.setgid(cfg["gid"])
            os.setuid(cfg["uid"])
            if os.geteuid() == 0 or os.getuid() == 0:
                raise OSError("privilege drop did not take")
        _prctl(PR_SET_NO_NEW_PRIVS, 1)  # no setuid binary can give privileges back
        _prctl(PR_SET_PDEATHSIG, SIGKILL)  # set after setuid: a credential change clears it
        _prctl(PR_SET_DUMPABLE, 0)  # after setuid too, which resets it from fs.suid_dumpable
        judge: dict[str, Any] = {"__name__": "llmatlas_judge", "__builtins__": __builtins__}
        exec(compile(cfg["judge"], "<llmatlas-judge>", "exec"), judge)
        judge_cfg = {key: cfg[key] for key in ("launcher", "worker", "wire")}
        judge_cfg.update(python=python, result_fd=fds["result"], job_fd=fds["job"], nodump=True)
        allow_spawn = bool(cfg["allow_subprocess"])
        judge_cfg["restrict"] = (lambda: _install_seccomp(allow_spawn)) if cfg["seccomp"] else None
        os.close(fds["status"])
    except BaseException as exc:
        rep.send(error=f"could not start the judge: {exc}")
        os._exit(JUDGE_FAILED)
    try:
        judge["main"](judge_cfg)
    except BaseException as exc:  # a bug of the judge: say so on stderr, never as a verdict
        with contextlib.suppress(BaseException):
            os.write(2, f"llmatlas sandbox: the judge failed: {type(exc).__name__}: {exc}\n".encode())
    os._exit(JUDGE_FAILED)


def _exit_code(wait_status: int) -> int:
    """A child's exit code, passed up as ours; a signal or anything odd becomes a failure code."""
    code = os.waitstatus_to_exitcode(wait_status)
    return code if 0 <= code < 128 else JUDGE_FAILED


def _run_init(cfg: dict[str, Any], rep: _Reporter, nproc: int, fds: dict[str, int]) -> NoReturn:
    """pid 1 of the new pid namespace; its exit makes the kernel kill every process left in the namespace."""
    try:
        _prctl(PR_SET_PDEATHSIG, SIGKILL)  # if the bootstrap is killed (wall timeout), we go too
        os.setsid()  # kill(0) / killpg(0) from inside then only reaches the namespace
        mounts = _setup_mounts(cfg)
        rep.send(isolation=mounts)
        python = _choose_python(cfg, mounts)
        status = _fork_and_wait(lambda: _start_judge(cfg, rep, python, nproc, fds), fds)
        rep.send(wait_status=status)
    except BaseException as exc:
        rep.send(error=f"sandbox init failed: {exc}")
        os._exit(SETUP_FAILED)
    os._exit(_exit_code(status))


def _fork_and_wait(child: Callable[[], NoReturn], fds: dict[str, int]) -> int:
    """Run ``child`` in a forked process, give up this side's ends of the job pipes (the child
    holds them now, and the judge must see EOF when it closes), and return its wait status."""
    pid = os.fork()
    if pid == 0:
        child()
    os.close(fds["result"])
    os.close(fds["job"])
    return os.waitpid(pid, 0)[1]


def _kill_all_as(uid: int, gid: int) -> None:
    """kill(-1) as the sandbox uid: reaches every process that uid still runs, whatever its session or group."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            os.kill(-1, SIGKILL)
        except BaseException:
            pass
        os._exit(0)
    os.waitpid(pid, 0)


def _private_fd(fd: int) -> int:
    """Move an inherited pipe above the low numbers the worker's channel uses, close-on-exec."""
    import fcntl

    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return new


def main() -> NoReturn:
    cfg: dict[str, Any] = marshal.loads(bytes.fromhex(sys.argv[1]))
    fds = {name: _private_fd(cfg["fds"][name]) for name in ("result", "job", "status")}
    rep = _Reporter(fds["status"])
    os.umask(0o022)
    try:
        root = os.geteuid() == 0
        isolation: list[str] = []
        drop_uid: int | None = cfg.get("uid") if root else None
        if drop_uid is not None:
            isolation.append("uid")
        count_uid = drop_uid if drop_uid is not None else os.getuid()
        relative = not (root and cfg.get("unique_uid"))
        nproc = cfg["max_processes"] + 2 + (_count_tasks(count_uid) if relative else 0)
        in_ns = bool(cfg["namespaces"]) and _enter_namespaces(root, isolation)
        _prctl(PR_SET_DUMPABLE, 0)  # after the uid_map writes, which a non-dumpable process may not make
        isolation.append(f"nproc={nproc}")
        rep.send(isolation=isolation)
        if in_ns:
            status = _fork_and_wait(lambda: _run_init(cfg, rep, nproc, fds), fds)
        else:
            python = _choose_python(cfg, [])
            status = _fork_and_wait(lambda: _start_judge(cfg, rep, python, nproc, fds), fds)
        if not in_ns:
            rep.send(wait_status=status)
        if drop_uid is not None and cfg.get("unique_uid") and not in_ns:
            # No pid namespace to collapse: whatever the uid still runs (setsid escapers included) dies now.
            # (With one, the kernel already did it, and fork() here would fail: the namespace's init is gone.)
            try:
                _kill_all_as(drop_uid, cfg["gid"])
                rep.send(cleaned=True)
            except OSError as exc:
                rep.send(warning=f"cleanup failed: {exc}")
    except BaseException as exc:
        rep.send(error=f"sandbox setup failed: {exc}")
        os._exit(SETUP_FAILED)
    os._exit(_exit_code(status))


if __name__ == "__main__":
    main()
