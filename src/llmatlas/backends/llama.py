"""GGUF models through llama-cpp-python; ``llama:smollm2`` is the embedded SmolLM2-135M-Instruct.

Log-probs come from the model's logits (``logits_all=True``), never from
``create_completion(echo=True, logprobs=…)``, whose prompt log-probs are wrong in current
llama-cpp-python. Shared-context scoring: the context is evaluated once; for each choice the KV
cache is cut back to the end of the context (``n_tokens``) and only the continuation is evaluated.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

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
    split_context,
)
from llmatlas.backends.embedded import EMBEDDED_ALIAS, PARTED, packaged_model_path
from llmatlas.backends.options import BackendOptions
from llmatlas.core.errors import InputError


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


class LlamaOptions(BackendOptions):
    n_ctx: int = Field(2048, ge=16, le=1_048_576, description="context window in tokens")
    n_batch: int = Field(512, ge=1, le=65_536, description="prompt tokens per llama.cpp batch")
    threads: int | None = Field(None, ge=1, le=1024, description="CPU threads (default: every core)")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="sampling seed")


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
        self.n_ctx = self.options.n_ctx
        self.n_batch = self.options.n_batch
        self.threads = self.options.threads or os.cpu_count() or 1
        self.seed = self.options.seed
        self._llama_cls = Llama
        # Two lazily made instances over the same mmapped file: scoring needs logits at every
        # position (logits_all), which makes prompt processing for generation several times slower.
        self._scorer: Any = None
        self._generator: Any = None
        self._chat_formatter: Any = None
        self.max_len = self.n_ctx
        with self.path.open("rb") as f:  # fail now on a file that is not GGUF, not mid-run
            if f.read(4) != b"GGUF":
                raise InputError("not a GGUF file (no GGUF magic number)", path=self.path, field="model")

    def _make(self, logits_all: bool) -> Any:
        return self._llama_cls(
            model_path=str(self.path),
            n_ctx=self.n_ctx,
            n_batch=self.n_batch,
            n_threads=self.threads,
            logits_all=logits_all,
            seed=self.seed,
            verbose=False,
        )

    @property
    def llm(self) -> Any:
        """The scoring instance (logits at every position)."""
        if self._scorer is None:
            self._scorer = self._make(logits_all=True)
        return self._scorer

    @property
    def generator(self) -> Any:
        """The generation instance (logits of the last position only)."""
        if self._generator is None:
            self._generator = self._make(logits_all=False)
        return self._generator

    def _model_name(self) -> str:
        if self.target == EMBEDDED_ALIAS:
            return "smollm2 (embedded SmolLM2-135M-Instruct Q4_1)"
        if self.target in PARTED:
            return f"{self.target} (packaged {PARTED[self.target].file})"
        return str(self.path)

    def info(self) -> BackendInfo:
        return BackendInfo(
            backend=self.name,
            model=self._model_name(),
            details={
                "file": self.path.name,
                "sha256_1MiB": _file_id(self.path),
                "n_ctx": self.max_len,
                "threads": self.threads,
                "llama_cpp_python": _version(),
            },
        )

    # ------------------------------------------------------------------ tokenization

    def _tok(self, text: str) -> list[int]:
        tokens: list[int] = self.llm.tokenize(text.encode("utf-8"), add_bos=True, special=False)
        return tokens

    def _encode(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        """lm-evaluation-harness's pair encoding (see backends/base.py)."""
        if context == "":
            cont = self.llm.tokenize(continuation.encode("utf-8"), add_bos=False, special=False)
            prefix = self.llm.token_bos() if self.llm.token_bos() >= 0 else self.llm.token_eos()
            return ([prefix], cont) if cont[:1] != [prefix] else (cont[:1], cont[1:])
        context, continuation = split_context(context, continuation)
        whole = self._tok(context + continuation)
        ctx = self._tok(context)
        return ctx, whole[len(ctx) :]

    def _fit(self, ctx: list[int], cont: list[int]) -> list[int]:
        """Left-truncate the context so context + continuation fits the window."""
        room = self.max_len - len(cont)
        if room < 1:
            raise InputError(f"a continuation of {len(cont)} tokens does not fit n_ctx={self.max_len}", field="n_ctx")
        return ctx[-room:]

    # ------------------------------------------------------------------ scoring

    def _continuation_score(self, start: int, cont: list[int]) -> ContinuationScore:
        """Score ``cont`` whose first token sits at position ``start`` of the evaluated sequence."""
        rows = np.asarray(self.llm.scores[start - 1 : start - 1 + len(cont)])
        lp = log_softmax_rows(rows)
        idx = np.arange(len(cont))
        picked = lp[idx, cont]
        greedy = bool(np.all(lp.argmax(axis=-1) == np.asarray(cont)))
        return ContinuationScore(float(picked.sum()), len(cont), greedy)

    def loglikelihood(
        self, questions: Sequence[MCQuestion], progress: Progress | None = None
    ) -> list[list[ContinuationScore]]:
        out: list[list[ContinuationScore]] = []
        for q in questions:
            pairs = [self._encode(q.context, c) for c in q.continuations]
            scores: list[ContinuationScore | None] = [None] * len(pairs)
            # Choices whose context tokens agree share one evaluation of that context.
            groups: dict[tuple[int, ...], list[int]] = {}
            for i, (ctx, cont) in enumerate(pairs):
                groups.setdefault(tuple(self._fit(ctx, cont)), []).append(i)
            for ctx_key, members in groups.items():
                ctx = list(ctx_key)
                self.llm.reset()
                self.llm.eval(ctx)
                for i in members:
                    cont = pairs[i][1]
                    # Cut the KV cache back to the shared context and evaluate only the continuation.
                    # llama.cpp computes a 1-token batch with other kernels than a longer one (logits
                    # differ by up to ~0.2 nat on quantized weights), so a 1-token step re-evaluates
                    # the last context token with it: every batch then has >= 2 tokens, as in the
                    # per-choice reference, and the scores agree.
                    back = 1 if len(cont) == 2 and len(ctx) > 1 else 0
                    self.llm.n_tokens = len(ctx) - back
                    self.llm.eval(ctx[len(ctx) - back :] + cont[:-1])
                    scores[i] = self._continuation_score(len(ctx), cont)
            out.append([s for s in scores if s is not None])
            if progress:
                progress(1)
        return out

    def loglikelihood_reference(self, questions: Sequence[MCQuestion]) -> list[list[ContinuationScore]]:
        out = []
        for q in questions:
            row = []
            for c in q.continuations:
                ctx, cont = self._encode(q.context, c)
                ctx = self._fit(ctx, cont)
                self.llm.reset()
                self.llm.eval(ctx + cont[:-1])
                row.append(self._continuation_score(len(ctx), cont))
            out.append(row)
        return out

    # ------------------------------------------------------------------ generation

    def chat_prompt(self, request: GenerationRequest) -> str:
        """The request rendered with the model's own chat template (from the GGUF metadata)."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        llm = self.generator
        if self._chat_formatter is None:
            template = llm.metadata.get("tokenizer.chat_template")
            if not template:
                raise ValueError(f"{self.path.name} has no chat template; use chat=false (a completion prompt)")

            def token_text(token_id: int) -> str:
                return str(llm._model.token_get_text(token_id)) if token_id >= 0 else ""

            self._chat_formatter = Jinja2ChatFormatter(
                template=template, eos_token=token_text(llm.token_eos()), bos_token=token_text(llm.token_bos())
            )
        return str(self._chat_formatter(messages=request.messages()).prompt)

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

    def stream(self, request: GenerationRequest) -> Iterator[str | Generation]:
        """Decoded pieces as llama.cpp produces them, then the Generation with TTFT and token counts."""
        r = request
        llm = self.generator
        prompt = self.chat_prompt(r) if r.chat else r.flat_prompt()
        n_in = len(llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True))
        start = time.perf_counter()
        ttft: float | None = None
        pieces: list[str] = []
        finish = None
        chunks = llm.create_completion(
            prompt,
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
        for attr in ("_scorer", "_generator"):
            llm = getattr(self, attr)
            setattr(self, attr, None)
            if llm is not None:
                llm.close()


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("llama-cpp-python")
    except Exception:
        return "unknown"
