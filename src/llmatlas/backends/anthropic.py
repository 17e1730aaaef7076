"""Anthropic's Messages API over HTTP (``POST {base_url}/v1/messages``).

``anthropic:MODEL?concurrency=4`` options: ``base_url`` (default ``$ANTHROPIC_BASE_URL`` or
https://api.anthropic.com), ``api_key_env`` (default ``ANTHROPIC_API_KEY``), ``anthropic_version``,
``stream``, ``concurrency``, ``max_attempts``, ``timeout``, ``backoff_base``, ``backoff_max``,
``mc_max_tokens``. There are no prompt log-probs: multiple choice is answered by generating a
letter (the format and the strict parse are shared with the openai backend, in
:mod:`llmatlas.backends.http`). The API key is sent as ``x-api-key`` with
``anthropic-version: 2023-06-01``; error bodies (``{"type": "error", "error": {"type":
"overloaded_error", "message": …}}``) become recorded errors, retried when the status is
408/429/5xx/529 (or the server's ``x-should-retry`` says so).

``stream=1`` reads the Messages event stream (``message_start`` with the input usage,
``content_block_delta`` text deltas, ``message_delta`` with the stop reason and the output usage,
``message_stop``) and records the time to the first text delta in ``Generation.ttft_s``. A stream
without ``message_stop`` is retried, then recorded as an error; an ``error`` event inside the
stream (``overloaded_error`` after the 200) is retried when its type is transient.

The Messages API takes no ``seed``: a request's seed is not sent (and ``temperature=0`` is the
only way to make its answers repeatable).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

from pydantic import Field

from llmatlas.backends.base import (
    BackendInfo,
    ContinuationScore,
    Generation,
    GenerationRequest,
    MCQuestion,
    Progress,
)
from llmatlas.backends.http import APIBackend, Response, SSEFormat, api_key_from_env, public_host
from llmatlas.backends.options import APIOptions

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
# error types worth another attempt when they arrive inside a 200 stream
TRANSIENT_ERRORS = frozenset({"overloaded_error", "api_error", "rate_limit_error", "timeout_error"})


def _text_delta(event: dict[str, Any]) -> str:
    if event.get("type") != "content_block_delta":
        return ""
    delta = event.get("delta")
    if not isinstance(delta, dict) or delta.get("type") != "text_delta":
        return ""
    text = delta.get("text")
    return text if isinstance(text, str) else ""


def _has_text(event: dict[str, Any]) -> bool:
    return bool(_text_delta(event))


def _is_stop(event: dict[str, Any]) -> bool:
    return event.get("type") == "message_stop"


def _stream_error(event: dict[str, Any]) -> tuple[str, bool] | None:
    if event.get("type") != "error":
        return None
    err = event.get("error")
    if not isinstance(err, dict):
        return "error event", True
    kind = str(err.get("type") or "error")
    return f"{kind}: {err.get('message', '')}", kind in TRANSIENT_ERRORS  # shortened after redaction


STREAM = SSEFormat(first_token=_has_text, is_end=_is_stop, error_of=_stream_error, end_name="message_stop")


class AnthropicOptions(APIOptions):
    anthropic_version: str = Field(API_VERSION, description="anthropic-version header")


class AnthropicBackend(APIBackend):
    name = "anthropic"
    options_model = AnthropicOptions
    options: AnthropicOptions
    mc_method = "generation"

    def __init__(self, target: str, **options: Any) -> None:
        super().__init__(target, **options)
        base = self.options.base_url or os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL
        self.streaming = self.options.stream
        key = api_key_from_env(self.options, "ANTHROPIC_API_KEY")
        headers = {
            "content-type": "application/json",
            "anthropic-version": self.options.anthropic_version,
        }
        if key:
            headers["x-api-key"] = key
        self.pool = self._pool_from_options(str(base).rstrip("/"), headers, key)
        self.base_url = self.pool.base_url  # without any user:password@ part

    def __repr__(self) -> str:
        return f"AnthropicBackend(model={self.model!r}, base_url={self.base_url!r})"

    def info(self) -> BackendInfo:
        return BackendInfo(
            backend=self.name,
            model=self.model,
            details={
                "host": public_host(self.base_url),
                "method": self.mc_method,
                "concurrency": self.pool.concurrency,
            },
        )

    def _body(self, r: GenerationRequest, streamed: bool | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": r.max_tokens,
            "messages": r.messages(with_system=False),
            "temperature": r.temperature,
        }
        if r.prefill:  # the Messages API continues a final assistant turn; it refuses trailing whitespace
            body["messages"].append({"role": "assistant", "content": r.prefill.rstrip()})
        if r.system:
            body["system"] = r.system
        if r.stop:
            body["stop_sequences"] = list(r.stop)
        if self.streaming if streamed is None else streamed:
            body["stream"] = True
        return body

    def _generation(self, resp: Response, streamed: bool | None = None) -> Generation:
        failed = self._record(resp)
        if failed is not None:
            return failed
        data = resp.data or {}
        try:
            if self.streaming if streamed is None else streamed:
                text, inp, outp, stop = self._from_events(data["events"])
            else:
                blocks = data["content"]
                text = "".join(b.get("text", "") for b in blocks if b.get("type", "text") == "text")
                usage = data.get("usage") or {}
                inp, outp, stop = usage.get("input_tokens"), usage.get("output_tokens"), data.get("stop_reason")
        except (KeyError, TypeError, AttributeError) as exc:
            return self._bad_shape(resp, exc)
        return Generation(
            text=self.pool.redact(text),  # a model that echoes its request must not echo the key
            input_tokens=inp,
            output_tokens=outp,
            latency_s=resp.latency_s,
            ttft_s=resp.ttft_s,
            extra={"attempts": resp.attempts, "stop_reason": stop},
        )

    @staticmethod
    def _from_events(events: list[dict[str, Any]]) -> tuple[str, int | None, int | None, str | None]:
        """Text, input and output tokens and stop reason of a streamed message. ``message_delta``
        usage counts are cumulative, so the last one wins; ``message_start`` has the input count."""
        start = next((e for e in events if e.get("type") == "message_start"), None)
        if start is None:
            raise KeyError("message_start")
        usage: dict[str, Any] = dict(start["message"].get("usage") or {})
        stop = None
        for e in events:
            if e.get("type") == "message_delta":
                usage.update({k: v for k, v in (e.get("usage") or {}).items() if v is not None})
                stop = (e.get("delta") or {}).get("stop_reason") or stop
        text = "".join(_text_delta(e) for e in events)
        return text, usage.get("input_tokens"), usage.get("output_tokens"), stop

    def generate(self, requests: Sequence[GenerationRequest], progress: Progress | None = None) -> list[Generation]:
        stream = STREAM if self.streaming else None
        resps = self.pool.map_post("v1/messages", [self._body(r) for r in requests], progress, stream=stream)
        return [self._generation(r) for r in resps]

    def stream(self, request: GenerationRequest) -> Iterator[str | Generation]:
        """Streamed whatever the ``stream`` option says: the playground shows text as it comes."""
        body = self._body(request, streamed=True)
        yield from self._stream_post(
            "v1/messages", body, STREAM, _text_delta, lambda resp: self._generation(resp, streamed=True)
        )

    def loglikelihood(
        self, questions: Sequence[MCQuestion], progress: Progress | None = None
    ) -> list[list[ContinuationScore]]:
        return self._mc_by_letter(questions, progress)

    def close(self) -> None:
        self.pool.close()
