"""Sandbox worker: runs the untrusted program and serves its top-level names to the judge. It decides nothing.

The judge forks this process, installs the seccomp filter (see _bootstrap.py: ptrace, process_vm_readv/writev,
pidfd_getfd and friends refused; fork refused unless subprocesses are allowed) and execs this file in a fresh
interpreter (``python -I -S -c <launcher> <this> <wire source>``) before it has read the job, so no copy of the
nonce or the verdict pipe ever exists in this process. Start-up, before any untrusted code runs: read the program
from the judge, compile, install the audit hook (network, writes outside the work dir, other processes), then run
the program.
Afterwards every request of the judge (call a function, read an attribute, compare...) is applied here and its
result goes back through the wire codec: plain data by value, anything else as a handle.

Everything in this process is reachable by the program, and that is fine: the worst it can do is send wrong
answers, and the judge parses them as data.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing is not imported at run time: it costs more than the rest of the start-up
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NoReturn

FROM_JUDGE = 3
TO_JUDGE = 4
_MAX_TRACEBACK = 4000
# Globals larger than this cross as handles (the test reads what it needs through them), not by value.
_BY_VALUE_MAX = 10_000
_SIZED = (str, bytes, bytearray, list, tuple, dict, set, frozenset)
_PROGRAM = [""]  # the source, for the program-side tracebacks

_SPAWN = frozenset(
    {"os.fork", "os.forkpty", "os.posix_spawn", "os.spawn", "os.exec", "os.system", "subprocess.Popen", "pty.spawn"}
)
_DENY = frozenset({"os.killpg", "resource.prlimit", "sqlite3.enable_load_extension", "sqlite3.load_extension"})
_DENY |= frozenset({"webbrowser.open"})
# Events whose first argument is a path the program wants to change without following a final symlink.
_PATH_NOFOLLOW = frozenset(
    {"os.remove", "os.rmdir", "os.mkdir", "os.mkfifo", "os.mknod", "shutil.rmtree", "tempfile.mkdtemp"}
)
# Events whose first argument is a path whose target (symlinks followed) would change.
_PATH_FOLLOW = frozenset(
    {
        "os.chmod",
        "os.chown",
        "os.utime",
        "os.truncate",
        "os.setxattr",
        "os.removexattr",
        "os.chflags",
        "os.lchflags",
        "os.lchmod",
        "shutil.chown",
        "tempfile.mkstemp",
    }
)
# Events with (src, dst, ...): which argument positions must stay inside the work dir.
_TWO_PATHS = {
    "os.rename": (0, 1),
    "os.link": (0, 1),
    "shutil.move": (0, 1),
    "os.symlink": (1,),
    "shutil.copyfile": (1,),
    "shutil.copymode": (1,),
    "shutil.copystat": (1,),
    "shutil.copytree": (1,),
}
_WRITE_OK = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr"})


class SandboxDenied(PermissionError):
    """Raised by the audit hook for an operation the sandbox refuses."""


def _make_hook(work: str, allow_spawn: bool) -> Callable[[str, tuple[Any, ...]], None]:
    """The audit hook; every helper it needs is bound now, so later monkeypatching of os/posixpath cannot bend it.

    It no longer guards frames, gc or signal handlers: this process holds nothing the verdict depends on.
    """
    import posix

    lstat, readlink, getcwd, getpid, fspath, fsdecode = (
        posix.lstat,
        posix.readlink,
        posix.getcwd,
        posix.getpid,
        posix.fspath,
        os.fsdecode,
    )
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
    af_unix = 1  # socket.AF_UNIX on Linux, without importing socket

    def deny(what: str) -> NoReturn:
        raise SandboxDenied(f"sandbox: {what} is not allowed")

    def text(path: Any, dir_fd: Any = None) -> str:
        raw = fspath(path)
        p = raw if isinstance(raw, str) else fsdecode(raw)
        if not p.startswith("/"):
            relative_to_fd = isinstance(dir_fd, int) and dir_fd >= 0  # unset dir_fd arrives as None or -1
            base = readlink(f"/proc/self/fd/{dir_fd}") if relative_to_fd else getcwd()
            p = base + "/" + p
        return p

    def resolve(p: str, follow_last: bool = True) -> str:
        """realpath() built from C functions only; components that do not exist yet are kept as written."""
        pending = [c for c in p.split("/") if c][::-1]
        out: list[str] = []
        hops = 0
        while pending:
            comp = pending.pop()
            if comp == ".":
                continue
            if comp == "..":
                if out:
                    out.pop()
                continue
            cand = "/" + "/".join([*out, comp])
            if not pending and not follow_last:
                out.append(comp)
                break
            try:
                st = lstat(cand)
            except (OSError, ValueError):
                out.append(comp)
                continue
            if (st.st_mode & 0o170000) == 0o120000:
                hops += 1
                if hops > 40:
                    deny("a symlink loop")
                target = readlink(cand)
                if target.startswith("/"):
                    out = []
                pending.extend([c for c in target.split("/") if c][::-1])
                continue
            out.append(comp)
        return "/" + "/".join(out)

    def inside(p: str) -> bool:
        return p == work or p.startswith(work + "/")

    def check_proc(p: str) -> None:
        parts = p.split("/")
        if len(parts) < 3 or parts[1] != "proc":
            return
        if parts[2].isdigit() and parts[2] != str(getpid()):
            deny("reading another process's /proc entry")

    def check_write(path: Any, follow_last: bool, dir_fd: Any = None, what: str = "writing") -> None:
        if isinstance(path, int):
            return
        p = text(path, dir_fd)
        if p in _WRITE_OK:
            return
        if not inside(resolve(p, follow_last)):
            deny(f"{what} outside the work dir ({p})")

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            path, mode, flags = [*args, None, None, None][:3]
            if path is None or isinstance(path, int):
                return
            check_proc(resolve(text(path)))
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & write_flags
            )
            if writing:
                check_write(path, True)
            return
        if event == "socket.__new__" and len(args) > 1 and args[1] == af_unix:
            return  # socketpair() (asyncio's self-pipe); connect/bind/sendto stay refused for every family
        if event.startswith(("socket.", "ctypes.")):
            deny(f"{event} (no network, no ctypes)")
        if event in _SPAWN:
            if not allow_spawn:
                deny(f"{event} (no child processes)")
            return
        if event == "os.kill":
            if args[0] != getpid():
                deny("signalling another process")
            return
        if event in _DENY:
            deny(event)
        if event in _PATH_NOFOLLOW:
            dir_fd = args[-1] if event in ("os.remove", "os.rmdir", "os.mkdir", "shutil.rmtree") else None
            check_write(args[0], False, dir_fd, event)
            return
        if event in _PATH_FOLLOW:
            check_write(args[0], True, None, event)
            return
        if event in _TWO_PATHS:
            for i in _TWO_PATHS[event]:
                check_write(args[i], False, None, event)
            return
        if event == "sqlite3.connect":
            db = args[0] if args else ""
            if db not in ("", ":memory:", b"", b":memory:"):
                check_write(db, True, None, event)

    return hook


def _call(fn: Any, /, *args: Any, **kwargs: Any) -> Any:
    return fn(*args, **kwargs)


def _operations() -> dict[str, Callable[..., Any]]:
    """What the judge may ask for: the operations its proxies forward (see Remote in _judge.py)."""
    import operator

    ops: dict[str, Callable[..., Any]] = {
        "call": _call,
        "getattr": getattr,
        "setattr": setattr,
        "delattr": delattr,
        "len": len,
        "iter": iter,
        "next": next,
        "bool": bool,
        "repr": repr,
        "str": str,
        "hash": hash,
        "int": int,
        "float": float,
        "index": operator.index,
        "contains": operator.contains,
        "abs": abs,
    }
    binary = ["getitem", "setitem", "delitem", "eq", "ne", "lt", "le", "gt", "ge", "add", "sub", "mul", "truediv"]
    binary += ["floordiv", "mod", "pow", "matmul", "neg", "pos", "invert", "and_", "or_", "xor", "lshift", "rshift"]
    for name in binary:
        ops[name] = getattr(operator, name)
    return ops


def _exception(exc: BaseException) -> dict[str, Any]:
    """An exception as data: its type name, its message, and the program-side traceback for the log."""
    name = type(exc).__name__
    try:
        message = str(exc)
    except BaseException:
        message = "<unprintable>"
    tb = ""
    try:
        import linecache
        import traceback

        linecache.cache["<program>"] = (len(_PROGRAM[0]), None, _PROGRAM[0].splitlines(True), "<program>")
        frames = exc.__traceback__
        while frames is not None and frames.tb_frame.f_code.co_filename != "<program>":
            frames = frames.tb_next  # the worker's own frames say nothing about the program
        tb = "".join(traceback.format_exception(type(exc), exc, frames))[-_MAX_TRACEBACK:]
    except BaseException:
        pass
    if isinstance(exc, SystemExit):
        return {"exit": repr(exc.code)[:200], "traceback": tb}
    kind = "error" if isinstance(exc, Exception) else "fatal"
    return {kind: [str(name)[:200], str(message)[:2000]], "traceback": tb}


def main() -> NoReturn:
    import builtins
    import posix
    import types

    wire_source = sys.argv.pop(1)
    wire = types.ModuleType("llmatlas_sandbox_wire")
    wire.__dict__["__builtins__"] = dict(vars(builtins))  # private: the program may patch the builtins module
    exec(compile(wire_source, "<llmatlas-wire>", "exec"), wire.__dict__)
    send, recv, encode, decode = wire.send, wire.recv, wire.encode, wire.decode
    exit_ = posix._exit

    handles: list[object] = []

    def register(obj: object) -> int:
        handles.append(obj)
        return len(handles) - 1

    def lookup(i: int) -> object:
        if not 0 <= i < len(handles):
            raise wire.ProtocolError(f"unknown handle {i}")
        return handles[i]

    streams = (sys.stdout, sys.stderr)

    def reply(message: dict[str, Any]) -> None:
        # What the program printed goes out before the judge can end this process (it kills it before the verdict).
        for stream in (*streams, sys.stdout, sys.stderr):
            try:  # noqa: SIM105 - contextlib would add to the worker's start-up
                stream.flush()
            except BaseException:
                pass
        try:
            send(TO_JUDGE, message)
        except wire.ProtocolError as exc:
            send(TO_JUDGE, {"error": ["ValueError", f"the result cannot be returned: {exc}"], "traceback": ""})

    try:
        job = recv(FROM_JUDGE)
    except BaseException:
        exit_(4)
    allow_spawn = bool(job["allow_subprocess"])
    _PROGRAM[0] = job["program"]
    try:
        code = compile(job["program"], "<program>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        where = f" in <program> line {exc.lineno}" if isinstance(exc, SyntaxError) else " in <program>"
        send(TO_JUDGE, {"syntax": f"{type(exc).__name__}: {getattr(exc, 'msg', exc)}{where}"})
        exit_(0)
    ops = _operations()
    if job["audit"]:
        sys.addaudithook(_make_hook(os.path.realpath(os.getcwd()), allow_spawn))
    namespace: dict[str, Any] = {"__name__": "__sandbox__", "__builtins__": builtins}
    try:
        exec(code, namespace)
    except BaseException as exc:
        reply({**_exception(exc), "stage": "program"})
    else:
        names = []
        for name, value in list(namespace.items()):
            if not (name.startswith("__") and name.endswith("__")):
                big = isinstance(value, _SIZED) and len(value) > _BY_VALUE_MAX  # a table of a million primes
                names.append([name, {"h": register(value)} if big else encode(value, register)])
        reply({"ok": names})
    while True:
        try:
            request = recv(FROM_JUDGE)
        except BaseException:
            exit_(0)  # the judge is done (or gone)
        try:
            op = ops[request["op"]]
            args = [decode(a, lookup) for a in request["args"]]
            kwargs = {str(k): decode(v, lookup) for k, v in request["kwargs"]}
            result = op(*args, **kwargs)
            message: dict[str, Any] = {"ok": encode(result, register)}
        except BaseException as exc:
            message = _exception(exc)
        reply(message)


if __name__ == "__main__":
    main()
