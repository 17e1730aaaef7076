"""The openai backend against a real OpenAI-compatible server: llama-cpp-python's, on loopback, serving
the embedded SmolLM2 model. Chat and completions, streaming with TTFT, usage counts, and multiple
choice by whatever method the backend resolves (the results must say which)."""

from __future__ import annotations

import importlib.util
import math
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from llmatlas.backends.base import GenerationRequest, MCQuestion
from llmatlas.backends.openai import OpenAIBackend
from llmatlas.core.errors import LlmatlasError
from llmatlas.tasks.registry import get_task

pytestmark = pytest.mark.slow

DATA = Path(__file__).parent / "data"
READY_TIMEOUT_S = 120.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_ready(base_url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Poll ``GET /models`` until the server answers, it dies, or the timeout passes."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"llama_cpp.server exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"{base_url}/models", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    pytest.fail(f"llama_cpp.server not ready after {READY_TIMEOUT_S:.0f} s:\n{log.read_text(errors='replace')[-3000:]}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    for module in ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"llama-cpp-python[server] is not installed ({module} missing)")
    from llmatlas.backends.embedded import smollm2_path

    try:
        model = smollm2_path()
    except LlmatlasError as exc:
        pytest.skip(str(exc))
    port = _free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model)]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_ready(base_url, proc, log)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def backend(url: str, **opts: str) -> OpenAIBackend:
    return OpenAIBackend("smollm2", base_url=url, timeout="60", **opts)


REQUESTS = [
    GenerationRequest("What is the capital of France? Answer in one word.", max_tokens=12, seed=1),
    GenerationRequest("List three colours:", max_tokens=24, system="You are terse.", stop=("\n\n",)),
    GenerationRequest("The capital of France is", max_tokens=8, chat=False),
    GenerationRequest("1, 2, 3, 4,", max_tokens=10, chat=False, stop=("\n",)),
]


def test_chat_and_completions_generation(server: str) -> None:
    be = backend(server, concurrency="2")
    gens = be.generate(REQUESTS)
    be.close()
    for r, g in zip(REQUESTS, gens, strict=True):
        assert g.error is None, g.error
        assert g.text.strip(), r
        assert g.input_tokens is not None and g.input_tokens > 0
        assert g.output_tokens is not None and 0 < g.output_tokens <= r.max_tokens
        assert g.latency_s is not None and g.latency_s > 0 and g.ttft_s is None
        assert g.extra["finish_reason"] in ("stop", "length") and g.extra["attempts"] == 1
        for stop in r.stop:
            assert stop not in g.text
    assert gens[2].input_tokens is not None and gens[0].input_tokens is not None
    assert gens[2].input_tokens < gens[0].input_tokens  # a bare prompt vs. a chat template around one
    assert be.stats() == {
        "requests": 4,
        "retries": 0,
        "errors": 0,
        "mc_failed": 0,
        "mc_unparsed": 0,
        "offsets_unusable": 0,
    }


def test_streaming_records_ttft_and_matches_plain_text(server: str) -> None:
    plain = backend(server).generate(REQUESTS)
    be = backend(server, stream="1", concurrency="1")  # see the next test for why 1
    gens = be.generate(REQUESTS)
    be.close()
    for p, g in zip(plain, gens, strict=True):
        assert g.error is None, g.error
        assert g.text == p.text  # greedy decoding: the streamed pieces add up to the same answer
        assert g.ttft_s is not None and g.latency_s is not None and 0 < g.ttft_s <= g.latency_s
        assert g.extra["finish_reason"] in ("stop", "length") and g.extra["attempts"] == 1
        # llama-cpp-python ignores stream_options.include_usage: unknown counts stay None, never 0
        assert g.output_tokens is None or g.output_tokens > 0


def test_interrupted_streams_are_never_empty_successes(server: str) -> None:
    """llama-cpp-python's server ends a running stream with ``[DONE]`` (no finish reason) as soon
    as another request waits: at concurrency 2 each answer is either whole or a recorded error."""
    plain = backend(server).generate(REQUESTS)
    be = backend(server, stream="1", concurrency="2", max_attempts="3", backoff_base="0.05", backoff_max="0.2")
    gens = be.generate(REQUESTS)
    be.close()
    for p, g in zip(plain, gens, strict=True):
        if g.error is None:
            assert g.text == p.text and g.extra["finish_reason"] in ("stop", "length")
        else:
            assert g.text == "" and "without a finish_reason" in g.error, g.error
    stats = be.stats()
    print(f"llama_cpp.server streams at concurrency 2: {stats}")
    assert stats["requests"] == len(REQUESTS) and stats["errors"] == sum(g.error is not None for g in gens)


def test_multiple_choice_states_its_method(server: str) -> None:
    task = get_task("arc_easy")
    questions = [task.question(d) for d in task.load(str(DATA)).samples[:8]]
    be = backend(server, logprobs="auto")
    info = be.info()  # resolves the method: prompt log-probs only if the server's echo is right
    assert info.details["method"] == be.mc_method in ("loglikelihood", "generation")
    assert info.details["probe"] == ("prompt log-probs" if be.mc_method == "loglikelihood" else "none")
    assert be.probe is not None
    print(f"llama_cpp.server multiple choice: method={be.mc_method} probe={be.probe!r}")
    rows = be.loglikelihood(questions)
    be.close()
    assert len(rows) == len(questions) and be.stats()["errors"] == 0
    for q, row in zip(questions, rows, strict=True):
        assert len(row) == len(q.continuations)
        if be.mc_method == "loglikelihood":
            assert all(math.isfinite(s.logprob) and s.logprob < 0 and s.n_tokens > 0 for s in row)
        else:  # one letter chosen, or none when the answer named no choice (counted)
            assert sum(s.greedy for s in row) <= 1
    if be.mc_method == "generation":
        assert sum(any(s.greedy for s in row) for row in rows) == len(rows) - be.unparsed

    # the letter method, asked for explicitly, says so too
    letters = backend(server, logprobs="none")
    (row,) = letters.loglikelihood([MCQuestion("Which number is even?", (" 3", " 4", " 7"))])
    assert letters.mc_method == "generation" == letters.info().details["method"]
    assert "probe" not in letters.info().details
    assert len(row) == 3 and letters.stats()["requests"] == 1 and letters.stats()["errors"] == 0
    letters.close()
