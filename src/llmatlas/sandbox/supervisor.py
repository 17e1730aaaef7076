"""Run untrusted, model-generated Python in a throwaway sandbox and score it by a verdict it cannot forge.

One check = one process tree: a trusted bootstrap (namespaces, rlimits, privilege drop; see _bootstrap.py), the
judge (see _judge.py), which runs the test and check(candidate) and decides, and the worker (see _worker.py), the
only process that runs the program, answering the judge's calls as plain data. A pass needs the judge's line with
the per-run nonce on a private pipe *and* the judge's exit status 0, passed up to us through waitpid. This module
picks the sandbox identity, feeds the job, drains the output with a bounded buffer, enforces the wall clock with a
process-group kill and turns what came back into a SandboxResult.
"""

from __future__ import annotations

import contextlib
import hmac
import marshal
import os
import secrets
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import NamedTuple

from llmatlas.sandbox.limits import SandboxLimits, SandboxResult, SandboxStatus

_NOBODY = 65534
_UID_BASE = 0x5A000000  # per-run uids are drawn from [_UID_BASE, _UID_BASE + _UID_SPAN): unused by real accounts
_UID_SPAN = 1 << 24
_ALT_PYTHONS = ("/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3")
_LAUNCHER = (
    "import sys,builtins;exec(compile(sys.argv.pop(1),'<llmatlas-sandbox>','exec'),"
    "{'__name__':'__main__','__builtins__':dict(vars(builtins))})"
)
_VERDICT_CAP = 8192
_READ_CHUNK = 1 << 16
_GRACE_SECONDS = 0.5
_SIGNAL_NOTES = {
    signal.SIGSEGV: " (crash, e.g. a stack overflow)",
    signal.SIGKILL: " (memory, CPU hard limit or the sandbox)",
    signal.SIGABRT: " (abort)",
}


@dataclass(frozen=True)
class _Options:
    """Private switches for tests and diagnosis; the defaults are what production runs use."""

    audit: bool = True  # install the audit hook in the worker
    seccomp: bool = True  # install the worker's seccomp filter
    namespaces: bool = True  # try pid/net/mount namespaces
    as_user: int | None = None  # (root only) start the bootstrap as this uid to exercise the non-root path
    python: str | None = None  # interpreter for the bootstrap and the worker


@dataclass
class _Capture:
    """Keeps the last `cap` bytes of a stream; everything before is counted and dropped, never accumulated."""

    cap: int
    total: int = 0
    size: int = 0
    chunks: deque[bytes] = field(default_factory=deque)

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        if self.cap <= 0:
            return
        self.chunks.append(data)
        self.size += len(data)
        while self.chunks and self.size - len(self.chunks[0]) >= self.cap:
            self.size -= len(self.chunks.popleft())

    def data(self) -> bytes:
        if self.cap <= 0:
            return b""
        return b"".join(self.chunks)[-self.cap :]

    def text(self) -> str:
        return self.data().decode("utf-8", "replace")


@dataclass
class _Outcome:
    stdout: _Capture
    stderr: _Capture
    verdict: _Capture
    status_lines: list[dict[str, object]] = field(default_factory=list)
    timed_out: bool = False
    boot_status: int | None = None  # the bootstrap's exit code (the judge's, passed up), from our own waitpid


@cache
def _source(name: str) -> str:
    return (Path(__file__).parent / name).read_text(encoding="utf-8")


def _searchable_by_others(path: str, final_mode: int) -> bool:
    """True when a uid that owns nothing can reach `path` (o+x on every directory, `final_mode` on the file)."""
    p = Path(path)
    try:
        for parent in reversed(p.parents):
            if not os.stat(parent).st_mode & stat.S_IXOTH:
                return False
        return os.stat(p).st_mode & final_mode == final_mode
    except OSError:
        return False


def _first_blocking_dir(path: str) -> str | None:
    for parent in reversed(Path(path).parents):
        with contextlib.suppress(OSError):
            if not os.stat(parent).st_mode & stat.S_IXOTH:
                return str(parent)
    return None


@cache
def _python_plan(python: str | None) -> dict[str, object]:
    """How the unprivileged sandbox uid gets an interpreter: directly, by a bind mount, or a system fallback."""
    exe = os.path.realpath(python or sys.executable)
    stdlib = os.path.realpath(sysconfig.get_paths()["stdlib"]) if python is None else None
    ok = _searchable_by_others(exe, stat.S_IXOTH | stat.S_IROTH) and (
        stdlib is None or _searchable_by_others(stdlib, stat.S_IXOTH | stat.S_IROTH)
    )
    plan: dict[str, object] = {"python": exe, "python_ok": ok, "hidden_python": None, "alt_python": None}
    if ok:
        return plan
    prefix = os.path.realpath(sys.base_prefix)
    cover = _first_blocking_dir(exe)
    if python is None and cover is not None and exe.startswith(prefix + "/") and prefix.startswith(cover + "/"):
        plan["hidden_python"] = {"prefix": prefix, "cover": cover}
    for alt in _ALT_PYTHONS:
        real = os.path.realpath(alt)
        if os.path.exists(real) and _searchable_by_others(real, stat.S_IXOTH | stat.S_IROTH):
            plan["alt_python"] = real
            break
    return plan


@cache
def _alt_python() -> str | None:
    plan = _python_plan(None)
    alt = plan["python"] if plan["python_ok"] else plan["alt_python"]
    return str(alt) if alt else None


def _temp_root() -> str:
    """A temp location the sandbox uid can traverse (TMPDIR may point into a private home)."""
    for cand in (tempfile.gettempdir(), "/tmp", "/var/tmp", "/dev/shm"):
        if os.path.isdir(cand) and _searchable_by_others(cand, 0):
            return cand
    return tempfile.gettempdir()


def _rmtree(path: str) -> None:
    """Remove a work dir, even if the program left directories without permissions (matters when not root).

    Runs after every sandbox process is dead; never follows a symlink the program planted.
    """
    if os.geteuid() != 0:
        for root, dirs, _files in os.walk(path):  # top-down: each dir is opened up before it is listed
            for target in [os.path.join(root, name) for name in dirs]:
                with contextlib.suppress(OSError):
                    if not stat.S_ISLNK(os.lstat(target).st_mode):
                        os.chmod(target, 0o700)
    shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def _workspace(owner: int | None) -> Iterator[tuple[str, str]]:
    """base/ (trusted, 0711) holding work/ (the program's cwd and HOME) and python/ (a mount point)."""
    base = tempfile.mkdtemp(prefix="llmatlas-sandbox-", dir=_temp_root())
    try:
        os.chmod(base, 0o711)
        work = os.path.join(base, "work")
        os.mkdir(work, 0o700)
        os.mkdir(os.path.join(base, "python"), 0o755)
        if owner is not None:
            os.chown(work, owner, owner)
        yield base, work
    finally:
        _rmtree(base)


def _sandbox_identity(opts: _Options) -> tuple[int | None, bool]:
    """The uid to drop to (root only) and whether it is unique to this run."""
    if os.geteuid() != 0 or opts.as_user is not None:
        return None, False
    return _UID_BASE + secrets.randbelow(_UID_SPAN), True


def _boot_config(
    limits: SandboxLimits, opts: _Options, work: str, base: str, uid: int | None, unique: bool
) -> dict[str, object]:
    python = opts.python
    if opts.as_user is not None and python is None:
        python = _alt_python()
    plan = dict(_python_plan(python))
    if uid is None:  # not dropping privileges: the interpreter is ours already
        plan["python_ok"] = True
    if isinstance(plan["hidden_python"], dict):
        plan["hidden_python"] = {**plan["hidden_python"], "hold": os.path.join(base, "python")}
    return {
        **plan,
        "work": work,
        "uid": uid,
        "gid": uid,
        "unique_uid": unique,
        "namespaces": opts.namespaces,
        "cpu_seconds": limits.cpu_seconds,
        "memory_bytes": limits.memory_bytes,
        "max_processes": limits.max_processes,
        "max_file_bytes": limits.max_file_bytes,
        "max_open_files": limits.max_open_files,
        "allow_subprocess": limits.allow_subprocess,
        "seccomp": opts.seccomp,
        "launcher": _LAUNCHER,
        "judge": _source("_judge.py"),
        "worker": _source("_worker.py"),
        "wire": _source("_wire.py"),
    }


def _clean_env(work: str) -> dict[str, str]:
    """Nothing from the caller's environment: no API keys, no PYTHONPATH."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": work, "TMPDIR": work, "LANG": "C.UTF-8"}


def _exited(pid: int) -> bool:
    """Has the bootstrap exited? Leaves it unreaped so its pid (our process group id) cannot be reused yet."""
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


def _killpg(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _pump(
    proc: subprocess.Popen[bytes], job: bytes, job_w: int, res_r: int, st_r: int, limits: SandboxLimits
) -> _Outcome:
    """Feed the job and drain every pipe until the tree is gone; kill the group at the wall-clock deadline."""
    assert proc.stdout is not None and proc.stderr is not None
    cap = limits.max_output_bytes
    outcome = _Outcome(_Capture(cap), _Capture(cap), _Capture(_VERDICT_CAP + 1))
    status = _Capture(1 << 16)
    sinks = {proc.stdout.fileno(): outcome.stdout, proc.stderr.fileno(): outcome.stderr, res_r: outcome.verdict}
    sinks[st_r] = status
    sel = selectors.DefaultSelector()
    for fd in sinks:
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ)
    os.set_blocking(job_w, False)
    sel.register(job_w, selectors.EVENT_WRITE)
    pending = memoryview(job)
    deadline = time.monotonic() + limits.wall_seconds
    stop_at: float | None = None
    try:
        while sel.get_map():
            now = time.monotonic()
            if not outcome.timed_out and now >= deadline:
                outcome.timed_out = True
                _killpg(proc.pid)
                stop_at = now + _GRACE_SECONDS
            if stop_at is None and _exited(proc.pid):
                _killpg(proc.pid)  # leftovers in the group (no pid namespace): they must not outlive the check
                stop_at = now + _GRACE_SECONDS
            if stop_at is not None and now >= stop_at:
                break
            wait = (stop_at if stop_at is not None else deadline) - now
            for key, _ in sel.select(max(0.0, min(wait, 0.05))):
                fd = int(key.fd)
                if fd == job_w:
                    try:
                        pending = pending[os.write(job_w, pending[:_READ_CHUNK]) :]
                    except BlockingIOError:
                        continue
                    except OSError:
                        pending = pending[:0]
                    if not pending:
                        sel.unregister(job_w)
                        os.close(job_w)
                    continue
                try:
                    data = os.read(fd, _READ_CHUNK)
                except BlockingIOError:
                    continue
                if not data:
                    sel.unregister(fd)
                    continue
                sinks[fd].feed(data)
    finally:
        for key in list(sel.get_map().values()):
            sel.unregister(key.fd)
            if key.fd == job_w:
                os.close(job_w)
        sel.close()
        _killpg(proc.pid)
        outcome.boot_status = proc.wait()
    outcome.status_lines = _status_records(status.data())
    return outcome


def _status_records(raw: bytes) -> list[dict[str, object]]:
    """Length-prefixed marshal records, written by the trusted bootstrap (neither judge nor worker holds that fd).

    Informational only: where the program shares our uid without a pid namespace it could reopen the pipe through
    /proc/<our pid>/fd, so no verdict is ever read from here."""
    records: list[dict[str, object]] = []
    pos = 0
    while pos + 4 <= len(raw):
        size = int.from_bytes(raw[pos : pos + 4], "big")
        chunk = raw[pos + 4 : pos + 4 + size]
        pos += 4 + size
        with contextlib.suppress(ValueError, EOFError, TypeError):
            item = marshal.loads(chunk)
            if isinstance(item, dict):
                records.append(item)
    return records


class _Verdict(NamedTuple):
    status: str
    isolation: list[str]
    detail: str


def _parse_verdict(raw: bytes, nonce: str) -> _Verdict | None:
    """Exactly one line, '<nonce> <status> <isolation> <detail>'; anything else is no verdict at all."""
    if len(raw) > _VERDICT_CAP or not raw.endswith(b"\n") or raw.count(b"\n") != 1:
        return None
    parts = raw[:-1].decode("utf-8", "replace").split(" ", 3)
    if len(parts) < 3 or not hmac.compare_digest(parts[0].encode(), nonce.encode()):
        return None
    status, isolation, detail = parts[1], parts[2], parts[3] if len(parts) > 3 else ""
    if status not in ("passed", "failed", "error", "died"):
        return None
    return _Verdict(status, [i for i in isolation.split(",") if i], detail)


def _ended(returncode: int, limits: SandboxLimits) -> tuple[SandboxStatus, str]:
    """What the end of a process that gave no verdict means: a limit, a crash, or an early exit."""
    if returncode < 0:
        sig = signal.Signals(-returncode)
        if sig == signal.SIGXCPU:
            return "timeout", f"CPU time limit of {limits.cpu_seconds}s exceeded"
        return "killed", f"killed by {sig.name}{_SIGNAL_NOTES.get(sig, '')}"
    return "failed", f"exit before verdict (exit code {returncode})"


def _decide(outcome: _Outcome, nonce: str, limits: SandboxLimits) -> tuple[SandboxStatus, str, int | None]:
    errors = [str(s["error"]) for s in outcome.status_lines if s.get("error")]
    returncode: int | None = None
    verdict = _parse_verdict(outcome.verdict.data(), nonce)
    if verdict is not None and verdict.status == "died":
        with contextlib.suppress(ValueError):  # the worker's wait status, as the judge saw it
            returncode = os.waitstatus_to_exitcode(int(verdict.detail))
        if returncode is None:
            return "failed", "the program's process ended", None
        status, detail = _ended(returncode, limits)
        return status, detail, returncode
    if verdict is not None:
        if verdict.status == "passed":
            if outcome.boot_status != 0:  # the line alone is not enough: the judge's exit status must agree
                return "failed", "verdict not confirmed by the judge's exit status", returncode
            return "passed", verdict.detail, returncode
        return ("failed" if verdict.status == "failed" else "error"), verdict.detail, returncode
    for line in outcome.status_lines:
        wait_status = line.get("wait_status")
        if isinstance(wait_status, int):
            returncode = os.waitstatus_to_exitcode(wait_status)
    if errors:
        return "error", errors[0], returncode
    if outcome.timed_out:
        return "timeout", f"timeout after {limits.wall_seconds:g}s (wall clock)", returncode
    if outcome.verdict.total:
        return "failed", "verdict channel tampered with: no valid verdict", returncode
    if returncode is None:
        return "killed", "the sandbox was killed before a verdict", returncode
    status, detail = _ended(returncode, limits)
    return status, detail, returncode


def _kill_uid(uid: int) -> None:
    """Last resort when the bootstrap itself was killed: kill(-1) as the sandbox uid via a tiny shell."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            ["/bin/sh", "-c", "kill -9 -1"], user=uid, group=uid, extra_groups=[], env={}, timeout=10, check=False
        )


def run_check(
    program: str,
    test: str,
    entry_point: str | None,
    limits: SandboxLimits | None = None,
    *,
    _options: _Options | None = None,
) -> SandboxResult:
    """Run `program` then `test` in a fresh sandbox; with `entry_point`, call check(<entry_point>).

    Passes only if the judge saw the test finish without an exception and said so both on the verdict pipe and in
    its exit status; the program's output, exit code, replies or monkeypatching can only make it fail. Never raises
    for anything the program does.
    """
    limits = limits or SandboxLimits()
    opts = _options or _Options()
    started = time.monotonic()
    nonce = secrets.token_hex(16)
    uid, unique = _sandbox_identity(opts)
    owner = uid if uid is not None else opts.as_user
    job = marshal.dumps(
        {
            "nonce": nonce,
            "program": program,
            "test": test,
            "entry_point": entry_point,
            "audit": opts.audit,
            "allow_subprocess": limits.allow_subprocess,
        },
        4,
    )
    outcome: _Outcome | None = None
    error = ""
    with _workspace(owner) as (base, work):
        cfg = _boot_config(limits, opts, work, base, uid, unique)
        res_r, res_w = os.pipe()
        job_r, job_w = os.pipe()
        st_r, st_w = os.pipe()
        cfg["fds"] = {"result": res_w, "job": job_r, "status": st_w}
        boot_python = str(cfg["python"]) if opts.as_user is not None else sys.executable
        if opts.python is not None:
            boot_python = opts.python
        try:
            proc = subprocess.Popen(
                [boot_python, "-I", "-S", "-c", _source("_bootstrap.py"), marshal.dumps(cfg, 4).hex()],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=work,
                env=_clean_env(work),
                start_new_session=True,
                pass_fds=(res_w, job_r, st_w),
                user=opts.as_user,
                group=opts.as_user,
                extra_groups=None if opts.as_user is None else [],
            )
        except (OSError, subprocess.SubprocessError) as exc:
            error = f"could not start the sandbox: {exc}"
            for fd in (res_r, res_w, job_r, job_w, st_r, st_w):
                os.close(fd)
        else:
            for fd in (res_w, job_r, st_w):
                os.close(fd)
            try:
                outcome = _pump(proc, job, job_w, res_r, st_r, limits)
            finally:
                os.close(res_r)
                os.close(st_r)
                assert proc.stdout is not None and proc.stderr is not None
                proc.stdout.close()
                proc.stderr.close()
            cleaned = any(s.get("cleaned") for s in outcome.status_lines)
            if uid is not None and unique and not cleaned and "pidns" not in _isolation(outcome.status_lines):
                _kill_uid(uid)
    seconds = round(time.monotonic() - started, 4)
    if outcome is None:
        return SandboxResult(passed=False, status="error", detail=error, seconds=seconds)
    status, detail, returncode = _decide(outcome, nonce, limits)
    verdict = _parse_verdict(outcome.verdict.data(), nonce)
    isolation = _isolation(outcome.status_lines) + (verdict.isolation if verdict else [])
    isolation += ["audit"] if opts.audit else []
    return SandboxResult(
        passed=status == "passed",
        status=status,
        detail=detail,
        seconds=seconds,
        stdout_tail=outcome.stdout.text(),
        stderr_tail=outcome.stderr.text(),
        stdout_bytes=outcome.stdout.total,
        stderr_bytes=outcome.stderr.total,
        returncode=returncode,
        isolation=isolation,
    )


def _isolation(lines: Sequence[dict[str, object]]) -> list[str]:
    found: list[str] = []
    for line in lines:
        items = line.get("isolation")
        if isinstance(items, list):
            found += [str(i) for i in items if str(i) not in found]
    return found


def run_many(
    items: Sequence[tuple[str, str, str | None]],
    limits: SandboxLimits | None = None,
    workers: int | None = None,
) -> list[SandboxResult]:
    """run_check over (program, test, entry_point) items on a thread pool; results come back in input order."""
    if not items:
        return []
    workers = max(1, workers or os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=min(workers, len(items)), thread_name_prefix="sandbox") as pool:
        return list(pool.map(lambda item: run_check(item[0], item[1], item[2], limits), items))
