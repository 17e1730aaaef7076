"""Programs that try to forge a sandbox verdict: every one must end "failed" (or, for the ones that only stall the
judge, "timeout"/"killed") and never "passed".

The test each of them faces, `check(c): assert c(2) == <a value no honest program returns>`, can only pass if the
attack worked. The three classes of the adversarial review (issue 13) are here — a signal handler walking frames
to the verdict code, a rebuilt `_signal` module reading the nonce from an interrupted frame, `/proc/self/mem`
opened relative to a directory fd — with variants of our own: gc and frame scans, the judge's memory, fds and
`/proc` entries, ptrace, process_vm_readv, pidfd_getfd, `_posixsubprocess.fork_exec`, forged replies on the
judge's channel, exits the test tries to swallow, and a nonce stolen from the supervisor. Each runs with the audit
hook and seccomp on, and with them switched off, so the guarantee is shown to rest on the process boundary and the
kernel, not on in-process guards. Where an attack's primitive works (it reads its own memory, installs its
handler...), the test asserts that it did, so a "failed" is not just a broken attack.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmatlas.sandbox import SandboxLimits, SandboxResult, run_check
from llmatlas.sandbox import _wire as wire
from llmatlas.sandbox.supervisor import _alt_python, _Capture, _decide, _Options, _Outcome

ROOT = os.geteuid() == 0
LIMITS = SandboxLimits(cpu_seconds=5, wall_seconds=10, memory_bytes=1 << 30, max_output_bytes=64 << 10)
TEST = "def check(c):\n    assert c(2) == 'only-a-forged-verdict-passes-7f3a'\n"

MODES: dict[str, _Options] = {
    "default": _Options(),
    "no-audit": _Options(audit=False),
    "kernel-only": _Options(audit=False, seccomp=False),  # process boundary + non-dumpable judge alone
    "no-ns-kernel-only": _Options(audit=False, seccomp=False, namespaces=False),
}
if ROOT and _alt_python() is not None:
    MODES["nonroot-kernel-only"] = _Options(as_user=65534, audit=False, seccomp=False)
    MODES["nonroot-no-ns-kernel-only"] = _Options(as_user=65534, audit=False, seccomp=False, namespaces=False)

# Shared by the attacks: write "<candidate> passed" in every verdict format there has been to every fd this
# process has except its own channel to the judge (3, 4: garbage there would fail the check for another reason),
# and to every fd of the judge it can reopen through /proc.
PRELUDE = r"""
import os, sys
def forge(candidates):
    lines = []
    for cand in list(candidates)[:2000]:
        if isinstance(cand, bytes):
            cand = cand.decode('ascii', 'replace')
        lines += [f'{cand} passed\n', f'{cand} passed - \n', f'{cand} passed judge,nodump \n']
    fds = list(range(5, 256))
    for pid in {os.getppid(), 1}:
        try:
            names = os.listdir(f'/proc/{pid}/fd')
        except OSError as exc:
            names = []
        for name in names:
            try:
                fds.append(os.open(f'/proc/{pid}/fd/{name}', os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass
    for fd in fds:
        for line in lines:
            try:
                os.write(fd, line.encode())
            except OSError:
                break
def hexes(blob):
    import re
    return set(re.findall(rb'[0-9a-f]{32}', blob))
"""


@pytest.fixture(params=list(MODES))
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def attack(program: str, mode: str, test: str = TEST, **limits: object) -> SandboxResult:
    lim = LIMITS.model_copy(update=limits) if limits else LIMITS
    source = PRELUDE + textwrap.dedent(program)
    res = run_check(source, test, "f", lim, _options=MODES[mode])
    assert not res.passed, f"FORGED: {res}"
    return res


def assert_failed_honestly(res: SandboxResult) -> None:
    """The attack changed nothing: the test saw the program's real answer and failed on it."""
    assert res.status == "failed" and res.detail.startswith("AssertionError"), res


# ---------------------------------------------------------------- class 1: signal handler walks to the verdict code


def test_signal_handler_via_signal_globals_walks_frames(mode: str) -> None:
    res = attack(
        """
        import signal, time
        real_signal = signal.signal.__globals__['_signal'].signal  # the route around the old guard
        seen = []
        def handler(signum, frame):
            seen.append('handler ran')
            f, cands = frame, set()
            while f is not None:
                for scope in (f.f_locals, f.f_globals):
                    fin = scope.get('finish')
                    if callable(fin):
                        try:
                            fin('passed', '')
                        except BaseException as exc:
                            seen.append(type(exc).__name__)
                    for v in list(scope.values()):
                        if isinstance(v, str) and len(v) == 32:
                            cands.add(v)
                f = f.f_back
            forge(cands)
        real_signal(signal.SIGALRM, handler)
        def f(x):
            signal.setitimer(signal.ITIMER_REAL, 0.01)
            t = time.time()
            while not seen and time.time() - t < 2:
                pass
            print(*seen, flush=True)
            return 0
        """,
        mode,
    )
    assert_failed_honestly(res)
    assert "handler ran" in res.stdout_tail, res  # Python signal handlers are allowed now: nothing to protect


def test_frames_of_every_thread_and_gc_objects(mode: str) -> None:
    res = attack(
        """
        import gc, sys
        def f(x):
            cands = set()
            for frame in sys._current_frames().values():
                while frame is not None:
                    for scope in (frame.f_locals, frame.f_globals):
                        for k, v in list(scope.items()):
                            if isinstance(v, str) and len(v) == 32:
                                cands.add(v)
                            if k in ('finish', 'nonce') and callable(v):
                                try:
                                    v('passed', '')
                                except BaseException:
                                    pass
                    frame = frame.f_back
            for o in gc.get_objects():
                if isinstance(o, dict) and 'nonce' in o:
                    cands.add(str(o['nonce']))
                elif isinstance(o, str) and len(o) == 32 and set(o) <= set('0123456789abcdef'):
                    cands.add(o)
            print('scanned', len(gc.get_objects()), 'objects', flush=True)
            forge(cands)
            return 0
        """,
        mode,
    )
    assert_failed_honestly(res)
    assert "scanned" in res.stdout_tail, res


def test_traceback_frames_of_a_raised_exception(mode: str) -> None:
    res = attack(
        """
        def f(x):
            try:
                raise KeyError(x)
            except KeyError as exc:
                tb = exc.__traceback__
            frame, cands = tb.tb_frame, set()
            while frame is not None:
                cands |= {v for v in frame.f_locals.values() if isinstance(v, str) and len(v) == 32}
                frame = frame.f_back
            forge(cands)
            print('walked', flush=True)
            return 0
        """,
        mode,
    )
    assert_failed_honestly(res)
    assert "walked" in res.stdout_tail


# ---------------------------------------------------------------- class 2: a rebuilt _signal module


def test_rebuilt_signal_module_reads_the_interrupted_frame(mode: str) -> None:
    res = attack(
        """
        import importlib.util, time
        spec = importlib.util.find_spec('_signal')
        fresh = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(fresh)
        seen = []
        def handler(signum, frame):
            cands = set()
            while frame is not None:
                cands |= {v for v in frame.f_locals.values() if isinstance(v, str) and len(v) == 32}
                frame = frame.f_back
            seen.append(len(cands))
            forge(cands)
        fresh.signal(fresh.SIGALRM, handler)
        def f(x):
            fresh.setitimer(fresh.ITIMER_REAL, 0.01)
            t = time.time()
            while not seen and time.time() - t < 2:
                pass
            print('handler saw', seen, flush=True)
            return 0
        """,
        mode,
    )
    assert_failed_honestly(res)
    assert "handler saw [" in res.stdout_tail, res


# ---------------------------------------------------------------- class 3: memory, by path tricks and syscalls


def test_proc_self_mem_through_a_directory_fd(mode: str) -> None:
    """The issue's route: open('/proc/self') as a dir fd, then 'mem' relative to it; scan for the nonce."""
    res = attack(
        """
        def f(x):
            d = os.open('/proc/self', os.O_RDONLY | os.O_DIRECTORY)
            maps = os.read(os.open('maps', os.O_RDONLY, dir_fd=d), 1 << 20).decode().splitlines()
            mem = os.open('mem', os.O_RDONLY, dir_fd=d)
            cands, regions, size = set(), 0, 0
            for line in maps:
                addr, perms = line.split()[:2]
                if not perms.startswith('r'):
                    continue
                lo, hi = (int(a, 16) for a in addr.split('-'))
                try:
                    os.lseek(mem, lo, 0)
                    blob = os.read(mem, min(hi - lo, 64 << 20))
                except OSError:
                    continue
                regions += 1
                size += len(blob)
                cands |= hexes(blob)
            print('read', regions, 'regions', size, 'bytes', len(cands), 'candidates', flush=True)
            forge(cands)
            return 0
        """,
        mode,
    )
    assert_failed_honestly(res)
    assert "read " in res.stdout_tail and " 0 regions" not in res.stdout_tail, res  # it did read its own memory


def test_the_judges_memory_fds_and_proc_entries(mode: str) -> None:
    """The nonce is in the judge (the worker's parent): every way into it is refused by the kernel."""
    res = attack(
        """
        def f(x):
            judge = os.getppid()
            out = []
            d = os.open('/proc', os.O_RDONLY | os.O_DIRECTORY)
            for name, flags in (('mem', os.O_RDONLY), ('mem', os.O_RDWR), ('maps', os.O_RDONLY),
                                ('environ', os.O_RDONLY), ('fd/3', os.O_WRONLY), ('fd', os.O_RDONLY)):
                for pid in (judge, 1):
                    try:
                        fd = os.open(f'{pid}/{name}', flags, dir_fd=d)
                        data = os.read(fd, 1 << 16) if flags == os.O_RDONLY and name != 'fd' else b''
                        forge(hexes(data))
                        out.append(f'{pid}/{name}:opened')
                    except OSError as exc:
                        out.append(f'{pid}/{name}:{type(exc).__name__}')
            try:
                forge(hexes(open(f'/proc/{judge}/cmdline', 'rb').read()))
            except OSError as exc:
                out.append(f'cmdline:{type(exc).__name__}')
            print('judge', judge, *out, flush=True)
            return 0
        """,
        mode,
    )
    assert_failed_honestly(res)
    line = next(ln for ln in res.stdout_tail.splitlines() if ln.startswith("judge "))
    judge = line.split()[1]
    for name in ("mem", "maps", "environ", "fd/3", "fd"):
        assert f"{judge}/{name}:PermissionError" in line, line  # non-dumpable: refused by ptrace_may_access


def _libc_attack(body: str) -> str:
    return (
        """
        import errno
        try:
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            libc.syscall.restype = ctypes.c_long
        except Exception as exc:
            libc = exc
        def sys_call(nr, *args):
            r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
            return r, ctypes.get_errno()
        X86 = os.uname().machine == 'x86_64'
        """
        + body
    )


def test_ptrace_process_vm_readv_and_pidfd_getfd_on_the_judge(mode: str) -> None:
    res = attack(
        _libc_attack(
            """
        def f(x):
            judge, out = os.getppid(), []
            try:
                if isinstance(libc, Exception):
                    raise libc
                buf = ctypes.create_string_buffer(4096)
                class IOV(ctypes.Structure):
                    _fields_ = [('base', ctypes.c_void_p), ('len', ctypes.c_size_t)]
                local, remote = IOV(ctypes.addressof(buf), 4096), IOV(ctypes.addressof(buf), 4096)
                r = libc.process_vm_readv(judge, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
                out.append(f'process_vm_readv:{r}:{errno.errorcode.get(ctypes.get_errno())}')
                forge(hexes(buf.raw))
                r, e = sys_call(101 if X86 else 117, 16, judge, 0, 0)  # PTRACE_ATTACH
                out.append(f'ptrace:{r}:{errno.errorcode.get(e)}')
                pidfd, e = sys_call(434, judge, 0)  # pidfd_open
                r, e = sys_call(438, pidfd, 3, 0)  # pidfd_getfd: the judge's fd 3
                out.append(f'pidfd_getfd:{r}:{errno.errorcode.get(e)}')
                if r >= 0:
                    forge([])
            except Exception as exc:
                out.append(f'blocked:{type(exc).__name__}')
            print('calls', *out, flush=True)
            return 0
        """
        ),
        mode,
    )
    assert_failed_honestly(res)
    line = next(ln for ln in res.stdout_tail.splitlines() if ln.startswith("calls "))
    if MODES[mode].audit:
        assert "blocked:SandboxDenied" in line, line  # the audit hook refuses ctypes first
    else:
        for call in ("process_vm_readv", "ptrace", "pidfd_getfd"):
            assert f"{call}:-1:EPERM" in line, line  # seccomp, or the non-dumpable judge where seccomp is off


def test_fork_exec_without_the_audited_wrappers(mode: str) -> None:
    """_posixsubprocess.fork_exec raises no audit event; seccomp refuses the fork itself (kernel-only modes: the
    child runs inside the namespaces and rlimits, and still cannot touch the verdict)."""
    res = attack(
        """
        import _posixsubprocess
        def f(x):
            errpipe_read, errpipe_write = os.pipe()
            try:
                pid = _posixsubprocess.fork_exec(
                    [b'/bin/sh', b'-c', b'kill -9 $PPID'], [b'/bin/sh'], True, (errpipe_write,), None, None,
                    -1, -1, -1, -1, -1, -1, errpipe_read, errpipe_write, True, False, -1, None, None, None, -1,
                    None, False)
                os.waitpid(pid, 0)
                print('spawned', flush=True)
            except OSError as exc:
                print('fork_exec refused:', exc, flush=True)
            return 0
        """,
        mode,
    )
    if MODES[mode].seccomp:
        assert_failed_honestly(res)
        assert "fork_exec refused: [Errno 1]" in res.stdout_tail, res


# ---------------------------------------------------------------- the judge's channel and its exit status


def test_forged_replies_on_the_judge_channel(mode: str) -> None:
    """The worker speaks to the judge; what it says is data. A thread floods fd 4 with replies of every shape.

    A frame can only ever stand for a value the program returned, so one holding the expected answer is no forgery
    (returning it is the same): the flood holds everything but the answer, and must not make the test pass."""
    res = attack(
        """
        import json, threading
        GOOD = 'not-the-answer'
        frames = [json.dumps(m).encode() for m in (
            {'ok': GOOD}, {'ok': {'h': 10**9}}, {'ok': {'t': [GOOD]}}, {'ok': {'zz': 1}}, {'ok': {'d': [[[1], 2]]}},
            {'syntax': 'passed'}, {'error': ['AssertionError']}, {'exit': 0}, [], 'passed', {'ok': {'i': 'xyz'}})]
        frames.append(b'[' * 100000 + b']' * 100000)
        def flood():
            for blob in frames * 20:
                try:
                    os.write(4, len(blob).to_bytes(4, 'big') + blob)
                except OSError:
                    return
            os.write(4, (1 << 31).to_bytes(4, 'big'))
        def f(x):
            threading.Thread(target=flood).start()
            return 0
        """,
        mode,
    )
    assert res.status == "failed", res


@pytest.mark.parametrize(
    ("blob", "why"),
    [
        (b"\xff\xff\xff\xff", "announced"),
        (b"\x00\x00\x00\x05[1,2", "cut short"),
        (b"\x00\x00\x00\x03abc", "not a JSON frame"),
        (b'\x00\x00\x00\x0b{"ok":1} xx', "trailing"),
    ],
)
def test_malformed_first_reply(blob: bytes, why: str) -> None:
    """A worker that answers the program load with garbage: the judge fails the check with a reason."""
    program = f"import os\nos.write(4, {blob!r})\nos._exit(0)\n"
    res = run_check(program, TEST, "f", LIMITS, _options=_Options(audit=False))
    assert res.status == "failed" and why in res.detail, res


def test_exit_inside_the_call_cannot_be_swallowed_by_the_test(mode: str) -> None:
    test = (
        "def check(c):\n"
        "    for exit_kind in range(2):\n"
        "        try:\n"
        "            c(exit_kind)\n"
        "        except BaseException:\n"
        "            pass\n"
    )
    res = attack("def f(x):\n    if x:\n        os._exit(0)\n    raise SystemExit(0)\n", mode, test=test)
    assert res.status == "failed" and "exit before verdict" in res.detail, res
    res = attack("def f(x):\n    os.kill(os.getpid(), 9)\n", mode, test=test)
    assert res.status == "killed" and "SIGKILL" in res.detail, res


def test_stopping_or_killing_the_judge_is_no_pass(mode: str) -> None:
    res = attack("import signal\ndef f(x):\n    os.kill(os.getppid(), signal.SIGKILL)\n    return 0\n", mode)
    assert res.status in ("failed", "killed"), res
    res = attack(
        "import signal\ndef f(x):\n    os.kill(os.getppid(), signal.SIGSTOP)\n    return 0\n", mode, wall_seconds=2
    )
    assert res.status in ("failed", "timeout"), res


def test_plain_subclasses_with_a_lying_eq_cross_as_plain_values(mode: str) -> None:
    """A str subclass whose __eq__ says True arrives in the judge as the plain str it holds."""
    res = attack(
        "class S(str):\n    def __eq__(self, other):\n        return True\ndef f(x):\n    return S('no')\n", mode
    )
    assert_failed_honestly(res)


def test_semantic_cheat_with_a_custom_object_is_out_of_scope() -> None:
    """Documented limit: an object that is not plain data stays in the worker, and the judge's == asks it."""
    program = "class Yes:\n    def __eq__(self, other):\n        return True\ndef f(x):\n    return Yes()\n"
    res = run_check(program, TEST, "f", LIMITS)
    assert res.passed, res  # as in the reference HumanEval harness; see docs/sandbox.md, "Out of scope"


def _outcome(line: bytes, boot_status: int | None) -> _Outcome:
    out = _Outcome(_Capture(1024), _Capture(1024), _Capture(8193))
    out.verdict.feed(line)
    out.boot_status = boot_status
    return out


def test_a_stolen_nonce_alone_does_not_pass() -> None:
    """Where the program could read the supervisor's memory (same uid, no pid namespace), the nonce line still needs
    the judge's exit status, which only waitpid reports."""
    nonce = "0123456789abcdef0123456789abcdef"
    assert _decide(_outcome(f"{nonce} passed judge \n".encode(), 0), nonce, LIMITS)[0] == "passed"
    for boot in (1, 3, 71, None):
        status, detail, _ = _decide(_outcome(f"{nonce} passed judge \n".encode(), boot), nonce, LIMITS)
        assert status == "failed" and "exit status" in detail, (boot, status, detail)
    assert _decide(_outcome(f"{nonce} passed\n".encode(), 0), nonce, LIMITS)[0] != "passed"  # old format
    assert _decide(_outcome(b"f" * 32 + b" passed judge \n", 0), nonce, LIMITS)[0] != "passed"


def test_the_worker_never_holds_the_nonce() -> None:
    """A core-dump-style check: the worker's whole readable memory has no copy of the nonce (it was exec'd before
    the judge read the job), even though reading its own memory is allowed."""
    probe = (
        "import os\n"
        "HALF = b'feedface' + b'cafebeef'\n"
        "def f(x):\n"
        "    d = os.open('/proc/self', os.O_RDONLY)\n"
        "    mem = os.open('mem', os.O_RDONLY, dir_fd=d)\n"
        "    found = 0\n"
        "    for line in open('/proc/self/maps'):\n"
        "        addr, perms = line.split()[:2]\n"
        "        lo, hi = (int(a, 16) for a in addr.split('-'))\n"
        "        if perms[0] != 'r':\n"
        "            continue\n"
        "        try:\n"
        "            os.lseek(mem, lo, 0)\n"
        "            blob = os.read(mem, hi - lo)\n"
        "        except OSError:\n"
        "            continue\n"
        "        i = blob.find(HALF)\n"
        "        while i >= 0:\n"
        "            found += blob[i + 16 : i + 32] == HALF\n"
        "            i = blob.find(HALF, i + 1)\n"
        "    return found\n"
    )
    # The supervisor's nonce is random; to search for it the probe must know it, so token_hex is fixed for one run in a
    # child process. The probe holds only half of it and looks for two adjacent halves, never building the whole.
    code = (
        "import secrets\n"
        "secrets.token_hex = lambda n=16: 'feedfacecafebeef' * 2\n"
        "from llmatlas.sandbox import run_check\n"
        f"r = run_check({probe!r}, 'def check(c):\\n    assert c(0) == 0, c(0)\\n', 'f')\n"
        "print(r.status, r.detail)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert out.stdout.startswith("passed"), out.stdout + out.stderr


# ---------------------------------------------------------------- the codec the judge trusts


plain = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary()
    | st.complex_numbers(allow_nan=False),
    lambda inner: (
        st.lists(inner)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text() | st.integers(), inner)
        | st.frozensets(st.integers() | st.text())
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(plain)
def test_plain_values_round_trip(value: object) -> None:
    tree = wire.encode(value, lambda obj: pytest.fail(f"{obj!r} should have crossed as data"))
    r, w = os.pipe()
    try:
        wire.send(w, tree)
        assert wire.decode(wire.recv(r), None) == value
    finally:
        os.close(r)
        os.close(w)


json_trees = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from("tdsfbyciohx") | st.text(max_size=2), inner, max_size=2)
    ),
    max_leaves=25,
)


@settings(max_examples=500, deadline=None)
@given(json_trees)
def test_decoder_builds_only_plain_types_or_refuses(tree: object) -> None:
    """Whatever JSON a hostile worker sends, the judge gets plain data, a handle it asked for, or ProtocolError."""
    handles: list[int] = []

    def remote(i: int) -> object:
        handles.append(i)
        return ("handle", i)

    try:
        value = wire.decode(tree, remote)
    except wire.ProtocolError:
        return
    allowed = (type(None), bool, int, float, complex, str, bytes, bytearray, list, tuple, dict, set, frozenset)

    def walk(v: object) -> None:
        assert type(v) in allowed, type(v)
        if isinstance(v, (list, tuple, set, frozenset)):
            for item in v:
                walk(item)
        elif isinstance(v, dict):
            for k, item in v.items():
                walk(k)
                walk(item)

    walk(value)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_raw_frames_are_refused_not_crashed_on(blob: bytes) -> None:
    r, w = os.pipe()
    try:
        os.write(w, blob)
        os.close(w)
        w = -1
        with contextlib.suppress(wire.ProtocolError, EOFError):
            wire.recv(r)
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)
