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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

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
from llmatlas.errors import InputError


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


class LlamaBackend(Backend):
    name = "llama"

    def __init__(self, target: str, **options: Any) -> None:
        super().__init__(target, **options)
        from llama_cpp import Llama  # lazy: optional dependency

        path = packaged_model_path(target) or Path(target).expanduser()
        if not path.is_file():
            raise InputError("no such GGUF file", path=path, field="model")
        self.path = path
        n_ctx = int(options.get("n_ctx", 2048))
        threads = int(options.get("threads", os.cpu_count() or 1))
        self.llm: Any = Llama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_batch=int(options.get("n_batch", 512)),
            n_threads=threads,
            logits_all=True,
            seed=int(options.get("seed", 0)),
            verbose=False,
        )
        self.max_len = n_ctx
        self.threads = threads

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

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        out = []
        for r in requests:
            start = time.perf_counter()
            try:
                if r.chat:
                    resp = self.llm.create_chat_completion(
                        messages=r.messages(),
                        max_tokens=r.max_tokens,
                        temperature=r.temperature,
                        stop=list(r.stop) or None,
                        seed=r.seed,
                    )
                    text = resp["choices"][0]["message"]["content"] or ""
                else:
                    resp = self.llm.create_completion(
                        r.flat_prompt(),
                        max_tokens=r.max_tokens,
                        temperature=r.temperature,
                        stop=list(r.stop) or None,
                        seed=r.seed,
                    )
                    text = resp["choices"][0]["text"]
                usage = resp.get("usage", {})
                out.append(
                    Generation(
                        text=text,
                        input_tokens=usage.get("prompt_tokens"),
                        output_tokens=usage.get("completion_tokens"),
                        latency_s=time.perf_counter() - start,
                    )
                )
            except Exception as exc:  # recorded, not raised: one bad prompt must not end a run
                out.append(Generation(text="", error=f"{type(exc).__name__}: {exc}"))
        return out

    def close(self) -> None:
        llm, self.llm = self.llm, None
        if llm is not None:
            llm.close()


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("llama-cpp-python")
    except Exception:
        return "unknown"
