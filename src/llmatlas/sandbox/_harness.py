"""Sandbox harness: the only code that can declare a pass, running in the same process as the untrusted program.

The bootstrap execs ``python -I -S -c <launcher> <this source>``; the launcher runs this source in a private globals
dict with a private copy of the builtins, so nothing here is reachable by name from the program. Before any untrusted
code runs, the harness reads the job (nonce, program, test) from an inherited pipe and closes it, keeps in local
variables every function it needs afterwards, and installs an audit hook (audit hooks cannot be removed) that refuses
network, signals to other processes, process creation, writes outside the work dir and the usual ways to reach this
frame. Only after check() returns does it write "<nonce> passed" to the verdict pipe, then it leaves with os._exit so
that no atexit handler, finaliser or stray thread runs after it. A forked copy never writes a verdict.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing is not imported at run time: it costs more than the rest of the harness start-up
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NoReturn

RESULT_FD = 3
JOB_FD = 4
_MAX_DETAIL = 300

_FAST_ALLOW = frozenset(
    {"builtins.id", "exec", "compile", "import", "marshal.loads", "marshal.dumps", "os.listdir", "os.scandir"}
)
_SPAWN = frozenset(
    {"os.fork", "os.forkpty", "os.posix_spawn", "os.spawn", "os.exec", "os.system", "subprocess.Popen", "pty.spawn"}
)
_DENY = frozenset(
    {
        "sys._current_frames",
        "sys._current_exceptions",
        "sys.settrace",
        "sys.setprofile",
        "gc.get_objects",
        "gc.get_referrers",
        "gc.get_referents",
        "os.killpg",
        "resource.prlimit",
        "sqlite3.enable_load_extension",
        "sqlite3.load_extension",
        "webbrowser.open",
    }
)
_FRAME_ATTRS = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame"})
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


class FrameAccessDenied(SandboxDenied, ValueError):
    """Also a ValueError, so stdlib code that probes sys._getframe (namedtuple, enum, typing) degrades quietly."""


def _one_line(text: str) -> str:
    text = text.replace("\r", " ").replace("\n", " ").strip()
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 3] + "..."


def _describe(exc: BaseException) -> str:
    name = type(exc).__name__
    if isinstance(exc, SystemExit):
        return f"exit before verdict (SystemExit: {exc.code!r})"
    try:
        msg = str(exc)
    except BaseException:
        msg = "<unprintable>"
    if type(msg) is not str or type(name) is not str:
        return "<unprintable exception>"
    return f"{name}: {msg}" if msg else name


def _make_hook(work: str, allow_spawn: bool, frames_allowed: list[bool]) -> Callable[[str, tuple[Any, ...]], None]:
    """The audit hook; every helper it needs is bound now, so later monkeypatching of os/posixpath cannot bend it."""
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
        me = str(getpid())
        if parts[2].isdigit() and parts[2] != me:
            deny("reading another process's /proc entry")
        if "mem" in parts[3:]:
            deny("reading process memory")

    def check_write(path: Any, follow_last: bool, dir_fd: Any = None, what: str = "writing") -> None:
        if isinstance(path, int):
            return
        p = text(path, dir_fd)
        if p in _WRITE_OK:
            return
        if not inside(resolve(p, follow_last)):
            deny(f"{what} outside the work dir ({p})")

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event in _FAST_ALLOW:
            return
        if event == "open":
            path, mode, flags = [*args, None, None, None][:3]
            if path is None or isinstance(path, int):
                return
            p = text(path)
            check_proc(resolve(p))
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
        if event == "sys._getframe":
            if not frames_allowed[0]:
                raise FrameAccessDenied("sandbox: frame introspection is not allowed")
            return
        if event == "object.__getattr__":
            if len(args) > 1 and args[1] in _FRAME_ATTRS and not frames_allowed[0]:
                raise FrameAccessDenied("sandbox: frame introspection is not allowed")
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


def _log_traceback(exc: BaseException, stream: Any, sources: dict[str, str]) -> None:
    """Traceback for stderr, after the verdict; imported late because traceback pulls in re, tokenize, enum."""
    import linecache
    import traceback

    for name, source in sources.items():
        linecache.cache[name] = (len(source), None, source.splitlines(keepends=True), name)
    traceback.print_exception(exc, file=stream)


def _guard_signal_handlers() -> None:
    """A Python signal handler receives the interrupted frame; refuse them (SIG_DFL / SIG_IGN stay allowed).

    The refusal is a ValueError too, which is what asyncio.run expects where signals are unavailable.
    """
    _signal: Any = __import__("_signal")  # the C module; signal.signal() calls through it
    env: dict[str, Any] = {"__builtins__": {"type": type, "int": int}, "_real": _signal.signal}
    env["Denied"] = FrameAccessDenied
    code = (
        "def signal(signalnum, handler):\n"
        "    if type(handler) is not int:\n"
        "        raise Denied('sandbox: Python signal handlers are not allowed')\n"
        "    return _real(signalnum, handler)\n"
    )
    exec(code, env)
    _signal.signal = env["signal"]


def _read_job() -> dict[str, Any]:
    import marshal  # built in: json would pull in re and enum, a third of the start-up time

    chunks = []
    while True:
        data = os.read(JOB_FD, 1 << 16)
        if not data:
            break
        chunks.append(data)
    os.close(JOB_FD)
    job: dict[str, Any] = marshal.loads(b"".join(chunks))
    return job


def main() -> NoReturn:
    import builtins
    import posix

    write, exit_, getpid = posix.write, posix._exit, posix.getpid
    out, err = sys.stdout, sys.stderr
    flush_out, flush_err = out.flush, err.flush
    pristine = dict(vars(builtins))

    job = _read_job()
    os.set_inheritable(RESULT_FD, False)  # children and exec'd programs do not get the verdict pipe
    nonce: str = job["nonce"]
    me = getpid()
    frames_allowed = [False]

    def finish(status: str, detail: str, exc: BaseException | None = None) -> NoReturn:
        if getpid() != me:  # a forked copy of the harness never gets a say
            exit_(3)
        write(RESULT_FD, f"{nonce} {status} {_one_line(detail)}\n".encode("utf-8", "replace"))
        frames_allowed[0] = True  # the verdict is written; let traceback walk the frames for the log
        try:
            flush_out()
            if exc is not None:
                _log_traceback(exc, err, sources)
            flush_err()
        except BaseException:
            pass
        exit_(0)

    program, test, entry_point = job["program"], job["test"], job["entry_point"]
    sources = {"<program>": program, "<test>": test}
    codes = []
    for name, source in sources.items():
        try:
            codes.append(compile(source, name, "exec", dont_inherit=True))
        except (SyntaxError, ValueError) as exc:
            where = f" in {name} line {exc.lineno}" if isinstance(exc, SyntaxError) else f" in {name}"
            finish("error", f"{type(exc).__name__}: {getattr(exc, 'msg', exc)}{where}")

    if job["audit"]:
        # types.py reads a traceback's tb_frame at import time, and nearly every module imports it: load it
        # before the hook refuses frame access.
        import types  # noqa: F401

        sys.addaudithook(_make_hook(os.path.realpath(os.getcwd()), bool(job["allow_subprocess"]), frames_allowed))
        _guard_signal_handlers()

    program_ns: dict[str, Any] = {"__name__": "__sandbox__", "__builtins__": builtins}
    try:
        exec(codes[0], program_ns)
    except BaseException as exc:
        finish("failed", _describe(exc) + " (while running the program)", exc)
    # The test gets a snapshot of the program's names (so a stray thread rebinding globals cannot swap `check`),
    # pristine builtins, and no program global that shadows a builtin.
    test_ns = dict(program_ns)
    candidate = test_ns.get(entry_point) if entry_point is not None else None
    for key in list(test_ns):
        if key in pristine and test_ns[key] is not pristine[key]:
            del test_ns[key]
    test_ns.pop("check", None)  # check() must come from the test code, never from the program
    test_ns["__builtins__"] = dict(pristine)
    try:
        exec(codes[1], test_ns)
        if entry_point is not None:
            check = test_ns.get("check")
            if not callable(check):
                finish("error", "the test code defines no check(candidate) function")
            if entry_point not in program_ns:
                finish("failed", f"NameError: the program does not define {entry_point!r}")
            check(candidate)
    except BaseException as exc:
        finish("failed", _describe(exc), exc)
    finish("passed", "")


if __name__ == "__main__":
    main()
