"""Serving engines: exact log-likelihood through vLLM's completions wire format (a local server that
answers in it with the embedded SmolLM2's real numbers), bounded concurrency with backoff, and a
campaign spread across two endpoints of one model."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmatlas import api
from llmatlas.backends.base import MCQuestion
from llmatlas.backends.embedded import smollm2_path
from llmatlas.backends.http import Response
from llmatlas.backends.openai import OpenAIBackend
from llmatlas.backends.registry import load_backend
from tests.vllm_fake import VLLMFake

REFERENCE = "smollm2?scoring_weights=file&threads=2"  # the same Q4_1 weights the fake serves

# A context whose rare characters are split across byte-level tokens: vLLM decodes each token
# alone ("�"), so its text_offset no longer point into the text.
BYTE_SPLIT = [
    MCQuestion(context="以下是关于鑫龘的单项选择题\n答案:", continuations=[" A", " B", " C", " D"]),
    MCQuestion(context="Which one is a fruit?\nAnswer:", continuations=[" apple", " 鑫龘 stone"]),
]


def echo(tokens: list[str], lps: list[float | None], text: str, prompt_tokens: int | None) -> Response:
    offsets, pos = [], 0
    for t in tokens:
        offsets.append(pos)
        pos += len(t)
    data = {
        "choices": [
            {
                "text": text,
                "logprobs": {"tokens": tokens, "token_logprobs": lps, "text_offset": offsets, "top_logprobs": None},
            }
        ],
        "usage": {"prompt_tokens": prompt_tokens} if prompt_tokens is not None else None,
    }
    return Response(data=data, error=None, attempts=1, latency_s=0.0)


def test_echo_split_by_token_count_when_offsets_are_not_positions() -> None:
    """vLLM's shape: 'é' in two byte tokens reads '��', so offsets run 1 ahead of the text."""
    backend = OpenAIBackend("m", base_url="http://127.0.0.1:9/v1", logprobs="prompt")
    tokens = ["Caf", "�", "�", " is", ":", " yes", " gen"]
    lps: list[float | None] = [None, -1.0, -2.0, -3.0, -4.0, -0.5, -9.0]
    resp = echo(tokens, lps, "Café is: yes gen", prompt_tokens=6)
    # by offsets, the context's ":" (offset 8, past the 8 characters of "Café is:") would be scored too...
    assert backend._by_offsets([0, 3, 4, 5, 8, 9, 13], 8, 12) == [4, 5]
    # ...the context's own token count says where it ends: 5 tokens
    score = backend._echo_score("Café is:", " yes", resp, context_tokens=5)
    assert (score.logprob, score.n_tokens) == (-0.5, 1)
    assert backend.offsets_unusable == 1
    # no usage reported: a recorded failure, never a score from misplaced tokens
    lost = backend._echo_score("Café is:", " yes", echo(tokens, lps, "Café is: yes gen", None), context_tokens=5)
    assert lost.logprob == -math.inf and backend.failed == 1
    # tokens that join into the text keep the offsets (no extra request)
    plain = echo(["The", " cat", " sat"], [None, -1.0, -2.0], "The cat sat", prompt_tokens=2)
    assert backend._echo_score("The", " cat", plain).logprob == -1.0 and backend.offsets_unusable == 2


@pytest.fixture(scope="module")
def vllm() -> Iterator[VLLMFake]:
    with VLLMFake(smollm2_path()).serving() as fake:
        yield fake


@pytest.fixture(scope="module")
def reference() -> Iterator[object]:
    backend = load_backend(REFERENCE)
    yield backend
    backend.close()


@pytest.mark.slow
def test_vllm_echo_scores_equal_the_model_even_with_byte_split_tokens(vllm: VLLMFake, reference: object) -> None:
    backend = load_backend(f"openai:HuggingFaceTB/SmolLM2-135M-Instruct?base_url={vllm.url}&logprobs=auto")
    try:
        got = backend.loglikelihood(BYTE_SPLIT)
        assert isinstance(backend, OpenAIBackend)
        assert backend.probe == "prompt log-probs available (cross-checked against generation)"
        want = reference.loglikelihood(BYTE_SPLIT)  # type: ignore[attr-defined]
        for g, w in zip(got, want, strict=True):
            assert [c.n_tokens for c in g] == [c.n_tokens for c in w]
            assert [c.logprob for c in g] == pytest.approx([c.logprob for c in w], abs=1e-4)
        stats = backend.stats()
        assert stats["offsets_unusable"] >= 4 and stats["mc_failed"] == 0 and stats["errors"] == 0
    finally:
        backend.close()


@pytest.mark.slow
def test_vllm_arc_run_matches_the_local_backend_with_backoff_and_bounded_concurrency(
    vllm: VLLMFake, tmp_path: Path
) -> None:
    vllm.faults[:] = [429, 503, 503]
    vllm.max_in_flight = 0
    spec = f"openai:HuggingFaceTB/SmolLM2-135M-Instruct?base_url={vllm.url}&logprobs=prompt&concurrency=2"
    spec += "&backoff_base=0.01"
    (served,) = api.evaluate(spec, ["arc_easy"], limit=6, journal_path=tmp_path / "j.sqlite")
    (local,) = api.evaluate(REFERENCE, ["arc_easy"], limit=6, journal_path=tmp_path / "j.sqlite")
    assert served.method == "loglikelihood" and served.complete and served.errors == 0
    assert served.backend_stats.get("retries") == 3  # the 429 and the two 503s, each retried
    assert vllm.max_in_flight <= 2
    assert {k: m.value for k, m in served.metrics.items()} == {k: m.value for k, m in local.metrics.items()}
    from llmatlas.engine.journal import Journal

    j = Journal(tmp_path / "j.sqlite")
    try:
        a, b = j.samples(served.run_id), j.samples(local.run_id)
    finally:
        j.close()
    assert [r.prediction for r in a] == [r.prediction for r in b]
    for x, y in zip(a, b, strict=True):
        assert x.logprobs == pytest.approx(y.logprobs, abs=1e-4)


@pytest.mark.slow
def test_campaign_spreads_over_two_vllm_endpoints(tmp_path: Path, vllm: VLLMFake) -> None:
    with VLLMFake(smollm2_path()).serving() as second:
        first_before = len(vllm.requests)
        specs = [f"openai:smol?base_url={f.url}&logprobs=prompt&concurrency=2" for f in (vllm, second)]
        p = tmp_path / "c.yaml"
        p.write_text(
            "name: two-endpoints\nmodels:\n  - name: smollm2-served\n    endpoints:\n"
            + "".join(f"      - '{s}'\n" for s in specs)
            + f"  - '{REFERENCE}'\ntasks: [arc_easy, arc_challenge]\nlimit: 4\njournal: c.sqlite\n",
            encoding="utf-8",
        )
        roll = api.run_campaign(p)
        assert len(vllm.requests) > first_before and second.requests
    served = [r for r in roll.rows if r.model == "smollm2-served"]
    local = [r for r in roll.rows if r.model == REFERENCE]
    assert [r.spec for r in served] == specs
    assert [r.metrics for r in served] == [r.metrics for r in local]
