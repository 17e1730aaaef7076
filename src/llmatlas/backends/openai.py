"""Any OpenAI-compatible server (OpenAI, vLLM, llama.cpp server, SGLang, …) over HTTP.

``openai:MODEL?base_url=http://127.0.0.1:8000/v1&concurrency=8&logprobs=prompt`` options:

* ``base_url`` (default ``$OPENAI_BASE_URL`` or https://api.openai.com/v1); the key comes from
  ``$OPENAI_API_KEY`` or the variable named by ``api_key_env`` and is sent as a Bearer token.
* ``logprobs=prompt``: score multiple choice with real log-probs through the legacy
  ``/completions`` endpoint (``echo: true, logprobs: 1, max_tokens: 0``, as vLLM serves it);
  otherwise multiple choice is answered by generating a letter (``mc_method = "generation"``).
* ``concurrency``, ``max_attempts``, ``timeout``, ``backoff_base``, ``backoff_max``, ``mc_max_tokens``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from llmatlas.backends.base import (
    BackendInfo,
    ContinuationScore,
    Generation,
    GenerationRequest,
    MCQuestion,
    Progress,
    split_context,
)
from llmatlas.backends.http import APIBackend, Response, api_key_from_env

DEFAULT_BASE_URL = "https://api.openai.com/v1"


def _usage(data: dict[str, Any]) -> tuple[int | None, int | None]:
    usage = data.get("usage") or {}
    if not isinstance(usage, dict):
        return None, None
    return usage.get("prompt_tokens"), usage.get("completion_tokens")


class OpenAIBackend(APIBackend):
    name = "openai"

    def __init__(self, target: str, **options: Any) -> None:
        super().__init__(target, **options)
        base = options.get("base_url") or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        self.base_url = str(base).rstrip("/")
        self.prompt_logprobs = str(options.get("logprobs", "")).lower() == "prompt"
        self.mc_method = "loglikelihood" if self.prompt_logprobs else "generation"
        key = api_key_from_env(options, "OPENAI_API_KEY")
        headers = {"content-type": "application/json"}
        if key:
            headers["authorization"] = f"Bearer {key}"
        self.pool = self._pool_from_options(self.base_url, headers, key)

    def __repr__(self) -> str:
        return f"OpenAIBackend(model={self.model!r}, base_url={self.base_url!r})"

    def info(self) -> BackendInfo:
        return BackendInfo(
            backend=self.name,
            model=self.model,
            details={
                "host": urlsplit(self.base_url).netloc,
                "method": self.mc_method,
                "concurrency": self.pool.concurrency,
            },
        )

    # --- generation ---------------------------------------------------------------------------

    def _body(self, r: GenerationRequest) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {"model": self.model, "max_tokens": r.max_tokens, "temperature": r.temperature}
        if r.stop:
            body["stop"] = list(r.stop)
        if r.chat:
            messages = [{"role": "system", "content": r.system}] if r.system else []
            messages.append({"role": "user", "content": r.prompt})
            body["messages"] = messages
            return "chat/completions", body
        body["prompt"] = r.prompt if r.system is None else f"{r.system}\n\n{r.prompt}"
        return "completions", body

    def _generation(self, resp: Response, chat: bool) -> Generation:
        failed = self._record(resp)
        if failed is not None:
            return failed
        data = resp.data or {}
        try:
            choice = data["choices"][0]
            text = choice["message"]["content"] if chat else choice["text"]
        except (KeyError, IndexError, TypeError) as exc:
            return Generation(text="", latency_s=resp.latency_s, error=f"unexpected response shape: {exc!r}")
        inp, outp = _usage(data)
        return Generation(
            text=text or "",
            input_tokens=inp,
            output_tokens=outp,
            latency_s=resp.latency_s,
            extra={"attempts": resp.attempts, "finish_reason": choice.get("finish_reason")},
        )

    def generate(self, requests: Sequence[GenerationRequest], progress: Progress | None = None) -> list[Generation]:
        # group by endpoint so each group runs concurrently; keep input order
        out: list[Generation | None] = [None] * len(requests)
        for chat in (True, False):
            idx = [i for i, r in enumerate(requests) if r.chat == chat]
            if not idx:
                continue
            paths_bodies = [self._body(requests[i]) for i in idx]
            resps = self.pool.map_post(paths_bodies[0][0], [b for _, b in paths_bodies], progress)
            for i, resp in zip(idx, resps, strict=True):
                out[i] = self._generation(resp, chat)
        return [g for g in out if g is not None]

    # --- multiple choice --------------------------------------------------------------------

    def _echo_score(self, context: str, resp: Response) -> ContinuationScore:
        failed = self._record(resp)
        if failed is not None:
            self.failed += 1
            return ContinuationScore(-math.inf, 0, False)
        try:
            lp = (resp.data or {})["choices"][0]["logprobs"]
            token_lps: list[float | None] = lp["token_logprobs"]
            offsets: list[int] = lp["text_offset"]
            tops: list[dict[str, float] | None] = lp.get("top_logprobs") or [None] * len(token_lps)
        except (KeyError, IndexError, TypeError):
            self.failed += 1
            return ContinuationScore(-math.inf, 0, False)
        total, n, greedy = 0.0, 0, True
        for tok_lp, off, top in zip(token_lps, offsets, tops, strict=False):
            if off < len(context):
                continue
            if tok_lp is None:  # the first token of the prompt has no log-prob
                continue
            total += float(tok_lp)
            n += 1
            if top:
                greedy = greedy and float(tok_lp) >= max(float(v) for v in top.values()) - 1e-6
        return ContinuationScore(total, n, greedy and n > 0)

    def loglikelihood(
        self, questions: Sequence[MCQuestion], progress: Progress | None = None
    ) -> list[list[ContinuationScore]]:
        if not self.prompt_logprobs:
            return self._mc_by_letter(questions, progress)
        pairs = [split_context(q.context, c) for q in questions for c in q.continuations]
        bodies = [
            {
                "model": self.model,
                "prompt": ctx + cont,
                "echo": True,
                "logprobs": 1,
                "max_tokens": 0,
                "temperature": 0.0,
            }
            for ctx, cont in pairs
        ]
        resps = self.pool.map_post("completions", bodies)
        scores = [self._echo_score(ctx, r) for (ctx, _), r in zip(pairs, resps, strict=True)]
        out, k = [], 0
        for q in questions:
            out.append(scores[k : k + len(q.continuations)])
            k += len(q.continuations)
            if progress:
                progress(1)
        return out

    def loglikelihood_reference(self, questions: Sequence[MCQuestion]) -> list[list[ContinuationScore]]:
        return self.loglikelihood(questions)  # already one request per (context, continuation) pair

    def close(self) -> None:
        self.pool.close()
