"""Sandbox judge: runs the test and decides the verdict, in a process where no untrusted code ever runs.

The bootstrap forks the judge inside the cage (rlimits, sandbox uid, no_new_privs) and makes it non-dumpable:
the kernel then refuses ptrace, process_vm_readv/writev, /proc/<judge>/mem and /proc/<judge>/fd to every process
of the same uid that lacks CAP_SYS_PTRACE — whatever path or dir_fd it uses. The judge then, in this order:

1. forks and execs the worker (a fresh interpreter: no copy of this process's memory) *before* reading the job,
   so the nonce never exists in the worker's address space, even as a stale copy;
2. reads the job (nonce, program, test) from the supervisor's pipe; sends the program to the worker;
3. gets back the program's top-level names as plain data or handles (see _wire.py) and runs the test against
   proxies (`Remote`) that forward calls to the worker and decode what comes back as data;
4. kills and reaps the worker, writes "<nonce> <status> <isolation> <detail>" to the verdict pipe and exits with
   status 0 only for a pass. The supervisor needs both: the line, and the exit status that reaches it through waitpid
   (bootstrap and init pass it up), which no other process can forge.

Nothing the worker sends is executed or trusted: a wrong reply makes the test fail, a broken frame is a failure,
and a worker that dies or exits during the test makes the check fail even if the test caught the error.
"""

from __future__ import annotations

import contextlib
import os
import sys

TYPE_CHECKING = False  # typing is not imported at run time: it costs more than the rest of the start-up
if TYPE_CHECKING:
    from typing import Any, NoReturn

FROM_JUDGE = 3  # the worker's fd numbers (see _worker.py)
TO_JUDGE = 4
_MAX_DETAIL = 300
_EXIT = {"passed": 0, "failed": 1, "error": 2, "died": 3}
_REAP_SECONDS = 1.0
_SIGKILL = 9


class WorkerGone(BaseException):
    """The worker closed the channel or died; a BaseException so `except Exception` in a test cannot hide it."""


class ProtocolBroken(BaseException):
    """The worker sent something that is not a well-formed reply."""


class ProgramExited(BaseException):
    """The program called sys.exit (or raised another BaseException) while serving a call."""


class RemoteError(Exception):
    """An exception of the program whose type is not a builtin: its name and message, as data."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(message)
        self.type_name = type_name


def _one_line(text: str) -> str:
    text = text.replace("\r", " ").replace("\n", " ").strip()
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 3] + "..."


def _describe(exc: BaseException) -> str:
    name = exc.type_name if isinstance(exc, RemoteError) else type(exc).__name__
    if isinstance(exc, SystemExit):
        return f"exit before verdict (SystemExit: {exc.code!r})"
    if isinstance(exc, ProgramExited):
        return str(exc)
    try:
        msg = str(exc)
    except BaseException:
        msg = "<unprintable>"
    return f"{name}: {msg}" if msg else name


def _print_traceback(exc: BaseException, sources: dict[str, str], stream: Any) -> None:
    """The test's frames with their source lines (no traceback module: nothing is imported after the program ran)."""
    lines = ["Traceback (most recent call last):\n"]
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename in sources:
            lines.append(f'  File "{code.co_filename}", line {tb.tb_lineno}, in {code.co_name}\n')
            src = sources[code.co_filename].splitlines()
            if 0 < tb.tb_lineno <= len(src):
                lines.append(f"    {src[tb.tb_lineno - 1].strip()}\n")
        tb = tb.tb_next
    lines.append(_describe(exc) + "\n")
    remote = getattr(exc, "_llmatlas_remote_tb", "")
    if remote:
        lines.append("The program's side:\n" + remote)
    stream.write("".join(lines))


def _seccomp_of(pid: int) -> bool:
    """Does the worker run under a seccomp filter? Read by the judge from /proc, not taken from the worker's word."""
    try:
        fd = os.open(f"/proc/{pid}/status", os.O_RDONLY)
        try:
            text = os.read(fd, 1 << 16)
        finally:
            os.close(fd)
    except OSError:
        return False
    return any(line.split() == [b"Seccomp:", b"2"] for line in text.splitlines())


def _exec_worker(cfg: dict[str, Any], to_worker: int, from_worker: int) -> NoReturn:
    """In the forked child: the two channel ends on fds 3 and 4, every other fd closed, a fresh interpreter."""
    try:
        if from_worker == FROM_JUDGE:
            from_worker = os.dup(from_worker)
        for fd, target in ((to_worker, FROM_JUDGE), (from_worker, TO_JUDGE)):
            if fd == target:
                os.set_inheritable(fd, True)
            else:
                os.dup2(fd, target)
        os.closerange(TO_JUDGE + 1, 1 << 16)
        if cfg["restrict"] is not None:
            cfg["restrict"]()  # the seccomp filter, from here on for the worker and anything it execs
        python = cfg["python"]
        os.execve(python, [python, "-I", "-S", "-c", cfg["launcher"], cfg["worker"], cfg["wire"]], dict(os.environ))
    except BaseException:
        pass
    os._exit(127)


def main(cfg: dict[str, Any]) -> NoReturn:
    import builtins
    import marshal
    import time
    import types

    wire: Any = types.ModuleType("llmatlas_sandbox_wire")
    wire.__dict__["__builtins__"] = dict(vars(builtins))
    exec(compile(cfg["wire"], "<llmatlas-wire>", "exec"), wire.__dict__)
    send, recv, encode, decode = wire.send, wire.recv, wire.encode, wire.decode
    pristine = dict(vars(builtins))
    out, err = sys.stdout, sys.stderr
    me = os.getpid()

    to_r, to_w = os.pipe()
    from_r, from_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        _exec_worker(cfg, to_r, from_w)
    os.close(to_r)
    os.close(from_w)

    # Only now, with the worker's process image already replaced, does the nonce enter this process.
    chunks = []
    while True:
        data = os.read(cfg["job_fd"], 1 << 16)
        if not data:
            break
        chunks.append(data)
    os.close(cfg["job_fd"])
    job: dict[str, Any] = marshal.loads(b"".join(chunks))
    nonce: str = job["nonce"]
    isolation = ["judge"] + (["nodump"] if cfg.get("nodump") else [])
    broken: list[BaseException] = []  # the first channel failure; sticky, whatever the test does with it

    def reap(kill: bool) -> int | None:
        """The worker's wait status; waits up to a second for one that closed the channel, then kills it."""
        if not kill:
            for _ in range(int(_REAP_SECONDS / 0.01)):
                try:
                    done, status = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    return None
                if done:
                    return status
                time.sleep(0.01)
        with contextlib.suppress(OSError):
            os.kill(pid, _SIGKILL)
        try:
            return os.waitpid(pid, 0)[1]
        except ChildProcessError:
            return None

    def finish(status: str, detail: str, exc: BaseException | None = None) -> NoReturn:
        if os.getpid() != me:  # a forked copy never gets a say
            os._exit(127)
        if status != "passed" and broken and isinstance(broken[0], WorkerGone):
            wait_status = reap(False)  # the supervisor turns it into a limit, a crash or an early exit
            if wait_status is not None:
                status, detail, exc = "died", str(wait_status), None
            else:
                status, detail = "failed", "the program closed its channel to the judge"
        else:
            reap(True)  # no untrusted process is left when the verdict is written
        line = f"{nonce} {status} {','.join(isolation)} {_one_line(detail)}\n"
        try:
            os.write(cfg["result_fd"], line.encode("utf-8", "replace"))
            out.flush()
            if exc is not None:
                _print_traceback(exc, sources, err)
            err.flush()
        except BaseException:
            pass
        os._exit(_EXIT[status])

    def outgoing(obj: object) -> int:
        if type(obj) is Remote:
            return int(object.__getattribute__(obj, "_h"))
        raise TypeError(f"a {type(obj).__name__} cannot be passed into the sandboxed program (plain data only)")

    def raised(reply: dict[str, Any]) -> BaseException:
        tb = reply.get("traceback")
        if "exit" in reply:
            exc: BaseException = ProgramExited(f"exit before verdict (SystemExit: {str(reply['exit'])[:200]})")
        else:
            kind = "error" if "error" in reply else "fatal"
            pair = reply[kind]
            if type(pair) is not list or len(pair) != 2 or not all(type(p) is str for p in pair):
                raise ProtocolBroken(f"malformed {kind} reply")
            name, message = pair
            cls = pristine.get(name)
            exc = RemoteError(name, message)
            if kind == "fatal":
                exc = ProgramExited(f"{name}: {message}" if message else name)
            elif isinstance(cls, type) and issubclass(cls, Exception):
                with contextlib.suppress(Exception):  # constructors with other signatures keep RemoteError
                    exc = cls(message)
        if type(tb) is str:
            exc._llmatlas_remote_tb = tb  # type: ignore[attr-defined]
        return exc

    def answer(reply: Any) -> Any:
        if type(reply) is not dict:
            raise ProtocolBroken("a reply must be an object")
        if "ok" in reply:
            try:
                return decode(reply["ok"], Remote)
            except wire.ProtocolError as bad:
                raise ProtocolBroken(str(bad)) from None
        if "error" in reply or "fatal" in reply or "exit" in reply:
            exc = raised(reply)
            if isinstance(exc, ProgramExited):
                broken.append(exc)
            raise exc
        raise ProtocolBroken("a reply must carry ok, error, fatal or exit")

    def rpc(op: str, *args: Any, **kwargs: Any) -> Any:
        if broken:
            raise broken[0]
        message = {"op": op, "args": [encode(a, outgoing) for a in args]}
        message["kwargs"] = [[k, encode(v, outgoing)] for k, v in kwargs.items()]
        try:
            send(to_w, message)
            reply = recv(from_r)
        except (EOFError, OSError):
            broken.append(WorkerGone("the program's process ended during the test"))
            raise broken[-1] from None
        except wire.ProtocolError as exc:
            broken.append(ProtocolBroken(f"the program broke the judge protocol: {exc}"))
            raise broken[-1] from None
        try:
            return answer(reply)
        except ProtocolBroken as exc:
            broken.append(ProtocolBroken(f"the program broke the judge protocol: {exc}"))
            raise broken[-1] from None

    Remote = _remote_class(rpc)

    program, test, entry_point = job["program"], job["test"], job["entry_point"]
    sources = {"<test>": test}
    try:
        test_code = compile(test, "<test>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        where = f" in <test> line {exc.lineno}" if isinstance(exc, SyntaxError) else " in <test>"
        finish("error", f"{type(exc).__name__}: {getattr(exc, 'msg', exc)}{where}")

    load = {"program": program, "audit": job["audit"], "allow_subprocess": job["allow_subprocess"]}
    try:
        send(to_w, load)
        reply = recv(from_r)
        if _seccomp_of(pid):  # the worker has answered, so it is past its exec and its filter
            isolation.append("seccomp")
    except (EOFError, OSError):
        broken.append(WorkerGone("the program's process ended before its names were known"))
        finish("failed", "exit before verdict (while running the program)")
    except wire.ProtocolError as exc:
        finish("failed", f"the program broke the judge protocol: {exc}")
    if type(reply) is dict and type(reply.get("syntax")) is str:
        finish("error", reply["syntax"])
    try:
        manifest = answer(reply)
        if type(manifest) is not list or not all(
            type(item) is list and len(item) == 2 and type(item[0]) is str for item in manifest
        ):
            raise ProtocolBroken("the program's names must be [name, value] pairs")
    except ProtocolBroken as exc:
        finish("failed", f"the program broke the judge protocol: {exc}")
    except BaseException as exc:
        finish("failed", _describe(exc) + " (while running the program)", exc)

    # The test sees the program's names (by value, or as proxies), pristine builtins, and no program name that
    # shadows a builtin; check() must come from the test, never from the program.
    names = dict(manifest)
    test_ns: dict[str, Any] = {"__name__": "__sandbox__"}
    for name, value in names.items():
        if name not in pristine and name != "check":
            test_ns[name] = value
    test_ns["__builtins__"] = dict(pristine)
    try:
        exec(test_code, test_ns)
        if entry_point is not None:
            check = test_ns.get("check")
            if not callable(check):
                finish("error", "the test code defines no check(candidate) function")
            if entry_point not in names:
                finish("failed", f"NameError: the program does not define {entry_point!r}")
            check(names[entry_point])
    except BaseException as exc:
        if broken:
            finish("failed", _describe(broken[0]), broken[0])
        finish("failed", _describe(exc), exc)
    if broken:  # the test caught the failure of the channel; the check still fails
        finish("failed", _describe(broken[0]), broken[0])
    finish("passed", "")


def _remote_class(rpc: Any) -> type:
    """Proxies for the program's objects: every operation is a request to the worker, every answer is data."""

    def forward(op: str) -> Any:
        def method(self: Any, *args: Any) -> Any:
            return rpc(op, self, *args)

        method.__name__ = f"__{op.strip('_')}__"
        return method

    def reflected(op: str) -> Any:
        def method(self: Any, other: Any) -> Any:
            return rpc(op, other, self)

        return method

    class Remote:
        __slots__ = ("_h",)

        def __init__(self, handle: int) -> None:
            object.__setattr__(self, "_h", handle)

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            return rpc("call", self, *args, **kwargs)

        def __getattr__(self, name: str) -> Any:
            return rpc("getattr", self, name)

        def __setattr__(self, name: str, value: Any) -> None:
            rpc("setattr", self, name, value)

        def __delattr__(self, name: str) -> None:
            rpc("delattr", self, name)

    special = {
        "len": "__len__",
        "iter": "__iter__",
        "next": "__next__",
        "bool": "__bool__",
        "repr": "__repr__",
        "str": "__str__",
        "hash": "__hash__",
        "int": "__int__",
        "float": "__float__",
        "index": "__index__",
        "contains": "__contains__",
        "abs": "__abs__",
        "getitem": "__getitem__",
        "setitem": "__setitem__",
        "delitem": "__delitem__",
        "eq": "__eq__",
        "ne": "__ne__",
        "lt": "__lt__",
        "le": "__le__",
        "gt": "__gt__",
        "ge": "__ge__",
        "neg": "__neg__",
        "pos": "__pos__",
        "invert": "__invert__",
    }
    binary = ["add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "lshift", "rshift", "and_", "or_"]
    binary.append("xor")
    for op, dunder in special.items():
        setattr(Remote, dunder, forward(op))
    for op in binary:
        name = op.strip("_")
        setattr(Remote, f"__{name}__", forward(op))
        setattr(Remote, f"__r{name}__", reflected(op))
    return Remote
