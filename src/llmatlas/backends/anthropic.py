"""Anthropic's Messages API over HTTP (``POST {base_url}/v1/messages``).

``anthropic:MODEL?concurrency=4`` options: ``base_url`` (default ``$ANTHROPIC_BASE_URL`` or
https://api.anthropic.com), ``api_key_env`` (default ``ANTHROPIC_API_KEY``), ``anthropic_version``,
``concurrency``, ``max_attempts``, ``timeout``, ``backoff_base``, ``backoff_max``, ``mc_max_tokens``.
There are no prompt log-probs: multiple choice is answered by generating a letter (the format and
the strict parse are shared with the openai backend, in :mod:`llmatlas.backends.http`). The API
key is sent as ``x-api-key`` with ``anthropic-version: 2023-06-01``; error bodies
(``{"type": "error", "error": {"type": "overloaded_error", "message": …}}``) become recorded
errors, retried when the status is 429/5xx/529.
"""

from __future__ import annotations

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
)
from llmatlas.backends.http import APIBackend, Response, api_key_from_env

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"


class AnthropicBackend(APIBackend):
    name = "anthropic"
    mc_method = "generation"

    def __init__(self, target: str, **options: Any) -> None:
        super().__init__(target, **options)
        base = options.get("base_url") or os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL
        self.base_url = str(base).rstrip("/")
        key = api_key_from_env(options, "ANTHROPIC_API_KEY")
        headers = {
            "content-type": "application/json",
            "anthropic-version": str(options.get("anthropic_version") or API_VERSION),
        }
        if key:
            headers["x-api-key"] = key
        self.pool = self._pool_from_options(self.base_url, headers, key)

    def __repr__(self) -> str:
        return f"AnthropicBackend(model={self.model!r}, base_url={self.base_url!r})"

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

    def _body(self, r: GenerationRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": r.max_tokens,
            "messages": [{"role": "user", "content": r.prompt}],
            "temperature": r.temperature,
        }
        if r.system:
            body["system"] = r.system
        if r.stop:
            body["stop_sequences"] = list(r.stop)
        return body

    def _generation(self, resp: Response) -> Generation:
        failed = self._record(resp)
        if failed is not None:
            return failed
        data = resp.data or {}
        try:
            blocks = data["content"]
            text = "".join(b.get("text", "") for b in blocks if b.get("type", "text") == "text")
            usage = data.get("usage") or {}
            usage.get("input_tokens")
        except (KeyError, TypeError, AttributeError) as exc:
            return self._bad_shape(resp, exc)
        return Generation(
            text=text,
            input_tokens=usage.get("input_tokens"),
            output_tokens=usage.get("output_tokens"),
            latency_s=resp.latency_s,
            extra={"attempts": resp.attempts, "stop_reason": data.get("stop_reason")},
        )

    def generate(self, requests: Sequence[GenerationRequest], progress: Progress | None = None) -> list[Generation]:
        resps = self.pool.map_post("v1/messages", [self._body(r) for r in requests], progress)
        return [self._generation(r) for r in resps]

    def loglikelihood(
        self, questions: Sequence[MCQuestion], progress: Progress | None = None
    ) -> list[list[ContinuationScore]]:
        return self._mc_by_letter(questions, progress)

    def close(self) -> None:
        self.pool.close()
