"""API backends under load: throughput at bounded concurrency, storms of faults in which every
request ends in a success or an honest recorded error, and an API key that never leaks."""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from llmatlas.backends.anthropic import AnthropicBackend
from llmatlas.backends.base import GenerationRequest, MCQuestion
from llmatlas.backends.openai import OpenAIBackend
from llmatlas.backends.registry import load_backend
from llmatlas.core.errors import InputError
from llmatlas.engine.journal import Journal
from llmatlas.engine.runner import EvalConfig, run_task
from tests.fake_servers import FakeServer, Fault, Recorded

DATA = Path(__file__).parent / "data"
KEYS = {"openai": "sk-proj-LEAKCHECK-5f3a9c1e7b2d40681c", "anthropic": "sk-ant-api03-LEAKCHECK-0d9e8f7a6b5c"}
FAST = {"backoff_base": "0.001", "backoff_max": "0.01", "timeout": "5"}

Backend = OpenAIBackend | AnthropicBackend
QUESTIONS = [MCQuestion("Q1: pick one.", (" yes", " no")), MCQuestion("Q2: pick one.", (" up", " down", " left"))]


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEYS["openai"])
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEYS["anthropic"])
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)


def backend(kind: str, srv: FakeServer, **opts: str) -> Backend:
    options = FAST | opts
    if kind == "openai":
        return OpenAIBackend("fake-model", base_url=srv.url, **options)
    return AnthropicBackend("claude-fake", base_url=srv.url, **options)


def prompt_of(rec: Recorded) -> str:
    if "messages" in rec.body:
        return str(rec.body["messages"][-1]["content"])
    return str(rec.body.get("prompt", ""))


# --- throughput ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_throughput_200_requests_of_200ms_at_concurrency_16(kind: str) -> None:
    with FakeServer(kind) as srv:
        srv.always = Fault(delay=0.2)
        be = backend(kind, srv, concurrency="16")
        reqs = [GenerationRequest(f"prompt number {i}", max_tokens=8) for i in range(200)]
        t0 = time.perf_counter()
        gens = be.generate(reqs)
        elapsed = time.perf_counter() - t0
        be.close()
    ideal = 200 * 0.2 / 16
    print(f"{kind}: 200 requests x 200 ms at concurrency 16: {elapsed:.3f} s (ideal {ideal:.2f} s)")
    assert [g.error for g in gens] == [None] * 200
    assert [g.text for g in gens] == [f"echo: {r.prompt}" for r in reqs]  # in input order
    assert len(srv.requests) == 200
    assert srv.max_in_flight <= 16  # bounded
    assert elapsed < 1.3 * ideal


# --- fault storms: the run goes on, every request is accounted for -----------------------------------

TRANSIENT = [
    Fault(status=429, retry_after="0.05"),
    Fault(status=429),
    Fault(status=500),
    Fault(status=502),
    Fault(status=503),
    Fault(status=529),
    Fault(delay=0.8),  # longer than the client's timeout
    Fault(truncated=True),  # invalid JSON; streamed: the connection drops mid-event
    Fault(cut=True),  # connection closed mid-body
]
STREAM_ONLY = [Fault(early_end=True), Fault(stream_error="overloaded_error")]


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_fault_storm_every_request_succeeds_or_is_recorded(kind: str, stream: bool) -> None:
    with FakeServer(kind) as srv:
        # "doomed" prompts fail every time; the others meet the scripted transient faults in turn
        srv.rule = lambda rec: Fault(status=500, message="always broken") if "doomed" in prompt_of(rec) else None
        script = TRANSIENT * 2 + (STREAM_ONLY * 2 if stream else [])
        random.Random(7).shuffle(script)
        srv.faults = list(script)
        be = backend(kind, srv, concurrency="8", max_attempts="10", timeout="0.4", stream="1" if stream else "")
        reqs = [GenerationRequest(f"doomed {i}" if i % 10 == 3 else f"fine {i}") for i in range(60)]
        gens = be.generate(reqs)
        be.close()
    for r, g in zip(reqs, gens, strict=True):
        if r.prompt.startswith("doomed"):
            kind_of_error = "api_error" if kind == "anthropic" else "server_error"
            assert g.text == "" and g.error == f"HTTP 500 after 10 attempt(s): {kind_of_error}: always broken"
            assert g.extra == {"status": 500, "attempts": 10}
        else:
            assert g.error is None and g.text == f"echo: {r.prompt}", g.error
            assert g.input_tokens == 2 and g.output_tokens == 3
            assert g.latency_s is not None and (g.ttft_s is not None) == stream
    assert not srv.faults  # every scripted fault was served
    stats = be.stats()
    assert stats["requests"] == 60 and stats["errors"] == 6
    assert sum(g.extra["attempts"] for g in gens) == len(srv.requests) == 60 + stats["retries"]


# --- the API key: sent, and nowhere else --------------------------------------------------------------


def leaky_rule(key: str) -> Callable[[Recorded], Fault | None]:
    """Faults whose messages quote the key back, as some servers do."""

    def rule(rec: Recorded) -> Fault | None:
        prompt = prompt_of(rec)
        if "ZZQX" in prompt:  # refused for good (401 is not retried)
            return Fault(status=401, message=f"Incorrect API key provided: {key}")
        if "photosynthesis" in prompt:  # the first ARC question fails on every attempt
            return Fault(status=500, message=f"internal error for {key}")
        return None

    return rule


def leaky_faults(key: str) -> list[Fault]:
    """Transient faults (retried) that also quote the key."""
    return [
        Fault(status=429, message=f"rate limited for key {key}"),
        Fault(status=503, message=f"overloaded ({key})", retry_after="0.01"),
        Fault(truncated=True),
    ] * 3


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_api_key_never_leaks_anywhere(
    kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    """Errors, retries, DEBUG logs (httpx, httpcore, llmatlas), stderr, generations, results and a
    journaled engine run (the openai backend scoring by prompt log-probs, whose scores the journal
    stores) carry no trace of the key."""
    key = KEYS[kind]
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "llmatlas"):
        caplog.set_level(logging.DEBUG, logger=name)
    log_file = tmp_path / "debug.log"
    file_handler = logging.FileHandler(log_file, encoding="utf-8")
    file_handler.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(file_handler)
    out = tmp_path / "out"
    out.mkdir()
    texts: list[str] = []
    try:
        # a key given as an option is refused without being repeated
        with pytest.raises(InputError) as refused:
            load_backend(f"{kind}:m?base_url=http://127.0.0.1:9&api_key={key}")
        texts += [str(refused.value), repr(refused.value)]

        with FakeServer(kind, answer=lambda p: "A") as srv:
            srv.rule = leaky_rule(key)
            srv.faults = leaky_faults(key)
            spec = f"{kind}:m?base_url={srv.url}&concurrency=4&max_attempts=10&backoff_base=0.001&backoff_max=0.01"
            be = load_backend(spec)
            assert isinstance(be, OpenAIBackend | AnthropicBackend)
            try:
                gens = be.generate([GenerationRequest("ZZQX?"), GenerationRequest("hello", max_tokens=4)])
                task_qs = [MCQuestion("Why is photosynthesis the foundation?", (" light", " land")), *QUESTIONS]
                scores = be.loglikelihood(task_qs)
                (out / "generations.json").write_text(
                    json.dumps([g.__dict__ for g in gens], default=str), encoding="utf-8"
                )
                (out / "scores.json").write_text(json.dumps([[s.__dict__ for s in r] for r in scores]), "utf-8")
                (out / "stats.json").write_text(json.dumps(be.stats()), encoding="utf-8")
                texts += [repr(be), repr(be.pool), repr(be.errors), str(be.options), be.info().model_dump_json()]
                texts += [repr(g) for g in gens]
                stats = be.stats()
            finally:
                be.close()
            assert srv.requests and all(key in str(r.headers) for r in srv.requests)  # it was sent

        if kind == "openai":  # an engine run, journaled, with results written as the CLI writes them
            with FakeServer(kind) as srv:
                srv.faults = leaky_faults(key)
                be = load_backend(f"openai:m?base_url={srv.url}&logprobs=prompt&max_attempts=10&backoff_base=0.001")
                jr = Journal(tmp_path / "runs.sqlite")
                try:
                    res = run_task(be, "arc_easy", EvalConfig(limit=12, data_dir=str(DATA)), jr)
                    (out / "arc_easy.json").write_text(res.model_dump_json(indent=2), encoding="utf-8")
                    with (out / "arc_easy_samples.jsonl").open("w", encoding="utf-8") as f:
                        f.writelines(rec.model_dump_json() + "\n" for rec in jr.samples(res.run_id))
                finally:
                    jr.close()
                    be.close()
            assert res.n == 12 and res.complete and res.method == "loglikelihood"
            assert not srv.faults  # the leaky faults were met (and retried) during the run
    finally:
        logging.getLogger().removeHandler(file_handler)
        file_handler.close()

    assert gens[0].error is not None and "HTTP 401" in gens[0].error and "[redacted]" in gens[0].error
    assert gens[1].error is None
    assert stats["retries"] >= 6 and stats["errors"] >= 2 and stats["mc_failed"] >= 1
    assert all(math.isinf(s.logprob) for s in scores[0])  # the doomed question: recorded, not guessed
    assert any("retrying" in r.getMessage() and "[redacted]" in r.getMessage() for r in caplog.records)
    assert any(r.name.startswith("httpx") for r in caplog.records)
    captured = capfd.readouterr()
    logged = caplog.text + "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records)
    written = b"".join(p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file())
    assert log_file.stat().st_size > 0
    fragment = key[8:24]  # not even a piece of it
    for blob in [*texts, logged, captured.out, captured.err]:
        assert key not in blob and fragment not in blob
    assert key.encode() not in written and fragment.encode() not in written


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_engine_run_by_letters_goes_on_through_failures(kind: str, tmp_path: Path) -> None:
    with FakeServer(kind, answer=lambda p: "A") as srv:
        srv.rule = leaky_rule(KEYS[kind])
        srv.faults = leaky_faults(KEYS[kind])
        be = load_backend(f"{kind}:m?base_url={srv.url}&concurrency=4&max_attempts=10&backoff_base=0.001")
        assert isinstance(be, OpenAIBackend | AnthropicBackend)
        jr = Journal(tmp_path / "runs.sqlite")
        try:
            res = run_task(be, "arc_easy", EvalConfig(limit=12, data_dir=str(DATA)), jr)
        finally:
            jr.close()
            be.close()
    assert res.n == 12 and res.complete and res.method == "generation"
    assert be.failed == 1  # the question that failed on every attempt is counted
    assert res.errors >= 1  # and the results say so
