"""The HTTP API backends (OpenAI-compatible, Anthropic) against loopback fake servers."""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import math
import re
import socket
import time
from collections.abc import Iterator

import pytest

from llmatlas.backends.anthropic import AnthropicBackend
from llmatlas.backends.base import Generation, GenerationRequest, MCQuestion
from llmatlas.backends.http import HTTPPool, letter_prompt, parse_letter, retry_after_seconds, sse_events
from llmatlas.backends.openai import OpenAIBackend
from llmatlas.backends.registry import load_backend
from llmatlas.core.errors import InputError
from tests.fake_servers import FakeServer, Fault, token_logprob, tokens

SECRET_OA = "sk-test-SECRET-openai-0123456789"
SECRET_AN = "sk-ant-SECRET-anthropic-9876543210"
FAST = {"backoff_base": "0.001", "backoff_max": "0.01", "timeout": "5"}


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET_OA)
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET_AN)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)


def answer_correct(prompt: str) -> str:
    """Answers the letter of the choice that contains the word 'correct'."""
    for m in re.finditer(r"^([A-Z])\. (.*)$", prompt, re.M):
        if "correct" in m.group(2):
            return f"{m.group(1)}"
    return "I don't know"


@pytest.fixture
def oa() -> Iterator[FakeServer]:
    with FakeServer("openai", answer=answer_correct) as srv:
        yield srv


@pytest.fixture
def an() -> Iterator[FakeServer]:
    with FakeServer("anthropic", answer=answer_correct) as srv:
        yield srv


def openai_backend(srv: FakeServer, **opts: str) -> OpenAIBackend:
    return OpenAIBackend("fake-model", base_url=srv.url, **(FAST | opts))


def anthropic_backend(srv: FakeServer, **opts: str) -> AnthropicBackend:
    return AnthropicBackend("claude-fake", base_url=srv.url, **(FAST | opts))


QUESTIONS = [
    MCQuestion("Q1: pick one.", ("wrong", "correct", "wrong too")),
    MCQuestion("Q2: pick one.", ("correct", "nope")),
    MCQuestion("Q3: pick one.", ("no", "no", "no", "correct")),
]
GOLD = [1, 0, 3]


def accuracy(scores: list[list[float]]) -> float:
    hits = [max(range(len(s)), key=lambda i: s[i]) == g for s, g in zip(scores, GOLD, strict=True)]
    return sum(hits) / len(hits)


# --- generation --------------------------------------------------------------------------


def test_openai_generation_chat_and_completions(oa: FakeServer) -> None:
    oa.answer = lambda p: "four words in reply"
    be = openai_backend(oa)
    gens = be.generate(
        [
            GenerationRequest("one two three", max_tokens=7, stop=("\n",), system="be brief"),
            GenerationRequest("legacy prompt here", chat=False),
        ]
    )
    assert [g.error for g in gens] == [None, None]
    assert gens[0].text == "four words in reply"
    assert (gens[0].input_tokens, gens[0].output_tokens) == (3, 4)
    assert (gens[1].input_tokens, gens[1].output_tokens) == (3, 4)
    assert gens[0].latency_s is not None and gens[0].latency_s >= 0
    paths = sorted(r.path for r in oa.requests)
    assert paths == ["/v1/chat/completions", "/v1/completions"]
    chat = next(r for r in oa.requests if r.path.endswith("chat/completions"))
    assert chat.body["messages"][0] == {"role": "system", "content": "be brief"}
    assert chat.body["max_tokens"] == 7 and chat.body["stop"] == ["\n"]
    assert chat.headers["authorization"] == f"Bearer {SECRET_OA}"
    be.close()


def test_anthropic_generation_headers_and_body(an: FakeServer) -> None:
    an.answer = lambda p: "hello there"
    be = anthropic_backend(an)
    (g,) = be.generate([GenerationRequest("a b c d", max_tokens=9, stop=("END",), system="sys", temperature=0.5)])
    assert g.error is None and g.text == "hello there"
    assert (g.input_tokens, g.output_tokens) == (4, 2)
    (req,) = an.requests
    assert req.path == "/v1/messages"
    assert req.headers["x-api-key"] == SECRET_AN
    assert req.headers["anthropic-version"] == "2023-06-01"
    assert req.body == {
        "model": "claude-fake",
        "max_tokens": 9,
        "messages": [{"role": "user", "content": "a b c d"}],
        "system": "sys",
        "stop_sequences": ["END"],
        "temperature": 0.5,
    }
    be.close()


def test_anthropic_prefill_is_a_final_assistant_turn(an: FakeServer) -> None:
    """The Messages API continues a last assistant message; it refuses one ending in whitespace."""
    an.answer = lambda p: "    return 1"
    be = anthropic_backend(an)
    (g,) = be.generate([GenerationRequest("write f", max_tokens=9, prefill="Here:\n```python\n")])
    assert g.error is None and g.text == "    return 1"
    (req,) = an.requests
    assert req.body["messages"] == [
        {"role": "user", "content": "write f"},
        {"role": "assistant", "content": "Here:\n```python"},
    ]
    be.close()


def test_openai_chat_refuses_a_prefill(oa: FakeServer) -> None:
    """OpenAI-compatible chat starts a new assistant turn: a prefill would be silently lost."""
    be = openai_backend(oa)
    with pytest.raises(InputError, match="prefilled assistant turn"):
        be.generate([GenerationRequest("write f", prefill="```python\n")])
    assert oa.requests == []
    be.close()


# --- retries and recorded errors ----------------------------------------------------------------


def test_429_retry_after_is_honoured_then_succeeds(oa: FakeServer) -> None:
    oa.faults = [Fault(status=429, retry_after="0.2"), Fault(status=429, retry_after="0.2")]
    be = openai_backend(oa)
    t0 = time.perf_counter()
    (g,) = be.generate([GenerationRequest("hi")])
    elapsed = time.perf_counter() - t0
    assert g.error is None
    assert g.extra["attempts"] == 3
    assert len(oa.requests) == 3
    assert elapsed >= 0.4  # backoff alone is <= 0.01 s here: the wait came from Retry-After
    be.close()


def test_persistent_500_gives_recorded_error_after_max_attempts(oa: FakeServer) -> None:
    oa.always = Fault(status=500)
    be = openai_backend(oa, max_attempts="3")
    (g,) = be.generate([GenerationRequest("hi")])
    assert g.text == "" and g.error is not None
    assert "HTTP 500" in g.error and "3 attempt" in g.error
    assert g.extra == {"status": 500, "attempts": 3}
    assert len(oa.requests) == 3
    assert be.errors[0].status == 500 and be.errors[0].attempts == 3
    be.close()


def test_non_retryable_status_is_not_retried(oa: FakeServer) -> None:
    oa.always = Fault(status=400, message="bad request")
    be = openai_backend(oa, max_attempts="4")
    (g,) = be.generate([GenerationRequest("hi")])
    assert g.error is not None and "HTTP 400" in g.error and "bad request" in g.error
    assert len(oa.requests) == 1
    be.close()


def test_truncated_json_gives_recorded_error(oa: FakeServer) -> None:
    oa.always = Fault(truncated=True)
    be = openai_backend(oa, max_attempts="2")
    (g,) = be.generate([GenerationRequest("hi")])
    assert g.error is not None and "invalid JSON" in g.error
    assert g.extra["attempts"] == 2
    be.close()


def test_truncated_once_then_ok(oa: FakeServer) -> None:
    oa.faults = [Fault(truncated=True)]
    be = openai_backend(oa)
    (g,) = be.generate([GenerationRequest("hi")])
    assert g.error is None and g.extra["attempts"] == 2
    be.close()


def test_anthropic_overloaded_error_shape(an: FakeServer) -> None:
    an.always = Fault(status=503, message="Overloaded")
    be = anthropic_backend(an, max_attempts="2")
    (g,) = be.generate([GenerationRequest("hi")])
    assert g.error is not None and "overloaded_error: Overloaded" in g.error
    assert len(an.requests) == 2
    be.close()


def test_connection_error_is_recorded() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    be = OpenAIBackend("m", base_url=f"http://127.0.0.1:{port}/v1", max_attempts="2", **FAST)
    (g,) = be.generate([GenerationRequest("hi")])
    assert g.error is not None and g.extra["status"] is None and g.extra["attempts"] == 2
    be.close()


# --- multiple choice ---------------------------------------------------------------------------


def test_letter_prompt_and_strict_parse() -> None:
    q = MCQuestion("Which? ", ("x", "y", "z"))
    assert letter_prompt(q) == "Which?\n\nA. x\nB. y\nC. z\nAnswer with the letter only."
    assert parse_letter("B", 3) == 1
    assert parse_letter("(C) because", 3) == 2
    assert parse_letter("Answer: A.", 3) == 0  # the A of 'Answer' is not standalone
    assert parse_letter("D", 3) is None
    assert parse_letter("I think B", 3) is None
    assert parse_letter("none", 3) is None


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_letter_fallback_mc_accuracy(kind: str, oa: FakeServer, an: FakeServer) -> None:
    be: OpenAIBackend | AnthropicBackend = openai_backend(oa) if kind == "openai" else anthropic_backend(an)
    assert be.mc_method == "generation"
    done: list[int] = []
    res = be.loglikelihood(QUESTIONS, progress=done.append)
    assert sum(done) == len(QUESTIONS)
    assert accuracy([[s.logprob for s in row] for row in res]) == 1.0
    for row, g in zip(res, GOLD, strict=True):
        assert [s.greedy for s in row] == [i == g for i in range(len(row))]
        assert all(s.n_tokens == 1 for s in row)
        assert row[g].logprob == 0.0 and all(math.isinf(s.logprob) for i, s in enumerate(row) if i != g)
    assert be.unparsed == 0
    be.close()


def test_letter_fallback_unparseable_counts(oa: FakeServer) -> None:
    oa.answer = lambda p: "I would say it is the second"
    be = openai_backend(oa)
    res = be.loglikelihood(QUESTIONS[:2])
    assert be.unparsed == 2
    assert all(s.logprob == -math.inf and not s.greedy for row in res for s in row)
    be.close()


def test_echo_logprobs_sums_continuation_tokens(oa: FakeServer) -> None:
    be = openai_backend(oa, logprobs="prompt")
    assert be.mc_method == "loglikelihood" and be.info().details["method"] == "loglikelihood"
    qs = [MCQuestion("The capital of France is", (" Paris", " Lyon city")), MCQuestion("Say ", ("yes", "no no"))]
    res = be.loglikelihood(qs)
    # "Say " + "yes": the trailing space moves to the continuation (" yes")
    expected = [[" Paris", " Lyon city"], [" yes", " no no"]]
    for row, conts in zip(res, expected, strict=True):
        for s, cont in zip(row, conts, strict=True):
            toks = tokens(cont)
            assert s.n_tokens == len(toks)
            assert s.logprob == pytest.approx(sum(token_logprob(t) for t in toks))
            assert s.greedy  # the fake's top-1 is always the echoed token
    bodies = [r.body for r in oa.requests]
    assert all(r.path == "/v1/completions" for r in oa.requests)
    assert all(b["echo"] is True and b["logprobs"] == 1 and b["max_tokens"] == 1 for b in bodies)
    assert sorted(b["prompt"] for b in bodies) == sorted(
        ["The capital of France is Paris", "The capital of France is Lyon city", "Say yes", "Say no no"]
    )
    be.close()


def test_echo_logprobs_error_gives_minus_inf(oa: FakeServer) -> None:
    oa.always = Fault(status=500)
    be = openai_backend(oa, logprobs="prompt", max_attempts="1")
    res = be.loglikelihood([MCQuestion("ctx", (" a", " b"))])
    assert all(s.logprob == -math.inf for s in res[0])
    assert be.failed == 2
    be.close()


# --- secrets ------------------------------------------------------------------------------


def test_api_key_sent_but_never_exposed(oa: FakeServer, an: FakeServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    oa.faults = [Fault(status=500, message=f"bad key {SECRET_OA} given")]
    an.faults = [Fault(status=401, message=f"invalid x-api-key {SECRET_AN}")]
    o = openai_backend(oa, max_attempts="1")
    a = anthropic_backend(an, max_attempts="1")
    (go,) = o.generate([GenerationRequest("hi")])
    (ga,) = a.generate([GenerationRequest("hi")])
    assert oa.requests[0].headers["authorization"] == f"Bearer {SECRET_OA}"
    assert an.requests[0].headers["x-api-key"] == SECRET_AN
    assert go.error is not None and "[redacted]" in go.error
    assert ga.error is not None and "[redacted]" in ga.error
    texts = [
        go.error,
        ga.error,
        str(go.extra),
        repr(o),
        repr(a),
        repr(o.pool),
        o.info().model_dump_json(),
        a.info().model_dump_json(),
        repr(o.errors),
        repr(a.errors),
        str(o.options),
        str(a.options),
    ]
    for t in texts:
        assert SECRET_OA not in t and SECRET_AN not in t
    # a transport error's text carries no key either
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = OpenAIBackend("m", base_url=f"http://127.0.0.1:{port}/v1", max_attempts="1", **FAST)
    (gd,) = dead.generate([GenerationRequest("hi")])
    assert gd.error is not None and SECRET_OA not in gd.error
    texts += [gd.error, repr(dead.errors), dead.info().model_dump_json()]
    for be in (o, a, dead):
        be.close()
    logged = caplog.text + "".join(repr(r.args) for r in caplog.records)
    assert caplog.records  # httpx logs every request at DEBUG/INFO: the check below is not vacuous
    for t in [*texts, logged]:
        assert SECRET_OA not in t and SECRET_AN not in t
        assert SECRET_OA[8:20] not in t and SECRET_AN[8:20] not in t  # not even a fragment


def test_api_key_in_spec_is_refused_without_echoing_it() -> None:
    with pytest.raises(InputError) as err:
        load_backend("openai:gpt-x?api_key=sk-leaked-123456")
    assert "sk-leaked" not in str(err.value) and "OPENAI_API_KEY" in str(err.value)
    with pytest.raises(InputError):
        AnthropicBackend("claude-x", api_key="sk-ant-leaked")


def test_api_key_env_option(oa: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_GATEWAY_KEY", "gw-key-xyz")
    be = openai_backend(oa, api_key_env="MY_GATEWAY_KEY")
    be.generate([GenerationRequest("hi")])
    assert oa.requests[0].headers["authorization"] == "Bearer gw-key-xyz"
    be.close()


def test_info_and_registry_spec(oa: FakeServer) -> None:
    be = load_backend(f"openai:gpt-x?base_url={oa.url}&concurrency=8&logprobs=prompt")
    assert isinstance(be, OpenAIBackend)
    info = be.info()
    assert info.backend == "openai" and info.model == "gpt-x"
    assert info.details["host"] == oa.url.split("//")[1].split("/")[0]
    assert info.details["method"] == "loglikelihood" and info.details["concurrency"] == 8
    be.close()
    ab = load_backend("anthropic:claude-x?max_attempts=2")
    assert isinstance(ab, AnthropicBackend)
    assert ab.info().details["host"] == "api.anthropic.com" and ab.pool.max_attempts == 2
    ab.close()


# --- concurrency -------------------------------------------------------------------------------


def test_concurrency_bounds_wall_time(oa: FakeServer) -> None:
    oa.always = Fault(delay=0.1)
    be = openai_backend(oa, concurrency="16")
    reqs = [GenerationRequest(f"prompt {i}") for i in range(64)]
    t0 = time.perf_counter()
    gens = be.generate(reqs)
    elapsed = time.perf_counter() - t0
    print(f"64 requests x 100 ms at concurrency 16: {elapsed:.3f} s")
    assert all(g.error is None for g in gens)
    assert [g.text for g in gens] == [answer_correct(r.prompt) for r in reqs]
    assert len(oa.requests) == 64
    assert elapsed < 1.3 * 0.4
    assert elapsed >= 0.39  # never more than 16 in flight
    be.close()


def test_pool_rejects_bad_settings() -> None:
    with pytest.raises(ValueError):
        HTTPPool("http://127.0.0.1:1", {}, concurrency=0)
    with pytest.raises(ValueError):
        HTTPPool("http://127.0.0.1:1", {}, max_attempts=0)


# --- Retry-After as an HTTP date ------------------------------------------------------------------


def test_retry_after_parsing() -> None:
    now = dt.datetime(2026, 10, 21, 7, 28, 0, tzinfo=dt.UTC)
    assert retry_after_seconds("3", now) == 3.0
    assert retry_after_seconds("0.25", now) == 0.25
    assert retry_after_seconds("Wed, 21 Oct 2026 07:28:07 GMT", now) == 7.0
    assert retry_after_seconds("Wed, 21 Oct 2026 07:27:00 GMT", now) == 0.0  # in the past: no wait
    assert retry_after_seconds("-5", now) == 0.0
    for bad in (None, "", "soon", "nan", "inf"):
        assert retry_after_seconds(bad, now) is None


def test_retry_after_http_date_is_honoured(oa: FakeServer) -> None:
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)
    oa.faults = [Fault(status=503, retry_after=email.utils.format_datetime(when, usegmt=True))]
    delays: list[float] = []
    pool = HTTPPool(oa.url, {}, sleep=delays.append, backoff_base_s=0.001)
    resp = pool.post_json("chat/completions", {"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    assert resp.error is None and resp.attempts == 2
    (delay,) = delays
    assert 28.0 <= delay <= 30.0  # the date's whole seconds, not the 1 ms backoff
    pool.close()


# --- streaming --------------------------------------------------------------------------------


@pytest.mark.parametrize("chat", [True, False])
def test_streaming_records_ttft_and_usage(oa: FakeServer, chat: bool) -> None:
    oa.answer = lambda p: "alpha beta gamma delta"
    oa.stream_gap = 0.3
    be = openai_backend(oa, stream="1")
    (g,) = be.generate([GenerationRequest("one two three", chat=chat)])
    assert g.error is None and g.text == "alpha beta gamma delta"
    assert (g.input_tokens, g.output_tokens) == (3, 4)
    assert g.extra["finish_reason"] == "stop"
    assert g.ttft_s is not None and g.latency_s is not None
    assert g.ttft_s < 0.2 <= 0.3 <= g.latency_s  # first token before the gap, the rest after it
    (req,) = oa.requests
    assert req.body["stream"] is True and req.body["stream_options"] == {"include_usage": True}
    be.close()


def test_stream_cut_off_mid_event_is_retried(oa: FakeServer) -> None:
    oa.answer = lambda p: "x y z"
    oa.faults = [Fault(truncated=True)]
    be = openai_backend(oa, stream="1")
    (g,) = be.generate([GenerationRequest("hi")])
    assert g.error is None and g.text == "x y z" and g.extra["attempts"] == 2
    be.close()


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_stream_yields_text_as_it_arrives(oa: FakeServer, an: FakeServer, kind: str) -> None:
    """The playground's stream: pieces arrive while the server is still writing, then the Generation.
    The backend streams even without ``stream=1`` (that option is for batch runs)."""
    srv = oa if kind == "openai" else an
    srv.answer = lambda p: "alpha beta gamma delta"
    srv.stream_gap = 0.3
    be = openai_backend(oa) if kind == "openai" else anthropic_backend(an)
    start = time.perf_counter()
    seen: list[tuple[float, str]] = []
    final = None
    for item in be.stream(GenerationRequest("one two three")):
        if isinstance(item, Generation):
            final = item
        else:
            seen.append((time.perf_counter() - start, item))
    assert final is not None and final.error is None and final.text == "alpha beta gamma delta"
    assert "".join(t for _, t in seen) == final.text and len(seen) >= 2
    assert seen[0][0] < 0.2 and final.latency_s is not None and final.latency_s >= 0.3  # first piece before the gap
    assert final.output_tokens == 4 and final.ttft_s is not None
    assert srv.requests[0].body["stream"] is True
    be.close()


def test_stream_reports_failure_as_a_generation(oa: FakeServer) -> None:
    oa.always = Fault(status=500)
    be = openai_backend(oa, max_attempts="2")
    items = list(be.stream(GenerationRequest("hi")))
    assert len(items) == 1 and isinstance(items[0], Generation) and items[0].error and "500" in items[0].error
    be.close()


# --- echo log-probs: probing, generated tokens, tokenization boundary ---------------------------------


def probe_answer(prompt: str) -> str:
    return " Paris, of course" if prompt == "The capital of France is" else answer_correct(prompt)


def test_logprobs_auto_probe_finds_echo(oa: FakeServer) -> None:
    oa.answer = probe_answer
    be = openai_backend(oa, logprobs="auto")
    assert len(oa.requests) == 0  # no network at construction
    info = be.info()
    assert info.details["method"] == "loglikelihood" == be.mc_method
    assert info.details["probe"] == "prompt log-probs"
    assert be.probe == "prompt log-probs available (cross-checked against generation)"
    gen, echo = (r.body for r in oa.requests)
    assert gen == {
        "model": "fake-model",
        "prompt": "The capital of France is",
        "max_tokens": 1,
        "temperature": 0.0,
        "logprobs": 1,
    }
    assert echo["prompt"] == "The capital of France is Paris," and echo["echo"] is True
    be.loglikelihood(QUESTIONS[:1])
    assert len(oa.requests) == 2 + 3  # the probe's two requests, then one request per choice
    be.close()


def test_logprobs_auto_probe_rejects_shifted_echo(oa: FakeServer) -> None:
    """Echoed log-probs off by one position (llama-cpp-python's server, models without BOS) would
    score every choice with the wrong numbers: the probe notices and answers by letters."""
    oa.answer = probe_answer
    oa.echo_shift = True
    be = openai_backend(oa, logprobs="auto")
    res = be.loglikelihood(QUESTIONS)
    assert be.mc_method == "generation" == be.info().details["method"]
    assert be.probe is not None and "disagree with generation" in be.probe
    assert accuracy([[s.logprob for s in row] for row in res]) == 1.0
    be.close()


def test_logprobs_auto_probe_without_generated_logprobs_uses_top_token(oa: FakeServer) -> None:
    oa.answer = probe_answer
    be = openai_backend(oa, logprobs="auto")
    orig = be.pool.post_json

    def no_gen_logprobs(path: str, body: dict[str, object], **kw: object) -> object:
        resp = orig(path, body, **kw)  # type: ignore[arg-type]
        if not body.get("echo") and resp.data:
            resp.data["choices"][0]["logprobs"] = None
        return resp

    be.pool.post_json = no_gen_logprobs  # type: ignore[assignment, method-assign]
    assert be.info().details["method"] == "loglikelihood"
    oa.echo_shift = True
    shifted = openai_backend(oa, logprobs="auto")
    shifted.pool.post_json = no_gen_logprobs  # type: ignore[assignment, method-assign]
    assert shifted.info().details["method"] == "generation"
    be.close()
    shifted.close()


def test_logprobs_auto_probe_falls_back_to_letters(oa: FakeServer) -> None:
    oa.echo_logprobs = False
    be = openai_backend(oa, logprobs="auto")
    res = be.loglikelihood(QUESTIONS)
    assert be.mc_method == "generation" == be.info().details["method"]
    assert be.info().details["probe"] == "none"  # stable: info() is part of the run's identity
    assert be.probe is not None and "no prompt log-probs" in be.probe and "HTTP 400" in be.probe
    assert accuracy([[s.logprob for s in row] for row in res]) == 1.0
    assert sum(r.path == "/v1/completions" for r in oa.requests) == 2  # the probe's two, not retried (400)
    be.close()


def test_echo_ignores_generated_tokens(oa: FakeServer) -> None:
    oa.echo_generated = 3  # a server that ignores max_tokens: 0
    be = openai_backend(oa, logprobs="prompt")
    (row,) = be.loglikelihood([MCQuestion("Pick:", (" red", " green blue"))])
    assert [s.n_tokens for s in row] == [1, 2]
    assert row[1].logprob == pytest.approx(token_logprob(" green") + token_logprob(" blue"))
    be.close()


def test_echo_token_straddling_the_boundary(oa: FakeServer) -> None:
    be = openai_backend(oa, logprobs="prompt")
    # joint text "Say bar x": the fake tokenizer gives "Say", " bar", " x"; " bar" starts in the context
    (row,) = be.loglikelihood([MCQuestion("Say ba", ("r x", "rn"))])
    assert be.boundary_straddles == 2
    assert row[0].n_tokens == 1 and row[0].logprob == pytest.approx(token_logprob(" x"))
    # no token starts inside "rn": the straddling " barn" is scored rather than a free 0
    assert row[1].n_tokens == 1 and row[1].logprob == pytest.approx(token_logprob(" barn"))
    assert "boundary_straddles" not in be.info().details  # a running count would change the run id
    be.close()


def test_bad_logprobs_option_is_input_error() -> None:
    with pytest.raises(InputError):
        OpenAIBackend("m", logprobs="yes please")


def test_echo_progress_counts_questions(oa: FakeServer) -> None:
    be = openai_backend(oa, logprobs="prompt")
    done: list[int] = []
    be.loglikelihood([*QUESTIONS, MCQuestion("empty", ())], progress=done.append)
    assert sum(done) == len(QUESTIONS) + 1
    be.close()


def test_malformed_200_is_a_recorded_error(oa: FakeServer, an: FakeServer) -> None:
    oa.always = an.always = Fault(body={"id": "x"})  # a 200 without the documented fields
    be = openai_backend(oa)
    ab = anthropic_backend(an)
    for backend in (be, ab):
        (g,) = backend.generate([GenerationRequest("hi")])
        assert g.error is not None and "unexpected response shape" in g.error
        assert backend.errors and backend.errors[0].status == 200
        backend.close()


# --- faults from the wire: each ends in a successful retry or an honest recorded error --------------


@pytest.mark.parametrize("status", [429, 500, 502, 503, 529])
@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_retryable_statuses_then_success(kind: str, status: int, oa: FakeServer, an: FakeServer) -> None:
    srv = oa if kind == "openai" else an
    srv.faults = [Fault(status=status), Fault(status=status)]
    be: OpenAIBackend | AnthropicBackend = openai_backend(oa) if kind == "openai" else anthropic_backend(an)
    (g,) = be.generate([GenerationRequest("hi")])
    assert g.error is None and g.extra["attempts"] == 3 and len(srv.requests) == 3
    counted = {"requests": 1, "retries": 2, "errors": 0, "mc_failed": 0, "mc_unparsed": 0}
    if kind == "openai":  # echo scoring's counter of responses split by token count
        counted["offsets_unusable"] = 0
    assert be.stats() == counted
    be.close()


def test_anthropic_529_overloaded_recorded_after_retries(an: FakeServer) -> None:
    an.always = Fault(status=529, message="Overloaded")
    be = anthropic_backend(an, max_attempts="3")
    (g,) = be.generate([GenerationRequest("hi")])
    assert g.error == "HTTP 529 after 3 attempt(s): overloaded_error: Overloaded"
    assert g.text == "" and g.extra == {"status": 529, "attempts": 3}
    assert be.stats()["errors"] == 1 and be.stats()["retries"] == 2
    be.close()


def test_anthropic_rate_limit_error_body_and_retry_after(an: FakeServer) -> None:
    an.faults = [Fault(status=429, retry_after="0.15", message="Number of request tokens has exceeded your limit")]
    be = anthropic_backend(an)
    t0 = time.perf_counter()
    (g,) = be.generate([GenerationRequest("hi")])
    assert g.error is None and g.extra["attempts"] == 2
    assert time.perf_counter() - t0 >= 0.15
    be.close()


def test_anthropic_missing_key_is_401_not_retried(an: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    be = anthropic_backend(an)
    (g,) = be.generate([GenerationRequest("hi")])
    assert g.error is not None and "HTTP 401" in g.error and "authentication_error" in g.error
    assert len(an.requests) == 1
    be.close()


def test_429_without_retry_after_backs_off_with_jitter(oa: FakeServer) -> None:
    oa.faults = [Fault(status=429)] * 3
    delays: list[float] = []
    pool = HTTPPool(oa.url, {}, sleep=delays.append, backoff_base_s=0.5, backoff_max_s=1.5)
    resp = pool.post_json("chat/completions", {"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    assert resp.error is None and resp.attempts == 4
    caps = [0.5, 1.0, 1.5]  # base * 2**(attempt-1), capped at backoff_max
    assert len(delays) == 3 and all(0.0 <= d <= c for d, c in zip(delays, caps, strict=True))
    pool.close()


def test_backoff_is_exponential_with_full_jitter() -> None:
    pool = HTTPPool("http://127.0.0.1:1", {}, backoff_base_s=0.1, backoff_max_s=10.0)
    for attempt, cap in [(1, 0.1), (3, 0.4), (6, 3.2), (12, 10.0)]:
        draws = [pool.backoff(attempt) for _ in range(300)]
        assert all(0.0 <= d <= cap for d in draws)
        assert max(draws) > 0.8 * cap and min(draws) < 0.2 * cap  # spread over the whole range
    pool.close()


def test_retry_after_ms_and_x_should_retry(oa: FakeServer) -> None:
    oa.faults = [Fault(status=429, headers={"retry-after-ms": "250", "retry-after": "9"})]
    delays: list[float] = []
    pool = HTTPPool(oa.url, {}, sleep=delays.append)
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    assert pool.post_json("chat/completions", body).error is None
    assert delays == [0.25]  # the finer header wins
    oa.faults = [Fault(status=503, headers={"x-should-retry": "false"})]
    resp = pool.post_json("chat/completions", body)
    assert resp.error is not None and resp.error.status == 503 and resp.attempts == 1
    oa.faults = [Fault(status=409, headers={"x-should-retry": "true"})]
    assert pool.post_json("chat/completions", body).attempts == 2
    pool.close()


def test_slow_response_times_out_and_is_retried(oa: FakeServer) -> None:
    oa.faults = [Fault(delay=1.0)]
    be = openai_backend(oa, timeout="0.25")
    t0 = time.perf_counter()
    (g,) = be.generate([GenerationRequest("hi")])
    assert g.error is None and g.extra["attempts"] == 2
    assert time.perf_counter() - t0 < 0.9  # gave up on the slow attempt instead of waiting for it
    be.close()


def test_persistently_slow_server_gives_recorded_timeout(an: FakeServer) -> None:
    an.always = Fault(delay=0.6)
    be = anthropic_backend(an, timeout="0.15", max_attempts="2")
    (g,) = be.generate([GenerationRequest("hi")])
    assert g.error is not None and "timeout" in g.error and g.extra == {"status": None, "attempts": 2}
    be.close()


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_connection_closed_mid_body(kind: str, oa: FakeServer, an: FakeServer) -> None:
    srv = oa if kind == "openai" else an
    be: OpenAIBackend | AnthropicBackend = openai_backend(oa) if kind == "openai" else anthropic_backend(an)
    srv.faults = [Fault(cut=True)]
    (g,) = be.generate([GenerationRequest("hi")])
    assert g.error is None and g.extra["attempts"] == 2
    srv.always = Fault(cut=True)
    (g,) = be.generate([GenerationRequest("hi")])
    assert g.error is not None and "RemoteProtocolError" in g.error and g.extra["attempts"] == 5
    be.close()


def test_sse_parser_follows_the_spec() -> None:
    lines = [": keep-alive", "event: message_start", 'data: {"a":', "data: 1}", "", "id: 7", "", "data:[DONE]"]
    assert list(sse_events(iter(lines))) == ['{"a":\n1}', "[DONE]"]


@pytest.mark.parametrize("chat", [True, False])
def test_openai_stream_without_done_is_retried_then_recorded(oa: FakeServer, chat: bool) -> None:
    oa.answer = lambda p: "x y z"
    oa.faults = [Fault(early_end=True)]
    be = openai_backend(oa, stream="1", max_attempts="2")
    (g,) = be.generate([GenerationRequest("hi", chat=chat)])
    assert g.error is None and g.text == "x y z" and g.extra["attempts"] == 2
    oa.always = Fault(early_end=True)
    (g,) = be.generate([GenerationRequest("hi", chat=chat)])
    assert g.error is not None and "stream ended before data: [DONE]" in g.error and g.text == ""
    be.close()


def test_openai_error_inside_stream(oa: FakeServer) -> None:
    oa.faults = [Fault(stream_error="server_error", message="model crashed")]
    be = openai_backend(oa, stream="1", max_attempts="2")
    (g,) = be.generate([GenerationRequest("hi")])
    assert g.error is None and g.extra["attempts"] == 2
    oa.always = Fault(stream_error="server_error", message="model crashed")
    (g,) = be.generate([GenerationRequest("hi")])
    assert g.error is not None and "error event in stream: model crashed" in g.error
    be.close()


def test_openai_stream_without_usage_support(oa: FakeServer) -> None:
    """A server that ignores stream_options (llama-cpp-python) leaves the counts unknown, not 0."""
    oa.answer = lambda p: "a b"
    be = openai_backend(oa, stream="1")
    orig = be._body

    def without_options(r: GenerationRequest) -> tuple[str, dict[str, object]]:
        path, body = orig(r)
        body.pop("stream_options")
        return path, body

    be._body = without_options  # type: ignore[method-assign]
    (g,) = be.generate([GenerationRequest("hi")])
    assert g.error is None and g.text == "a b" and g.input_tokens is None and g.output_tokens is None
    be.close()


def test_anthropic_streaming_records_ttft_usage_and_stop_reason(an: FakeServer) -> None:
    an.answer = lambda p: "alpha beta gamma delta"
    an.stream_gap = 0.3
    be = anthropic_backend(an, stream="1")
    (g,) = be.generate([GenerationRequest("one two three", system="sys")])
    assert g.error is None and g.text == "alpha beta gamma delta"
    assert (g.input_tokens, g.output_tokens) == (3, 4)
    assert g.extra["stop_reason"] == "end_turn"
    assert g.ttft_s is not None and g.latency_s is not None
    assert g.ttft_s < 0.2 <= 0.3 <= g.latency_s
    (req,) = an.requests
    assert req.body["stream"] is True and req.body["system"] == "sys"
    be.close()


BROKEN_STREAMS = [Fault(truncated=True), Fault(early_end=True), Fault(stream_error="overloaded_error")]


@pytest.mark.parametrize("fault", BROKEN_STREAMS)
def test_anthropic_broken_stream_is_retried(an: FakeServer, fault: Fault) -> None:
    an.answer = lambda p: "x y z"
    an.faults = [fault]
    be = anthropic_backend(an, stream="1")
    (g,) = be.generate([GenerationRequest("hi")])
    assert g.error is None and g.text == "x y z" and g.extra["attempts"] == 2
    be.close()


def test_anthropic_stream_errors_recorded(an: FakeServer) -> None:
    be = anthropic_backend(an, stream="1", max_attempts="3")
    an.always = Fault(early_end=True)
    (g,) = be.generate([GenerationRequest("hi")])
    assert g.error is not None and "stream ended before message_stop" in g.error and g.extra["attempts"] == 3
    an.always = Fault(stream_error="invalid_request_error", message="prompt is too long")
    (g,) = be.generate([GenerationRequest("hi")])  # a client error: retrying cannot help
    assert g.error is not None and "invalid_request_error: prompt is too long" in g.error
    assert g.extra["attempts"] == 1
    assert be.stats()["errors"] == 2
    be.close()


def test_seed_sent_where_the_api_takes_it(oa: FakeServer, an: FakeServer) -> None:
    o, a = openai_backend(oa), anthropic_backend(an)
    o.generate([GenerationRequest("hi", seed=7, temperature=0.8)])
    a.generate([GenerationRequest("hi", seed=7, temperature=0.8)])
    assert oa.requests[0].body["seed"] == 7
    assert "seed" not in an.requests[0].body  # the Messages API has no seed
    o.close()
    a.close()


def test_history_turns_are_sent(oa: FakeServer, an: FakeServer) -> None:
    hist = (("user", "first"), ("assistant", "reply"))
    o, a = openai_backend(oa), anthropic_backend(an)
    o.generate([GenerationRequest("second", history=hist, system="s")])
    a.generate([GenerationRequest("second", history=hist, system="s")])
    turns = [{"role": "user", "content": "first"}, {"role": "assistant", "content": "reply"}]
    last = {"role": "user", "content": "second"}
    assert oa.requests[0].body["messages"] == [{"role": "system", "content": "s"}, *turns, last]
    assert an.requests[0].body["messages"] == [*turns, last]
    o.close()
    a.close()


def test_credentials_in_base_url_move_to_basic_auth(oa: FakeServer) -> None:
    url = oa.url.replace("http://", "http://gate:pw-SECRET-77@")
    be = OpenAIBackend("m", base_url=url, **FAST)
    (g,) = be.generate([GenerationRequest("hi")])
    assert g.error is None
    assert oa.requests[0].headers["authorization"].startswith("Basic ")
    for text in (repr(be), be.info().model_dump_json(), be.base_url):
        assert "pw-SECRET-77" not in text and "gate" not in text
    be.close()


def test_openai_stream_interrupted_by_server_is_not_an_answer(oa: FakeServer) -> None:
    """``[DONE]`` right after the first token and no finish_reason: llama-cpp-python's server
    interrupting a stream for the next request. Retried, and recorded if it keeps happening."""
    oa.answer = lambda p: "one two three"
    oa.faults = [Fault(interrupted=True)]
    be = openai_backend(oa, stream="1", max_attempts="2")
    (g,) = be.generate([GenerationRequest("hi")])
    assert g.error is None and g.text == "one two three" and g.extra["attempts"] == 2
    oa.always = Fault(interrupted=True)
    (g,) = be.generate([GenerationRequest("hi")])
    assert g.error is not None and "without a finish_reason" in g.error and g.text == ""
    be.close()
