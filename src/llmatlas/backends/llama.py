"""GGUF models through llama-cpp-python; ``llama:smollm2`` is the embedded SmolLM2-135M-Instruct.

Scoring drives llama.cpp's batch API and asks for logits only at the positions that need them (the
last context token and the continuation's). Never ``create_completion(echo=True, logprobs=…)``,
whose prompt log-probs are wrong in current llama-cpp-python, and never ``logits_all``: that keeps a
window × vocabulary float32 array (1.6 GB at 8,192 × 49,152) and computes the LM head everywhere.

Prefix reuse: the KV cache keeps the last sequence evaluated; the next one is cut back to their
longest common token prefix and only the rest is evaluated. A call's sequences are taken in token
order, so questions that share a prefix (few-shot exemplars, a description: found from the tokens,
whatever the task) are adjacent and the prefix is evaluated once. Generation keeps the previous
prompt the same way. ``prefix_reuse=false`` starts every question and every prompt afresh (A/B).

llama.cpp computes a 1-token batch with other kernels than a longer one (logits differ by up to
~0.2 nat on quantized weights), so no batch has one token where that can be avoided: a remainder of
one token re-evaluates the token before it, and a long sequence is split so that its last batch
has two or more. Scores then equal the per-choice reference (each pair evaluated afresh) to float
tolerance, and greedy generations are the same with and without reuse.

Weights: a small quantized file (at most 256 MiB, e.g. the embedded SmolLM2's Q4_1) is scored from
an f32 copy made once in the cache (``scoring_weights``): the same weights dequantized, run by
llama.cpp's f32 kernels, which on a CPU process prompts 1.5-1.9x faster than its Q4_1 ones, and do
not round the activations to 8 bits. Generation reads the file itself (decode is bound by the bytes
read per token, which the speed check measures).

Context: the limit is the model's training context (GGUF ``<arch>.context_length``) unless
``n_ctx`` says otherwise; a longer input is cut from the left by lm-eval's rule (as the hf backend
does) and counted in :meth:`LlamaBackend.stats`. The KV cache is sized to what the run needs (a
power of two at least as long as the longest sequence, from 512) and grown when a longer one comes.
"""

from __future__ import annotations

import hashlib
import os
import struct
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np
from pydantic import Field

from llmatlas.backends.base import (
    Backend,
    BackendInfo,
    ContinuationScore,
    Generation,
    GenerationRequest,
    MCQuestion,
    Progress,
    render_prefilled,
    split_context,
)
from llmatlas.backends.embedded import EMBEDDED_ALIAS, PARTED, packaged_model_path
from llmatlas.backends.options import BackendOptions, Flag
from llmatlas.core.errors import InputError
from llmatlas.core.paths import cache_dir

# A quantized GGUF up to this size is scored from an f32 copy by default (SmolLM2's 92 MB becomes
# 540 MB; 256 MiB of 4-bit weights would be ~2 GB).
F32_COPY_MAX_FILE = 256 << 20
# GGUF general.file_type values whose tensors are already float (no copy needed): F32, F16, BF16
_FLOAT_FILE_TYPES = {0, 1, 32}

# What stats() counts (since the backend was made; a run records the increase during it).
_STAT_KEYS = (
    "questions",
    "truncated",  # questions whose context was cut to fit the limit (lm-eval's rule)
    "tokens_requested",  # what per-choice scoring evaluates: context + continuation[:-1], every choice
    "tokens_unique",  # distinct token prefixes among those sequences (each call's trie)
    "tokens_encoded",  # tokens evaluated: the unique ones plus the cut-backs (a call's first, 1-token remainders)
    "forward_passes",  # llama_decode calls while scoring
    "prompt_tokens",  # generation prompts' tokens
    "prompt_tokens_encoded",  # ... evaluated (the rest came from the previous prompt's cache)
)
MIN_WINDOW = 512  # smallest KV cache made; windows grow by doubling up to the model's context
_FALLBACK_CONTEXT = 2048  # a GGUF that states no context length


def _file_id(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        h.update(f.read(1 << 20))
    return h.hexdigest()[:16]


def log_softmax_rows(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax in float64 (only the rows at continuation positions are passed)."""
    x = logits.astype(np.float64)
    m = x.max(axis=-1, keepdims=True)
    out: np.ndarray = x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))
    return out


# ---------------------------------------------------------------------------------- pure helpers

_GGUF_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


def gguf_context_length(path: Path) -> int | None:
    """``<general.architecture>.context_length`` from a GGUF header; None when absent or unreadable."""
    value = _gguf_int(path, lambda arch: f"{arch}.context_length")
    return value if value and value > 0 else None


def gguf_file_type(path: Path) -> int | None:
    """``general.file_type`` (llama.cpp's ``LLAMA_FTYPE_*``: 0 F32, 1 F16, 32 BF16, others quantized)."""
    return _gguf_int(path, lambda arch: "general.file_type")


def _gguf_int(path: Path, key_for: Callable[[str], str]) -> int | None:
    """One integer from a GGUF header, the key ``key_for(architecture)`` names; None when absent or
    unreadable.

    Reads the key-value section only (stops at the answer), so it costs milliseconds where parsing
    the whole file with ``gguf.GGUFReader`` takes seconds.
    """

    def unpack(f: BinaryIO, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        data = f.read(size)
        if len(data) != size:
            raise ValueError("truncated GGUF header")
        return struct.unpack(fmt, data)[0]

    def string(f: BinaryIO) -> str:
        n = unpack(f, "<Q")
        if n > 1 << 24:
            raise ValueError("implausible GGUF string")
        return f.read(n).decode("utf-8")

    def skip(f: BinaryIO, vtype: int) -> None:
        if vtype == 8:
            f.seek(unpack(f, "<Q"), os.SEEK_CUR)
        elif vtype == 9:
            inner, count = unpack(f, "<I"), unpack(f, "<Q")
            if inner in _GGUF_SCALARS:
                f.seek(count * struct.calcsize(_GGUF_SCALARS[inner]), os.SEEK_CUR)
            else:
                for _ in range(count):
                    skip(f, inner)
        elif vtype in _GGUF_SCALARS:
            f.seek(struct.calcsize(_GGUF_SCALARS[vtype]), os.SEEK_CUR)
        else:
            raise ValueError(f"unknown GGUF value type {vtype}")

    try:
        with path.open("rb") as f:
            if f.read(4) != b"GGUF" or unpack(f, "<I") < 2:
                return None
            unpack(f, "<Q")  # tensor count
            arch: str | None = None
            ints: dict[str, int] = {}
            for _ in range(unpack(f, "<Q")):
                key, vtype = string(f), unpack(f, "<I")
                if key == "general.architecture" and vtype == 8:
                    arch = string(f)
                elif vtype in _GGUF_SCALARS and vtype not in (6, 12):  # integers (and booleans), not floats
                    ints[key] = int(unpack(f, _GGUF_SCALARS[vtype]))
                else:
                    skip(f, vtype)
                if arch is not None and key_for(arch) in ints:
                    break
    except (OSError, ValueError, struct.error, UnicodeDecodeError):
        return None
    return ints.get(key_for(arch)) if arch else None


def f32_copy(path: Path, threads: int) -> Path:
    """An f32 copy of a quantized GGUF (every tensor dequantized), made once under ``cache_dir()/gguf``
    and found again by the file's name and first MiB. Written beside its final name and renamed,
    so a process that loses a race to another finds a whole file."""
    import ctypes

    import llama_cpp

    out = cache_dir() / "gguf" / f"{path.stem}.{_file_id(path)}.f32.gguf"
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.name}.{os.getpid()}.part")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_ALL_F32
    params.allow_requantize = True  # dequantize: the quantized tensors become f32
    params.nthread = threads
    import llama_cpp._logger as llama_log

    quiet = llama_log.logger.level
    llama_log.set_verbose(False)  # llama_model_quantize logs every tensor otherwise
    try:
        rc = llama_cpp.llama_model_quantize(str(path).encode(), str(tmp).encode(), ctypes.byref(params))
    finally:
        llama_log.logger.setLevel(quiet)
    if rc != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"llama.cpp could not write an f32 copy of {path.name} (code {rc})")
    os.replace(tmp, out)
    return out


def truncate_context(context: list[int], continuation: list[int], max_length: int) -> list[int]:
    """lm-eval's rule (the hf backend's ``_truncate``): the model sees the last ``max_length`` tokens
    of ``(context + continuation)[:-1]``, so the continuation stays whole and the context is cut
    from the left. Returns the context that remains."""
    if len(continuation) > max_length:
        raise InputError(
            f"a continuation of {len(continuation)} tokens exceeds the model's context of {max_length}",
            field="n_ctx",
        )
    overflow = len(context) + len(continuation) - 1 - max_length
    return context[overflow:] if overflow > 0 else context


def batch_spans(start: int, end: int, size: int) -> list[tuple[int, int]]:
    """``[start, end)`` in batches of at most ``size`` tokens, the last never of one token when the
    one before it can spare one (llama.cpp's 1-token batches use other kernels)."""
    spans = []
    i = start
    while i < end:
        j = min(end, i + size)
        if end - j == 1 and j - i >= 3:
            j -= 1
        spans.append((i, j))
        i = j
    return spans


def common_prefix(a: Sequence[int] | np.ndarray, b: Sequence[int] | np.ndarray) -> int:
    """Length of the longest common prefix of two token sequences."""
    n = min(len(a), len(b))
    if n == 0:
        return 0
    diff = np.flatnonzero(np.asarray(a[:n], dtype=np.int64) != np.asarray(b[:n], dtype=np.int64))
    return int(diff[0]) if diff.size else n


def window_for(need: int, limit: int) -> int:
    """The KV cache to make for a sequence of ``need`` tokens: a power of two from MIN_WINDOW, at most ``limit``."""
    window = MIN_WINDOW
    while window < need:
        window *= 2
    return max(1, min(limit, window))


# ---------------------------------------------------------------------------------- backend


class LlamaOptions(BackendOptions):
    n_ctx: int | None = Field(
        None,
        ge=16,
        le=1_048_576,
        description="context limit in tokens (default: the model's own); longer inputs are cut from the left",
    )
    n_batch: int = Field(512, ge=1, le=65_536, description="prompt tokens per llama.cpp batch")
    threads: int | None = Field(None, ge=1, le=1024, description="CPU threads (default: every core)")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="sampling seed")
    prefix_reuse: Flag = Field(
        True, description="keep the previous prompt in the KV cache and evaluate only what differs"
    )
    flash_attn: Flag = Field(
        False,
        description="llama.cpp's flash attention: faster prompts on a CPU, with other rounding (a few "
        "predictions in a hundred may differ from the hf backend's)",
    )
    scoring_weights: Literal["auto", "file", "f32"] = Field(
        "auto",
        description="weights the scorer runs: the file's, or an f32 copy made once in the cache (the same "
        "values dequantized; llama.cpp's batched f32 kernels are faster on a CPU); auto: f32 for a "
        f"quantized file of at most {F32_COPY_MAX_FILE >> 20} MiB",
    )


@dataclass
class _Sequence:
    """One distinct evaluated sequence (context + continuation[:-1]) and the choices it scores."""

    tokens: tuple[int, ...]
    first: int  # first position whose logits a choice needs (its context's last token)
    members: list[tuple[int, int, int, list[int]]] = field(default_factory=list)  # question, choice, ctx len, cont


class LlamaBackend(Backend):
    name = "llama"
    options_model = LlamaOptions
    options: LlamaOptions

    def __init__(self, target: str, **options: Any) -> None:
        super().__init__(target, **options)
        from llama_cpp import Llama  # lazy: optional dependency

        path = packaged_model_path(target) or Path(target).expanduser()
        if not path.is_file():
            raise InputError("no such GGUF file", path=path, field="model")
        self.path = path
        with self.path.open("rb") as f:  # fail now on a file that is not GGUF, not mid-run
            if f.read(4) != b"GGUF":
                raise InputError("not a GGUF file (no GGUF magic number)", path=self.path, field="model")
        self.n_batch = self.options.n_batch
        self.threads = self.options.threads or os.cpu_count() or 1
        self.seed = self.options.seed
        self.prefix_reuse = self.options.prefix_reuse
        self.n_ctx_train = gguf_context_length(self.path)  # None: asked of llama.cpp once a model is loaded
        self.scoring_weights = self._pick_scoring_weights()
        self._scoring_file: Path | None = None  # the f32 copy, made when the scorer is first needed
        self._llama_cls = Llama
        # Two lazily made instances over the same mmapped file, each with a KV cache sized to its
        # own need: the scorer (driven through llama.cpp's batch API) and the generator.
        self._scorer: Any = None
        self._generator: Any = None
        self._chat_formatter: Any = None
        self._batch: Any = None  # the scorer's llama_batch
        self._batch_views: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._cache = np.zeros(0, dtype=np.int64)  # the tokens the scorer's KV cache holds, in order
        self._gen_prompt_len = 0  # the generator's cache beyond this is generated tokens (1-token batches)
        self._counts = dict.fromkeys(_STAT_KEYS, 0)

    # ------------------------------------------------------------------ instances and windows

    @property
    def max_len(self) -> int:
        """The context limit: ``n_ctx`` when given, else the model's training context."""
        if self.options.n_ctx is not None:
            return self.options.n_ctx
        if self.n_ctx_train is None:
            import llama_cpp

            trained = int(llama_cpp.llama_model_n_ctx_train(self._vocab().model))
            self.n_ctx_train = trained if trained > 0 else _FALLBACK_CONTEXT
        return self.n_ctx_train

    def _pick_scoring_weights(self) -> Literal["file", "f32"]:
        """``f32`` where asked (or, with ``auto``, for a small quantized file); never for a float file."""
        wanted = self.options.scoring_weights
        if wanted == "file":
            return "file"
        file_type = gguf_file_type(self.path)
        if file_type in _FLOAT_FILE_TYPES:
            return "file"
        if wanted == "f32":
            return "f32"
        return "f32" if file_type is not None and self.path.stat().st_size <= F32_COPY_MAX_FILE else "file"

    def _scorer_path(self) -> Path:
        if self.scoring_weights == "file":
            return self.path
        if self._scoring_file is None:
            self._scoring_file = f32_copy(self.path, self.threads)
        return self._scoring_file

    def _make(self, window: int, path: Path | None = None) -> Any:
        batch = max(1, min(self.n_batch, window))
        return self._llama_cls(
            model_path=str(path or self.path),
            n_ctx=window,
            n_batch=batch,
            n_ubatch=batch,  # one llama_decode call is one ubatch: no hidden 1-token split
            n_threads=self.threads,
            n_threads_batch=self.threads,
            logits_all=False,
            flash_attn=self.options.flash_attn,
            seed=self.seed,
            verbose=False,
        )

    def _vocab(self) -> Any:
        """Any loaded instance (tokenizer, metadata); the scorer at the smallest window if none is."""
        if self._generator is not None:
            return self._generator
        return self.llm

    @property
    def llm(self) -> Any:
        """The scoring instance (made at the smallest window; :meth:`_scorer_for` grows it)."""
        if self._scorer is None:
            self._scorer_for(1)
        return self._scorer

    def _scorer_for(self, need: int) -> Any:
        """The scoring instance with a KV cache of at least ``need`` tokens."""
        import llama_cpp

        if self._scorer is not None and self._scorer.n_ctx() >= need:
            return self._scorer
        self._close_scorer()
        limit = self.options.n_ctx or self.n_ctx_train or MIN_WINDOW  # before the first load, grow later
        llm = self._make(window_for(need, max(limit, need)), self._scorer_path())
        cap = llm.n_batch
        batch = llama_cpp.llama_batch_init(cap, 0, 1)
        views = (
            np.ctypeslib.as_array(batch.token, shape=(cap,)),
            np.ctypeslib.as_array(batch.pos, shape=(cap,)),
            np.ctypeslib.as_array(batch.logits, shape=(cap,)),
        )
        np.ctypeslib.as_array(batch.n_seq_id, shape=(cap,))[:] = 1
        for i in range(cap):
            batch.seq_id[i][0] = 0
        self._scorer, self._batch, self._batch_views = llm, batch, views
        self._cache = np.zeros(0, dtype=np.int64)
        return llm

    def _close_scorer(self) -> None:
        import llama_cpp

        if self._batch is not None:
            llama_cpp.llama_batch_free(self._batch)
        if self._scorer is not None:
            self._scorer.close()
        self._scorer, self._batch, self._batch_views = None, None, None
        self._cache = np.zeros(0, dtype=np.int64)

    def _generator_for(self, need: int) -> Any:
        """The generation instance with a KV cache of at least ``need`` tokens (at most the limit)."""
        if self._generator is not None and self._generator.n_ctx() >= need:
            return self._generator
        if self._generator is not None:
            self._generator.close()
        self._generator = self._make(window_for(need, self.max_len))
        self._gen_prompt_len = 0
        return self._generator

    @property
    def generator(self) -> Any:
        """The generation instance (logits of the last position only)."""
        return self._generator if self._generator is not None else self._generator_for(1)

    def _model_name(self) -> str:
        if self.target == EMBEDDED_ALIAS:
            return "smollm2 (embedded SmolLM2-135M-Instruct Q4_1)"
        if self.target in PARTED:
            return f"{self.target} (packaged {PARTED[self.target].file})"
        return str(self.path)

    def info(self) -> BackendInfo:
        # Only what is fixed for the backend's life: the run's fingerprint is made from it. The KV
        # windows actually made grow during a run and are in stats().
        return BackendInfo(
            backend=self.name,
            model=self._model_name(),
            details={
                "file": self.path.name,
                "sha256_1MiB": _file_id(self.path),
                "n_ctx": self.max_len,
                "n_ctx_train": self.n_ctx_train,
                "prefix_reuse": self.prefix_reuse,
                "scoring_weights": self.scoring_weights,
                "flash_attn": self.options.flash_attn,
                "threads": self.threads,
                "llama_cpp_python": _version(),
            },
        )

    def stats(self) -> dict[str, int]:
        """Counters since the backend was made (see ``_STAT_KEYS``): tokens asked for vs evaluated,
        questions cut to fit the context."""
        return dict(self._counts)

    @property
    def truncated(self) -> int:
        """Questions cut so far to fit the context."""
        return self._counts["truncated"]

    def windows(self) -> dict[str, int]:
        """The KV caches made so far, in tokens (0: none); they never change a score, only memory."""
        return {
            "scoring": int(self._scorer.n_ctx()) if self._scorer is not None else 0,
            "generation": int(self._generator.n_ctx()) if self._generator is not None else 0,
        }

    # ------------------------------------------------------------------ tokenization

    def tokenize(self, texts: Sequence[str]) -> list[list[int]] | None:
        """Token ids as scoring encodes a context (BOS where the model adds one)."""
        return [self._tok(text) for text in texts]

    def _tok(self, text: str) -> list[int]:
        tokens: list[int] = self._vocab().tokenize(text.encode("utf-8"), add_bos=True, special=False)
        return tokens

    def _encode(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        """lm-evaluation-harness's pair encoding (see backends/base.py)."""
        if context == "":
            llm = self._vocab()
            cont = llm.tokenize(continuation.encode("utf-8"), add_bos=False, special=False)
            prefix = llm.token_bos() if llm.token_bos() >= 0 else llm.token_eos()
            return ([prefix], cont) if cont[:1] != [prefix] else (cont[:1], cont[1:])
        context, continuation = split_context(context, continuation)
        whole = self._tok(context + continuation)
        ctx = self._tok(context)
        return ctx, whole[len(ctx) :]

    # ------------------------------------------------------------------ evaluation

    def _decode(self, tokens: Sequence[int], keep: int, first: int) -> np.ndarray:
        """Evaluate ``tokens[keep:]`` on top of the cached ``tokens[:keep]``; the logits of positions
        ``first …`` (``keep <= first``), one row each."""
        import llama_cpp

        llm = self._scorer
        mem = llama_cpp.llama_get_memory(llm.ctx)
        if not llama_cpp.llama_memory_seq_rm(mem, 0, keep, -1):  # recurrent models: no partial removal
            llama_cpp.llama_memory_clear(mem, True)
            keep = 0
        assert self._batch_views is not None
        tok, pos, want = self._batch_views
        n_vocab = llm.n_vocab()
        out = np.empty((len(tokens) - first, n_vocab), dtype=np.float32)
        seq = np.asarray(tokens, dtype=np.int32)
        self._cache = np.zeros(0, dtype=np.int64)  # unknown until the decode succeeds
        for i, j in batch_spans(keep, len(tokens), len(tok)):
            n = j - i
            tok[:n] = seq[i:j]
            pos[:n] = np.arange(i, j, dtype=np.int32)
            want[:n] = np.arange(i, j) >= first
            self._batch.n_tokens = n
            rc = llama_cpp.llama_decode(llm.ctx, self._batch)
            self._counts["forward_passes"] += 1
            if rc != 0:
                raise RuntimeError(f"llama_decode returned {rc}")
            n_out = j - max(i, first)
            if n_out > 0:
                rows = np.ctypeslib.as_array(llama_cpp.llama_get_logits(llm.ctx), shape=(n_out, n_vocab))
                lo = max(i, first) - first
                out[lo : lo + n_out] = rows
        self._cache = seq.astype(np.int64)
        self._counts["tokens_encoded"] += len(tokens) - keep
        return out

    def _evaluate(self, tokens: Sequence[int], first: int) -> np.ndarray:
        """Logits of positions ``first …`` of ``tokens``, evaluating only what the cache lacks."""
        keep = min(common_prefix(self._cache, tokens), first)
        if len(tokens) - keep == 1 and keep > 0:  # a 1-token batch: re-evaluate the token before
            keep -= 1
        return self._decode(tokens, keep, first)

    def _forget(self) -> None:
        self._cache = np.zeros(0, dtype=np.int64)

    @staticmethod
    def _score(lp: np.ndarray, cont: list[int]) -> ContinuationScore:
        """``lp``: log-probs of the rows predicting ``cont`` (one per token)."""
        picked = lp[np.arange(len(cont)), cont]
        greedy = bool(np.all(lp.argmax(axis=-1) == np.asarray(cont)))
        return ContinuationScore(float(picked.sum()), len(cont), greedy)

    # ------------------------------------------------------------------ scoring

    def _plan(
        self, questions: Sequence[MCQuestion]
    ) -> tuple[list[list[ContinuationScore | None]], list[list[_Sequence]], list[int]]:
        """Encode and cut every pair; the distinct sequences to evaluate, in groups evaluated in
        token order (one group for the call, or one per question without prefix reuse)."""
        limit = self.max_len
        rows: list[list[ContinuationScore | None]] = []
        pending: list[int] = []
        groups: list[dict[tuple[int, ...], _Sequence]] = [{}] if self.prefix_reuse else []
        for qi, q in enumerate(questions):
            if not self.prefix_reuse:
                groups.append({})
            seqs = groups[-1]
            row: list[ContinuationScore | None] = [None] * len(q.continuations)
            cut = False
            for ci, continuation in enumerate(q.continuations):
                context, cont = self._encode(q.context, continuation)
                if not cont:
                    row[ci] = ContinuationScore(0.0, 0, True)
                    continue
                ctx = truncate_context(context, cont, limit)
                cut = cut or len(ctx) < len(context)
                key = tuple(ctx + cont[:-1])
                self._counts["tokens_requested"] += len(key)
                s = seqs.get(key)
                if s is None:
                    s = seqs[key] = _Sequence(key, len(ctx) - 1)
                s.first = min(s.first, len(ctx) - 1)
                s.members.append((qi, ci, len(ctx), cont))
            self._counts["truncated"] += cut
            rows.append(row)
            pending.append(sum(r is None for r in row))
        ordered = [[g[k] for k in sorted(g)] for g in groups]
        self._counts["questions"] += len(questions)
        prev: tuple[int, ...] = ()
        for key in sorted(k for g in groups for k in g):  # the call's trie: tokens past the sequence before
            self._counts["tokens_unique"] += len(key) - common_prefix(prev, key)
            prev = key
        return rows, ordered, pending

    def loglikelihood(
        self, questions: Sequence[MCQuestion], progress: Progress | None = None
    ) -> list[list[ContinuationScore]]:
        rows, groups, pending = self._plan(questions)
        longest = max((len(s.tokens) for g in groups for s in g), default=1)
        self._scorer_for(longest)
        if progress and (done := sum(n == 0 for n in pending)):
            progress(done)
        for group in groups:
            if not self.prefix_reuse:
                self._forget()
            for s in group:
                lp = log_softmax_rows(self._evaluate(s.tokens, s.first))
                for qi, ci, start, cont in s.members:
                    offset = start - 1 - s.first
                    rows[qi][ci] = self._score(lp[offset : offset + len(cont)], cont)
                    pending[qi] -= 1
                    if pending[qi] == 0 and progress:
                        progress(1)
        return [[s for s in row if s is not None] for row in rows]

    def loglikelihood_reference(self, questions: Sequence[MCQuestion]) -> list[list[ContinuationScore]]:
        """Every (context, continuation) pair evaluated afresh, in batches of two or more tokens."""
        out = []
        for q in questions:
            row = []
            for c in q.continuations:
                context, cont = self._encode(q.context, c)
                if not cont:
                    row.append(ContinuationScore(0.0, 0, True))
                    continue
                ctx = truncate_context(context, cont, self.max_len)
                tokens = ctx + cont[:-1]
                self._scorer_for(len(tokens))
                self._forget()
                lp = log_softmax_rows(self._decode(tokens, 0, len(ctx) - 1))
                row.append(self._score(lp, cont))
            out.append(row)
        return out

    # ------------------------------------------------------------------ generation

    def chat_prompt(self, request: GenerationRequest) -> str:
        """The request rendered with the model's own chat template (from the GGUF metadata)."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        if self._chat_formatter is None:
            llm = self._vocab()
            template = llm.metadata.get("tokenizer.chat_template")
            if not template:
                raise ValueError(f"{self.path.name} has no chat template; use chat=false (a completion prompt)")

            def token_text(token_id: int) -> str:
                return str(llm._model.token_get_text(token_id)) if token_id >= 0 else ""

            self._chat_formatter = Jinja2ChatFormatter(
                template=template, eos_token=token_text(llm.token_eos()), bos_token=token_text(llm.token_bos())
            )
        formatter = self._chat_formatter
        return render_prefilled(lambda messages: str(formatter(messages=messages).prompt), request)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Streamed completions: time to first token is measured, token counts come from the tokenizer."""
        out = []
        for r in requests:
            try:
                out.append(self._generate_one(r))
            except Exception as exc:  # recorded, not raised: one bad prompt must not end a run
                out.append(Generation(text="", error=f"{type(exc).__name__}: {exc}"))
        return out

    def _generate_one(self, r: GenerationRequest) -> Generation:
        for item in self.stream(r):
            if isinstance(item, Generation):
                return item
        raise RuntimeError("the stream ended without a result")  # pragma: no cover - stream always ends so

    def _prefill(self, llm: Any, tokens: list[int]) -> None:
        """Bring the generator's cache to exactly ``tokens``: cut back to the prefix it shares with
        the previous prompt (all of it without prefix reuse) and evaluate the rest in batches of two
        or more tokens. llama-cpp-python then finds the whole prompt cached and samples at once."""
        import llama_cpp

        keep = 0
        if self.prefix_reuse and llm.n_tokens > 0:
            # not into the previous generated tokens (evaluated one at a time), and >= 2 tokens to evaluate
            shared = common_prefix(llm.input_ids[: min(llm.n_tokens, self._gen_prompt_len)], tokens)
            keep = max(0, min(shared, len(tokens) - 2))
        if keep and not llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(llm.ctx), -1, keep, -1):
            keep = 0
        if keep:
            llm.n_tokens = keep
        else:
            llm.reset()
        for i, j in batch_spans(keep, len(tokens), llm.n_batch):
            llm.eval(tokens[i:j])
        self._gen_prompt_len = len(tokens)
        self._counts["prompt_tokens"] += len(tokens)
        self._counts["prompt_tokens_encoded"] += len(tokens) - keep

    def stream(self, request: GenerationRequest) -> Iterator[str | Generation]:
        """Decoded pieces as llama.cpp produces them, then the Generation with TTFT and token counts."""
        r = request
        prompt = self.chat_prompt(r) if r.chat else r.flat_prompt()
        tokens: list[int] = self._vocab().tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
        n_in = len(tokens)
        if n_in >= self.max_len:
            raise ValueError(f"a prompt of {n_in} tokens leaves no room to generate in the context of {self.max_len}")
        llm = self._generator_for(min(self.max_len, n_in + r.max_tokens))
        start = time.perf_counter()
        self._prefill(llm, tokens)
        ttft: float | None = None
        pieces: list[str] = []
        finish = None
        chunks = llm.create_completion(
            tokens,
            max_tokens=r.max_tokens,
            temperature=r.temperature,
            stop=list(r.stop) or None,
            seed=r.seed if r.seed is not None else self.seed,
            stream=True,
        )
        for chunk in chunks:
            choice = chunk["choices"][0]
            if choice.get("text"):
                if ttft is None:
                    ttft = time.perf_counter() - start
                pieces.append(choice["text"])
                yield choice["text"]
            finish = choice.get("finish_reason") or finish
        latency = time.perf_counter() - start
        text = "".join(pieces)
        n_out = len(llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)) if text else 0
        yield Generation(
            text=text,
            input_tokens=n_in,
            output_tokens=n_out,
            latency_s=latency,
            ttft_s=ttft,
            extra={"finish_reason": finish, "token_counts": "tokenizer"},
        )

    def close(self) -> None:
        self._close_scorer()
        llm, self._generator = self._generator, None
        if llm is not None:
            llm.close()


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("llama-cpp-python")
    except Exception:
        return "unknown"
