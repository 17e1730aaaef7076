"""The code-execution sandbox: hostile programs are contained, scored as failures and leave the host unharmed.

Each adversarial program pairs with a test that passes only if the attack worked, so "not passed" means contained.
Every case runs under each isolation path this machine offers: the full default, the kernel layers alone (no audit
hook), no namespaces (as in a Docker container without CAP_SYS_ADMIN), and — when the suite runs as root — the
non-root paths, forced by starting the bootstrap as uid 65534.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmatlas.sandbox import SandboxLimits, SandboxResult, run_check, run_many
from llmatlas.sandbox.supervisor import _alt_python, _Options

ROOT = os.geteuid() == 0
LIMITS = SandboxLimits(cpu_seconds=2, wall_seconds=5, memory_bytes=512 << 20, max_output_bytes=64 << 10)
SECRET = "sk-test-llmatlas-0123456789abcdef"

MODES: dict[str, _Options] = {
    "default": _Options(),
    "no-audit": _Options(audit=False),
    "no-ns": _Options(namespaces=False),
}
if ROOT:
    MODES["no-ns-no-audit"] = _Options(namespaces=False, audit=False)
    if _alt_python() is not None:
        MODES["nonroot"] = _Options(as_user=65534)
        MODES["nonroot-no-audit"] = _Options(as_user=65534, audit=False)
        MODES["nonroot-no-ns"] = _Options(as_user=65534, namespaces=False)

_ISOLATION: dict[str, set[str]] = {}


def _isolation(mode: str) -> set[str]:
    if mode not in _ISOLATION:
        res = run_check("x = 1", "assert x == 1", None, LIMITS, _options=MODES[mode])
        assert res.passed, res
        _ISOLATION[mode] = set(res.isolation)
    return _ISOLATION[mode]


def _require(mode: str, layer: str) -> None:
    """Without the audit hook, some attacks are only stopped by a kernel layer; skip where this host lacks it."""
    opts = MODES[mode]
    if opts.audit:
        return
    iso = _isolation(mode)
    other_uid = "uid" in iso or opts.as_user is not None
    ok = {
        "fs": other_uid or "ro-root" in iso,
        "net": "netns" in iso,
        "kill": other_uid or "pidns" in iso,
        "env": other_uid or "proc" in iso,
        "introspection": True,  # the verdict lives in another process: no audit hook needed
    }[layer]
    if not ok:
        pytest.skip(f"{mode}: no kernel layer for {layer} on this host (the audit hook covers it)")


@pytest.fixture(params=list(MODES))
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def check(program: str, test: str, mode: str, entry_point: str | None = None, **limits: object) -> SandboxResult:
    lim = LIMITS.model_copy(update=limits) if limits else LIMITS
    return run_check(program, test, entry_point, lim, _options=MODES[mode])


def assert_still_usable(mode: str) -> None:
    """Whatever the last program did, the next check must still work."""
    sane = run_check("y = 2", "assert y == 2", None, LIMITS, _options=MODES[mode])
    assert sane.passed, f"sandbox unusable after the previous program: {sane}"


def _alive_with_home(work: str) -> list[int]:
    """Processes still running with the sandbox's HOME (its work dir): leftovers of a contained program."""
    needle = f"HOME={work}\0".encode()
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if needle in Path(f"/proc/{pid}/environ").read_bytes():
                    found.append(int(pid))
            except OSError:
                continue
    return found


def _assert_no_leftovers(res: SandboxResult) -> None:
    work = res.stdout_tail.splitlines()[0] if res.stdout_tail else ""
    assert work.startswith("/"), res
    for _ in range(20):
        if not _alive_with_home(work):
            return
        time.sleep(0.1)
    raise AssertionError(f"processes survived the check: {_alive_with_home(work)}")


def _humaneval_first() -> dict[str, str]:
    for path in (Path(__file__).parent / "data" / "humaneval.jsonl", Path("/work/shared/data/humaneval.jsonl")):
        if path.exists():
            row: dict[str, str] = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
            return row
    pytest.skip("no HumanEval data")


# ---------------------------------------------------------------- correct programs pass, wrong ones fail


def test_humaneval_canonical_passes_and_wrong_fails(mode: str) -> None:
    row = _humaneval_first()
    good = check(row["prompt"] + row["canonical_solution"], row["test"], mode, row["entry_point"])
    assert good.passed and good.status == "passed", good
    bad = check(row["prompt"] + "    return True\n", row["test"], mode, row["entry_point"])
    assert not bad.passed and bad.status == "failed" and bad.detail.startswith("AssertionError"), bad
    assert "assert candidate" in bad.stderr_tail  # the traceback shows the failing line of the test


def test_plain_asserts_without_entry_point() -> None:
    assert check("def f(x):\n    return x * 2\n", "assert f(3) == 6", "default").passed
    res = check("def f(x):\n    return x + 2\n", "assert f(3) == 6, 'f(3) wrong'", "default")
    assert res.status == "failed" and res.detail == "AssertionError: f(3) wrong", res


def test_syntax_error_is_error() -> None:
    res = check("def f(:\n    pass\n", "assert True", "default")
    assert res.status == "error" and res.detail.startswith("SyntaxError"), res
    res = check("x = 1", "def check(c):\n  assert (", "default", "x")
    assert res.status == "error" and "<test>" in res.detail, res


def test_missing_entry_point_and_missing_check() -> None:
    res = check("def g(): pass", "def check(c):\n    assert c() is None", "default", "f")
    assert res.status == "failed" and "'f'" in res.detail, res
    res = check("def f(): pass", "assert True", "default", "f")
    assert res.status == "error" and "check" in res.detail, res
    # A check() defined by the program never stands in for a test that has none.
    res = check("def f(): pass\ndef check(c):\n    pass\n", "assert True", "default", "f")
    assert res.status == "error" and "check" in res.detail, res


def test_ordinary_stdlib_works_under_the_audit_hook() -> None:
    modules = (
        "asyncio collections concurrent.futures dataclasses decimal enum fractions functools hashlib heapq inspect "
        "itertools json logging math multiprocessing random re signal socket sqlite3 statistics string tempfile "
        "threading traceback typing unittest warnings"
    )
    program = (
        "import os, " + ", ".join(modules.split()) + "\n"
        "from concurrent.futures import ThreadPoolExecutor\n"
        "P = collections.namedtuple('P', 'x y')\n"
        "E = enum.Enum('E', 'R G')\n"
        "T = typing.TypeVar('T')\n"
        "@dataclasses.dataclass\nclass D:\n    x: int = 1\n"
        "open('out.txt', 'w').write('hi')\n"
        "os.makedirs('a/b')\nos.rename('a/b', 'c')\nos.rmdir('c')\n"
        "os.remove('out.txt')\nopen('out.txt', 'w').write('hi')\n"
        "with open(os.devnull, 'w') as fh:\n    fh.write('x')\n"
        "with tempfile.TemporaryDirectory() as d:\n    open(os.path.join(d, 'a'), 'w').write('1')\n"
        "async def one():\n    return 1\n"
        "with ThreadPoolExecutor(4) as ex:\n    total = sum(ex.map(abs, range(-3, 0)))\n"
        "logging.warning('logged')\n"
        "warnings.warn('warned')\n"
        "a, b = socket.socketpair()\na.send(b'z')\n"
        "db = sqlite3.connect(':memory:')\n"
        "def f():\n    return P(1, 2).x + D().x + E.G.value + asyncio.run(one()) + total + len(b.recv(1))\n"
    )
    res = check(program, "assert f() == 12 and open('out.txt').read() == 'hi'", "default")
    assert res.passed, res
    assert "logged" in res.stderr_tail and "warned" in res.stderr_tail


# ---------------------------------------------------------------- resource exhaustion


def test_fork_bomb_os_fork(mode: str) -> None:
    program = (
        "import os, time\n"
        "print(os.getcwd(), flush=True)\n"
        "n = 0\n"
        "while n < 10000:\n"
        "    try:\n"
        "        pid = os.fork()\n"
        "    except OSError:\n"
        "        break\n"
        "    if pid == 0:\n"
        "        time.sleep(300)\n"
        "        os._exit(0)\n"
        "    n += 1\n"
        "print('forked', n, flush=True)\n"
    )
    res = check(program, "assert n >= 10000", mode)
    assert not res.passed, res
    if not MODES[mode].audit:  # the kernel stopped it: RLIMIT_NPROC
        assert "forked" in res.stdout_tail and int(res.stdout_tail.split()[-1]) <= LIMITS.max_processes + 2, res
    _assert_no_leftovers(res)
    assert_still_usable(mode)


def test_fork_bomb_subprocess_and_multiprocessing(mode: str) -> None:
    program = (
        "import os, sys, subprocess, multiprocessing\n"
        "print(os.getcwd(), flush=True)\n"
        "procs = []\n"
        "def spin():\n"
        "    while True:\n"
        "        pass\n"
        "for i in range(200):\n"
        "    try:\n"
        "        if i % 2:\n"
        "            procs.append(subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)']))\n"
        "        else:\n"
        "            p = multiprocessing.get_context('fork').Process(target=spin)\n"
        "            p.start()\n"
        "            procs.append(p)\n"
        "    except Exception:\n"
        "        break\n"
        "print('spawned', len(procs), flush=True)\n"
    )
    res = check(program, "assert len(procs) == 200", mode)
    assert not res.passed, res
    _assert_no_leftovers(res)
    assert_still_usable(mode)


@pytest.mark.parametrize("mode", ["default", "nonroot-no-ns"] if "nonroot-no-ns" in MODES else ["default"])
def test_cpu_bound_infinite_loop(mode: str) -> None:
    res = check("while True:\n    pass\n", "assert True", mode, cpu_seconds=1, wall_seconds=10)
    assert res.status == "timeout" and "CPU" in res.detail, res
    assert res.seconds < 10, res


@pytest.mark.parametrize("mode", [m for m in ("default", "no-ns-no-audit", "nonroot-no-ns", "no-ns") if m in MODES])
def test_sleep_hits_the_wall_clock(mode: str) -> None:
    program = "import os, time\nprint(os.getcwd(), flush=True)\nif os.fork() == 0:\n    os.setsid()\ntime.sleep(1000)\n"
    opts = MODES[mode]
    if opts.audit:
        program = "import os, time\nprint(os.getcwd(), flush=True)\ntime.sleep(1000)\n"
    else:  # seccomp would refuse the fork: switch it off to exercise the kill chain on a setsid escaper
        opts = dataclasses.replace(opts, seccomp=False)
    res = run_check(program, "assert True", None, LIMITS.model_copy(update={"wall_seconds": 1.0}), _options=opts)
    assert res.status == "timeout" and "wall" in res.detail, res
    assert res.seconds < 1.0 + 2.0, res
    _assert_no_leftovers(res)
    assert_still_usable(mode)


def test_huge_allocation(mode: str) -> None:
    res = check("x = bytearray(50 * 2**30)", "assert len(x) > 0", mode)
    assert res.status == "failed" and res.detail.startswith("MemoryError"), res


def test_growing_list(mode: str) -> None:
    res = check("x = []\nwhile True:\n    x.append(bytearray(10**7))\n", "assert x", mode, memory_bytes=128 << 20)
    assert not res.passed and res.status in ("failed", "killed"), res
    assert_still_usable(mode)


def test_recursion_bomb_segfault_is_a_failure(mode: str) -> None:
    # Recursing through C (getattr) with the limit lifted overflows the C stack: SIGSEGV.
    program = (
        "import sys\nsys.setrecursionlimit(10**6)\n"
        "class A:\n    def __getattr__(self, name):\n        return getattr(self, name)\n"
        "A().x\n"
    )
    res = check(program, "assert True", mode)
    assert res.status == "killed" and "SIGSEGV" in res.detail, res
    # Pure-Python recursion with the limit lifted: 3.11 keeps those frames off the C stack, so it just burns CPU.
    if mode == "default":
        deep = "import sys\nsys.setrecursionlimit(10**6)\ndef f(n):\n    return f(n + 1) + 1\nf(0)\n"
        res = check(deep, "assert True", mode, cpu_seconds=1)
        assert not res.passed and res.status in ("failed", "timeout", "killed"), res
    plain = check("def f(n):\n    return f(n + 1)\nf(0)\n", "assert True", mode)
    assert plain.status == "failed" and plain.detail.startswith("RecursionError"), plain
    assert_still_usable(mode)


def test_hundred_megabytes_of_stdout_are_capped(mode: str) -> None:
    program = "import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(100):\n    sys.stdout.write(chunk)\nprint('END')\n"
    tracemalloc.start()
    try:
        res = run_check(program, "assert False", None, LIMITS, _options=MODES[mode])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert res.status == "failed", res
    assert res.stdout_bytes == 100 * (1 << 20) + 4, res.stdout_bytes
    assert len(res.stdout_tail) == LIMITS.max_output_bytes and res.stdout_tail.endswith("xxEND\n")
    assert peak < 8 << 20, f"the parent buffered {peak} bytes"


# ---------------------------------------------------------------- the host is not harmed


@pytest.fixture
def canary(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "canary.txt"
    path.write_text("alive")
    yield path
    assert path.read_text() == "alive"


def test_cannot_delete_or_write_outside(mode: str, canary: Path) -> None:
    _require(mode, "fs")
    program = f"""
import os, shutil
CANARY = {str(canary)!r}
def sh(cmd):
    if os.system(cmd) != 0:
        raise OSError('the shell command failed')
attempts = [
    lambda: os.remove(CANARY),
    lambda: open(CANARY, 'w').write('pwned'),
    lambda: os.rename(CANARY, CANARY + '.x'),
    lambda: shutil.rmtree(os.path.dirname(CANARY)),
    lambda: shutil.rmtree(os.path.dirname(os.getcwd())),
    lambda: os.symlink(CANARY, 'link') or open('link', 'w').write('pwned'),
    lambda: open('/etc/llmatlas-sandbox-pwned', 'w').write('pwned'),
    lambda: sh('rm -rf ' + os.path.dirname(CANARY)),
]
done = 0
for attempt in attempts:
    try:
        attempt()
        done += 1
    except Exception as exc:
        print('blocked', type(exc).__name__)
"""
    res = check(program, "assert done > 0", mode)
    assert not res.passed, res
    assert canary.read_text() == "alive"
    assert not Path("/etc/llmatlas-sandbox-pwned").exists()
    assert_still_usable(mode)


def test_no_network(mode: str) -> None:
    _require(mode, "net")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    program = f"""
import socket
ok = []
def attempt(fn):
    try:
        fn()
        ok.append(fn)
    except Exception as exc:
        print('blocked', type(exc).__name__, exc)
attempt(lambda: socket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'pwned'))
attempt(lambda: socket.getaddrinfo('example.com', 80))
attempt(lambda: socket.create_connection(('example.com', 80), timeout=2))
import _socket
attempt(lambda: _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM).connect(('127.0.0.1', {port})))
"""
    try:
        res = check(program, "assert ok", mode)
        assert not res.passed, res
        listener.settimeout(0.3)
        with pytest.raises(TimeoutError):
            listener.accept()
    finally:
        listener.close()


def test_killing_the_parent(mode: str) -> None:
    _require(mode, "kill")
    program = f"""
import os, signal
for target in (lambda: os.kill(os.getppid(), 9), lambda: os.killpg(0, 9), lambda: os.kill({os.getpid()}, 9),
               lambda: os.kill(-1, 9)):
    try:
        target()
    except Exception as exc:
        print('blocked', type(exc).__name__)
"""
    res = check(program, "assert False, 'still alive'", mode)
    assert not res.passed, res  # and we are still here to say so
    assert_still_usable(mode)


def test_environment_secrets_do_not_leak(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _require(mode, "env")
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    program = """
import os
print(dict(os.environ))
leaked = [k for k, v in os.environ.items() if 'sk-' in v]
for pid in os.listdir('/proc'):
    if pid.isdigit():
        try:
            data = open(f'/proc/{pid}/environ', 'rb').read()
        except OSError as exc:
            continue
        if b'OPENAI_API_KEY' in data:
            leaked.append(pid)
            print(data)
"""
    res = check(program, "assert leaked", mode)
    assert not res.passed, res
    assert SECRET not in res.stdout_tail and SECRET not in res.stderr_tail
    assert "OPENAI_API_KEY" not in res.stdout_tail


# ---------------------------------------------------------------- the verdict cannot be faked


def test_sys_exit_before_the_asserts(mode: str) -> None:
    res = check("import sys\ndef f():\n    return 0\nsys.exit(0)\n", "def check(c):\n    assert c() == 1", mode, "f")
    assert res.status == "failed" and res.detail.startswith("exit before verdict"), res


def test_os_exit_before_the_asserts(mode: str) -> None:
    res = check("import os\nprint('passed')\nos._exit(0)\n", "assert False", mode)
    assert res.status == "failed" and res.detail == "exit before verdict (exit code 0)", res


def test_monkeypatching_the_checker(mode: str) -> None:
    program = """
import builtins, sys, os, atexit, threading
def f(x):
    return -1
def check(candidate):  # the test's own check replaces this one
    pass
def abs(x):  # shadows the builtin the test uses
    return 0
def rebind():
    while True:
        globals()['check'] = lambda c: None
threading.Thread(target=rebind, daemon=True).start()
atexit.register(lambda: print('passed'))
atexit.register(lambda: [os.write(fd, b'0123456789abcdef passed \\n') for fd in range(3, 16)])
builtins.AssertionError = type('AssertionError', (Exception,), {})
builtins.abs = lambda x: 0
builtins.len = lambda x: 0
sys.exit = lambda *a: None
os._exit = lambda *a: None
print('ALL TESTS PASSED')
"""
    test = "def check(candidate):\n    assert abs(candidate(1) - 1) < 1e-9\n    assert len([1]) == 1\n"
    res = check(program, test, mode, "f")
    assert res.status == "failed" and res.detail.startswith("AssertionError"), res


def test_forged_verdict_lines(mode: str) -> None:
    program = """
import os
for fd in range(3, 32):
    for line in (b'passed\\n', b'0' * 32 + b' passed \\n'):
        try:
            os.write(fd, line)
        except OSError:
            pass
def f():
    return 0
"""
    res = check(program, "def check(c):\n    assert c() == 1", mode, "f")
    assert res.status == "failed", res
    # fd 4 is the worker's channel to the judge: garbage there is a protocol failure, never a verdict
    assert res.detail.startswith(("AssertionError", "verdict channel", "the program broke the judge protocol")), res


def test_introspection_to_steal_the_nonce(mode: str) -> None:
    _require(mode, "introspection")
    program = """
import sys, gc, os, re, signal
found = set()
def scan(obj):
    for v in list(getattr(obj, 'values', lambda: [])()):
        if isinstance(v, str) and re.fullmatch('[0-9a-f]{32}', v):
            found.add(v)
def grab(*args):
    for attempt in (lambda: [scan(f.f_locals) for f in [sys._getframe(1)]],
                    lambda: [found.update(o for o in gc.get_objects() if isinstance(o, str) and len(o) == 32)],
                    lambda: open('/proc/self/mem', 'rb'),
                    lambda: signal.signal(signal.SIGALRM, lambda s, frame: scan(frame.f_back.f_locals))):
        try:
            attempt()
        except Exception as exc:
            print('blocked', type(exc).__name__)
    for nonce in found:
        os.write(3, (nonce + ' passed \\n').encode())
grab()
def f():
    grab()
    return 0
"""
    res = check(program, "def check(c):\n    assert c() == 1", mode, "f")
    assert not res.passed, res


# ---------------------------------------------------------------- concurrency


def test_run_many_keeps_order() -> None:
    items: list[tuple[str, str, str | None]] = [(f"x = {i}", f"assert x == {i}", None) for i in range(6)]
    items[3] = ("x = 0", "assert x == 3", None)
    results = run_many(items, LIMITS, workers=3)
    assert [r.passed for r in results] == [True, True, True, False, True, True]
    assert run_many([], LIMITS) == []
