"""The llama backend on the embedded SmolLM2 (slow tier): shared-context scores equal per-choice ones,
prefixes shared across questions are evaluated once, long prompts are cut by lm-eval's rule."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from llmatlas.backends.base import ContinuationScore, MCQuestion
from llmatlas.backends.llama import (
    MIN_WINDOW,
    LlamaBackend,
    batch_spans,
    common_prefix,
    gguf_context_length,
    truncate_context,
)
from llmatlas.backends.registry import load_backend
from llmatlas.core.errors import InputError
from llmatlas.engine.journal import Journal
from llmatlas.engine.runner import EvalConfig, run_task
from llmatlas.tasks.generation import GenerationTask
from llmatlas.tasks.multiple_choice import MultipleChoiceTask
from llmatlas.tasks.registry import get_task

pytestmark = pytest.mark.slow
DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def smollm2():  # type: ignore[no-untyped-def]
    b = load_backend("smollm2")
    yield b
    b.close()


def test_shared_context_equals_per_choice_reference(smollm2) -> None:  # type: ignore[no-untyped-def]
    task = get_task("arc_easy")
    assert isinstance(task, MultipleChoiceTask)
    questions = [task.question(d) for d in task.load(str(DATA)).samples[:25]]
    questions.append(MCQuestion("The capital of France is", (" Paris", " a", " Lyon, a city of France")))
    fast = smollm2.loglikelihood(questions)
    ref = smollm2.loglikelihood_reference(questions)
    for f_row, r_row in zip(fast, ref, strict=True):
        for f, r in zip(f_row, r_row, strict=True):
            assert f.n_tokens == r.n_tokens and f.greedy == r.greedy
            assert abs(f.logprob - r.logprob) <= 1e-4


def test_chunk_size_gives_identical_predictions(smollm2, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    results = []
    for chunk in (1, 16):
        jr = Journal(tmp_path / f"j{chunk}.sqlite")
        res = run_task(smollm2, "arc_easy", EvalConfig(limit=20, data_dir=str(DATA), chunk=chunk), jr)
        results.append([(s.prediction, s.logprobs) for s in jr.samples(res.run_id)])
        jr.close()
    assert results[0] == results[1]


def test_real_eval_beats_nothing_and_records_audit_data(smollm2, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    jr = Journal(tmp_path / "j.sqlite")
    res = run_task(smollm2, "hellaswag", EvalConfig(limit=20, data_dir=str(DATA)), jr)
    assert res.n == 20 and 0.0 <= res.metrics["acc"].value <= 1.0
    assert res.backend == "llama" and res.backend_details["sha256_1MiB"]
    s = jr.samples(res.run_id)[0]
    assert len(s.logprobs) == 4 and all(lp < 0 for lp in s.logprobs)


# ---------------------------------------------------------------------------------- issue 16
# Cross-question prefix reuse, the context window and lm-eval's truncation, generation reuse.

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
TOL = 1e-4


def _same(fast: list[list[ContinuationScore]], ref: list[list[ContinuationScore]]) -> None:
    assert len(fast) == len(ref)
    for f_row, r_row in zip(fast, ref, strict=True):
        assert len(f_row) == len(r_row)
        for f, r in zip(f_row, r_row, strict=True):
            assert f.n_tokens == r.n_tokens and f.greedy == r.greedy
            assert abs(f.logprob - r.logprob) <= TOL
        best = max(range(len(r_row)), key=lambda i: r_row[i].logprob)
        assert max(range(len(f_row)), key=lambda i: f_row[i].logprob) == best


def _synthetic_few_shot() -> list[MCQuestion]:
    """Two 'subjects', each a long few-shot prefix shared by two questions, with multi-token choices;
    plus contexts whose shared *text* prefix ends inside a word (the token prefix ends earlier)."""
    out = []
    for topic, facts in (
        ("geography", ["Paris is in France", "Rome is in Italy", "Lima is in Peru", "Oslo is in Norway"]),
        ("chemistry", ["water is H2O", "salt is NaCl", "rust is Fe2O3", "chalk is CaCO3"]),
    ):
        shots = "".join(f"Question: Is it true that {f}?\nAnswer: yes\n\n" for f in facts * 3)
        prefix = f"The following are questions about {topic}.\n\n{shots}"
        for q in ("Is Berlin in Germany?", "Is the sea salty?"):
            out.append(MCQuestion(prefix + f"Question: {q}\nAnswer:", (" yes", " no", " yes, of course", " no way")))
    mid = out[0].context[: len(out[0].context) // 2]
    out.append(MCQuestion(mid + "interconnect", (" A", " B", " interconnected")))
    out.append(MCQuestion(mid + "interconnectedness", (" A", " B")))
    out.append(MCQuestion(mid + "inter", (" connect", " national")))
    return out


def _mmlu_few_shot() -> list[MCQuestion]:
    """MMLU 5-shot questions of two subjects (~370-token prompts), when the developer data is here."""
    if not (SHARED / "mmlu_test.jsonl").is_file():
        return []
    task = get_task("mmlu_5shot")
    assert isinstance(task, MultipleChoiceTask)
    ds = task.load(str(SHARED))
    keep = {"abstract_algebra": 2, "anatomy": 1}
    samples, seen = [], dict.fromkeys(keep, 0)
    for d in ds.samples:
        if d.group in keep and seen[d.group] < keep[d.group]:
            samples.append(d)
            seen[d.group] += 1
    return task.prompts(samples, ds.fewshot)


def test_few_shot_prefix_reuse_equals_reference_for_any_chunk(smollm2) -> None:  # type: ignore[no-untyped-def]
    synthetic = _synthetic_few_shot()
    questions = synthetic + _mmlu_few_shot()
    ref = smollm2.loglikelihood_reference(questions)
    before = smollm2.stats()
    whole = smollm2.loglikelihood(questions)  # one chunk (the engine's 64): sorted by tokens, prefixes shared
    after = smollm2.stats()
    one_by_one = [smollm2.loglikelihood([q])[0] for q in questions]  # chunk 1: reuse across calls
    _same(whole, ref)
    _same(one_by_one, ref)
    _same(smollm2.loglikelihood(synthetic[::-1])[::-1], ref[: len(synthetic)])  # input order is kept
    requested = after["tokens_requested"] - before["tokens_requested"]
    encoded = after["tokens_encoded"] - before["tokens_encoded"]
    assert encoded < requested / 3  # the few-shot prefixes were evaluated once, not per question


def test_prompts_split_into_many_batches_score_alike() -> None:
    b = LlamaBackend("smollm2", n_batch=64)  # ~230-370-token prompts in 4-6 batches, from any cut-back point
    try:
        questions = _synthetic_few_shot()[:2] + _mmlu_few_shot()[:1]
        _same(b.loglikelihood(questions), b.loglikelihood_reference(questions))
    finally:
        b.close()


def test_prefix_reuse_off_gives_the_same_scores(smollm2) -> None:  # type: ignore[no-untyped-def]
    questions = _synthetic_few_shot()[:4]
    off = LlamaBackend("smollm2", prefix_reuse="false")
    try:
        before = off.stats()["tokens_encoded"]
        plain = off.loglikelihood(questions)
        contexts = sum(len(off._tok(q.context)) for q in questions)
        assert off.stats()["tokens_encoded"] - before >= contexts  # every question's context again
        assert off.info().details["prefix_reuse"] is False
    finally:
        off.close()
    _same(smollm2.loglikelihood(questions), plain)


def test_context_defaults_to_the_models_and_the_kv_cache_to_the_need(smollm2) -> None:  # type: ignore[no-untyped-def]
    details = smollm2.info().details
    assert details["n_ctx"] == details["n_ctx_train"] == 8192  # SmolLM2's own, not llama.cpp's 2,048
    assert gguf_context_length(smollm2.path) == 8192
    b = LlamaBackend("smollm2")
    try:
        b.loglikelihood([MCQuestion("The capital of France is", (" Paris", " Lyon"))])
        assert b.windows()["scoring"] == MIN_WINDOW  # no 8,192 × vocabulary buffers for short prompts
        long = MCQuestion("word " * 2100 + "The capital of France is", (" Paris", " Lyon"))
        b.loglikelihood([long])  # llama.cpp's default 2,048 would have cut it
        assert b.windows() == {"scoring": 4096, "generation": 0} and b.truncated == 0
        assert b.info().details == smollm2.info().details  # the run's fingerprint does not move
    finally:
        b.close()


def test_a_prompt_longer_than_n_ctx_is_cut_by_lm_evals_rule_and_counted() -> None:
    b = LlamaBackend("smollm2", n_ctx=256)
    try:
        assert b.info().details["n_ctx"] == 256
        story = " ".join(f"Item {i} is a small blue box." for i in range(60))
        q = MCQuestion(story + " The last item is", (" blue", " a small red box"))
        ctx, cont = b._encode(q.context, q.continuations[1])
        assert len(ctx) + len(cont) - 1 > 256
        kept = truncate_context(ctx, cont, 256)
        assert kept == ctx[len(ctx) + len(cont) - 1 - 256 :] and len(kept) + len(cont) - 1 == 256
        fast = b.loglikelihood([q, MCQuestion("Short", (" one", " two"))])
        assert b.stats()["truncated"] == 1  # the long question, once; the short one is whole
        _same(fast, b.loglikelihood_reference([q, MCQuestion("Short", (" one", " two"))]))
        with pytest.raises(InputError, match="exceeds the model's context of 256"):
            b.loglikelihood([MCQuestion("x", (" y" * 300,))])
    finally:
        b.close()


def test_truncation_rule_is_the_hf_backends() -> None:
    pytest.importorskip("torch")  # hf.py needs it
    from llmatlas.backends.hf import HFBackend

    cases = [(list(range(10)), [100, 101, 102], n) for n in (3, 4, 5, 11, 12, 13, 20)]
    cases += [([7], [1, 2, 3], 3), (list(range(5000)), [9] * 40, 4096)]
    for ctx, cont, max_length in cases:
        hf = HFBackend._truncate(SimpleNamespace(max_length=max_length), ctx, cont)  # type: ignore[arg-type]
        assert truncate_context(ctx, cont, max_length) == hf
        inp = (ctx + cont)[-(max_length + 1) :][:-1]  # lm-eval's own expression
        assert hf + cont[:-1] == inp or len(ctx) + len(cont) - 1 <= max_length
    with pytest.raises(InputError):
        truncate_context([1], [2, 3, 4], 2)


def test_batch_spans_never_end_with_a_one_token_batch() -> None:
    for size, longest in ((2, 40), (3, 40), (4, 40), (512, 1100)):
        for start in range(0, 5):
            for end in range(start, start + longest):
                spans = batch_spans(start, end, size)
                assert [a for a, _ in spans] == ([start] + [b for _, b in spans[:-1]] if spans else [])
                assert spans[-1][1] == end if spans else start == end
                assert all(0 < b - a <= size for a, b in spans)
                if end - start >= 2 and size >= 3:
                    assert spans[-1][1] - spans[-1][0] >= 2
    assert common_prefix([1, 2, 3], [1, 2, 4, 5]) == 2 and common_prefix([], [1]) == 0
    assert common_prefix([1, 2], [1, 2, 3]) == 2


def test_gguf_context_length_reads_the_header_or_says_none(smollm2, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = smollm2.path.read_bytes()[: 1 << 16]
    (tmp_path / "cut.gguf").write_bytes(data[:40])  # header cut short
    (tmp_path / "text.gguf").write_text("not a gguf file")
    assert gguf_context_length(tmp_path / "cut.gguf") is None
    assert gguf_context_length(tmp_path / "text.gguf") is None
    assert gguf_context_length(tmp_path / "missing.gguf") is None


def test_gsm8k_cot_generations_are_identical_with_and_without_prefix_reuse() -> None:
    task = get_task("gsm8k_cot")
    assert isinstance(task, GenerationTask)
    data = SHARED if (SHARED / "gsm8k_test.jsonl").is_file() else DATA
    ds = task.load(str(data))
    samples = task.select(ds.samples, 3)
    prompts = task.prompts(samples, ds.fewshot)
    requests = [replace(r, max_tokens=48) for d, p in zip(samples, prompts, strict=True) for r in task.requests(d, p)]
    texts, stats = {}, {}
    for reuse in ("true", "false"):
        b = load_backend(f"smollm2?prefix_reuse={reuse}")
        try:
            gens = b.generate(requests)
            assert not [g.error for g in gens if g.error]
            texts[reuse] = [g.text for g in gens]
            stats[reuse] = b.stats()
        finally:
            b.close()
    assert texts["true"] == texts["false"] and all(texts["true"])
    on, off = stats["true"], stats["false"]
    assert on["prompt_tokens"] == off["prompt_tokens"] == off["prompt_tokens_encoded"]
    assert on["prompt_tokens_encoded"] < on["prompt_tokens"] / 2  # the 8 exemplars were evaluated once


def test_scoring_runs_an_f32_copy_of_a_small_quantized_file_and_generation_the_file(smollm2) -> None:  # type: ignore[no-untyped-def]
    """The f32 copy holds the same weights dequantized: made once, found again, used only to score
    (generation reads the file, so decode speed and the speed check still measure the file)."""
    from llmatlas.backends.llama import gguf_file_type

    assert smollm2.scoring_weights == "f32" and smollm2.info().details["scoring_weights"] == "f32"
    copy = smollm2._scorer_path()
    assert copy != smollm2.path and gguf_file_type(copy) == 0 and gguf_file_type(smollm2.path) == 3  # F32, Q4_1
    made = copy.stat().st_mtime_ns
    again = LlamaBackend("smollm2")
    try:
        assert again._scorer_path() == copy and copy.stat().st_mtime_ns == made  # not made twice
        assert smollm2.generator.model_path == str(smollm2.path)
    finally:
        again.close()
    as_file = LlamaBackend("smollm2", scoring_weights="file")
    of_copy = LlamaBackend(str(copy))  # a float file is scored as it is
    try:
        assert as_file.scoring_weights == "file" and of_copy.scoring_weights == "file"
        questions = _synthetic_few_shot()[:2]
        f32, q41 = smollm2.loglikelihood(questions), as_file.loglikelihood(questions)
        _same(q41, as_file.loglikelihood_reference(questions))  # each way is exact against its own reference
        pairs = [(a, b) for qa, qb in zip(f32, q41, strict=True) for a, b in zip(qa, qb, strict=True)]
        deltas = [abs(a.logprob - b.logprob) for a, b in pairs]
        assert 0 < max(deltas) < 0.5  # Q4_1 kernels round the activations to 8 bits; f32 ones do not
        assert [max(range(4), key=lambda i: q[i].logprob) for q in f32] == [
            max(range(4), key=lambda i: q[i].logprob) for q in q41
        ]
    finally:
        as_file.close()
        of_copy.close()


def test_flash_attention_is_close_to_its_reference_not_exact() -> None:
    """With flash attention llama.cpp's rounding depends on how the KV cache was filled, so scores
    with the kept prefix differ from a fresh evaluation by up to a few thousandths of a nat (1e-4
    without it): a speed setting that is off by default, and in the run's identity when on."""
    b = LlamaBackend("smollm2", flash_attn="true")
    try:
        questions = _synthetic_few_shot()[:3] + _mmlu_few_shot()[:1]
        fast, ref = b.loglikelihood(questions), b.loglikelihood_reference(questions)
        deltas = [
            abs(f.logprob - r.logprob) for fr, rr in zip(fast, ref, strict=True) for f, r in zip(fr, rr, strict=True)
        ]
        assert max(deltas) < 0.05
        assert b.info().details["flash_attn"] is True
    finally:
        b.close()
