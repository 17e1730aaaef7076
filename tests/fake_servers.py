"""Loopback fakes of the OpenAI-compatible and Anthropic HTTP APIs, with scriptable faults.

``with FakeServer("openai") as srv:`` serves on 127.0.0.1 at a free port in a thread. Faults are
consumed one per request from ``srv.faults`` (then ``srv.always`` applies to every request):
``Fault(status=429, retry_after="0.2")``, ``Fault(status=500)``, ``Fault(truncated=True)``,
``Fault(delay=0.1)``, ``Fault(body={"id": "x"})`` (a 200 of the wrong shape). Every request is
recorded (path, headers, JSON body) in ``srv.requests``.

OpenAI ``/v1/completions`` with ``echo`` and ``logprobs`` answers in vLLM's shape
(``choices[0].logprobs.{tokens, token_logprobs, text_offset, top_logprobs}``) unless
``srv.echo_logprobs`` is False (then it answers 400 as api.openai.com does for chat models);
``srv.echo_generated`` appends that many generated tokens after the echoed prompt (a server that
ignores ``max_tokens: 0``). ``"stream": true`` requests get server-sent events (chunked), the
first content chunk, then ``srv.stream_gap`` seconds, then the rest and a usage chunk.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # listen() backlog: the default 5 drops SYNs of concurrent clients (1 s retry)


@dataclass(frozen=True)
class Fault:
    status: int = 200
    retry_after: str | None = None
    truncated: bool = False
    delay: float = 0.0
    message: str | None = None
    body: dict[str, Any] | None = None  # a 200 with this JSON instead of the documented shape


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


def tokens(text: str) -> list[str]:
    """The fake tokenizer: a token is optional leading whitespace plus a run of non-space."""
    return re.findall(r"\s*\S+|\s+$", text)


def token_logprob(token: str) -> float:
    """A deterministic per-token log-prob the tests can recompute."""
    return -0.1 * (1 + sum(map(ord, token)) % 17)


def _default_answer(prompt: str) -> str:
    return f"echo: {prompt[:40]}"


class FakeServer:
    def __init__(self, kind: str, answer: Callable[[str], str] = _default_answer) -> None:
        assert kind in ("openai", "anthropic")
        self.kind = kind
        self.answer = answer
        self.faults: list[Fault] = []
        self.always: Fault | None = None
        self.requests: list[Recorded] = []
        self.echo_logprobs = True
        self.echo_generated = 0
        self.stream_gap = 0.0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        base = f"http://{host!s}:{port}"
        return base + "/v1" if self.kind == "openai" else base

    def __enter__(self) -> FakeServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in separate writes

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                fake._handle(self)

        server = _Server(("127.0.0.1", 0), Handler)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # --- handling --------------------------------------------------------------------------

    def _next_fault(self) -> Fault | None:
        with self._lock:
            if self.faults:
                return self.faults.pop(0)
            return self.always

    def _send(self, h: BaseHTTPRequestHandler, status: int, payload: bytes, headers: dict[str, str]) -> None:
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(payload)))
        for k, v in headers.items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(payload)

    def _error(self, status: int, message: str | None = None) -> dict[str, Any]:
        msg = message or f"fake {status}"
        if self.kind == "anthropic":
            kind = {429: "rate_limit_error", 400: "invalid_request_error"}.get(status, "overloaded_error")
            return {"type": "error", "error": {"type": kind, "message": msg}}
        return {"error": {"message": msg, "type": "server_error", "code": status}}

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length", "0"))
        raw = h.rfile.read(length)
        body = json.loads(raw) if raw else {}
        with self._lock:
            self.requests.append(Recorded(h.path, {k.lower(): v for k, v in h.headers.items()}, body))
        fault = self._next_fault()
        if fault and fault.delay:
            time.sleep(fault.delay)
        if fault and fault.status != 200:
            extra = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            self._send(h, fault.status, json.dumps(self._error(fault.status, fault.message)).encode(), extra)
            return
        if fault and fault.body is not None:
            self._send(h, 200, json.dumps(fault.body).encode(), {})
            return
        try:
            payload = self._respond(h.path, body)
        except (KeyError, ValueError) as exc:
            self._send(h, 400, json.dumps(self._error(400, f"bad request: {exc!r}")).encode(), {})
            return
        if body.get("stream") and self.kind == "openai":
            self._stream(h, payload, truncated=bool(fault and fault.truncated))
            return
        data = json.dumps(payload).encode()
        if fault and fault.truncated:
            data = data[: len(data) // 2]
        self._send(h, 200, data, {})

    def _stream(self, h: BaseHTTPRequestHandler, payload: dict[str, Any], truncated: bool) -> None:
        """The response as OpenAI streams it: one chunk per token, then usage, then [DONE]."""
        choice = payload["choices"][0]
        chat = "message" in choice
        text = choice["message"]["content"] if chat else choice["text"]
        chunks: list[dict[str, Any]] = []
        if chat:
            chunks.append({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})
        for tok in tokens(text):
            part = {"delta": {"content": tok}} if chat else {"text": tok}
            chunks.append({"choices": [{"index": 0, **part, "finish_reason": None}]})
        end = {"delta": {}} if chat else {"text": ""}
        chunks.append({"choices": [{"index": 0, **end, "finish_reason": "stop"}]})
        chunks.append({"choices": [], "usage": payload["usage"]})
        obj = "chat.completion.chunk" if chat else "text_completion"
        events = [f"data: {json.dumps({'id': payload['id'], 'object': obj, **c})}\n\n".encode() for c in chunks]
        events.append(b"data: [DONE]\n\n")
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()

        def write(data: bytes) -> None:
            h.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            h.wfile.flush()

        first = 2 if chat else 1  # the role chunk and the first token go out before the gap
        write(b"".join(events[:first]))
        if self.stream_gap:
            time.sleep(self.stream_gap)
        rest = b"".join(events[first:])
        if truncated:  # the connection drops mid-event
            write(rest[: len(rest) // 2])
            h.close_connection = True
            return
        write(rest)
        h.wfile.write(b"0\r\n\r\n")
        h.wfile.flush()

    def _respond(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if self.kind == "anthropic":
            if path != "/v1/messages":
                raise KeyError(path)
            prompt = body["messages"][-1]["content"]
            text = self.answer(prompt)
            return {
                "id": "msg_fake",
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn",
                "usage": {"input_tokens": len(tokens(prompt)), "output_tokens": len(tokens(text))},
            }
        if path == "/v1/chat/completions":
            prompt = body["messages"][-1]["content"]
            text = self.answer(prompt)
            return {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {
                    "prompt_tokens": len(tokens(prompt)),
                    "completion_tokens": len(tokens(text)),
                    "total_tokens": len(tokens(prompt)) + len(tokens(text)),
                },
            }
        if path == "/v1/completions":
            prompt = body["prompt"]
            if body.get("echo") and body.get("logprobs") is not None:
                if not self.echo_logprobs:
                    raise ValueError("echo and logprobs are not supported for this model")
                toks = tokens(prompt) + [f" gen{i}" for i in range(self.echo_generated)]
                offsets, pos = [], 0
                for t in toks:
                    offsets.append(pos)
                    pos += len(t)
                lps: list[float | None] = [None] + [token_logprob(t) for t in toks[1:]]
                tops: list[dict[str, float] | None] = [None] + [{t: token_logprob(t)} for t in toks[1:]]
                logprobs = {"tokens": toks, "token_logprobs": lps, "text_offset": offsets, "top_logprobs": tops}
                text = "".join(toks)
                n_out = self.echo_generated
            else:
                text = self.answer(prompt)
                logprobs = None
                n_out = len(tokens(text))
            return {
                "id": "cmpl-fake",
                "object": "text_completion",
                "model": body["model"],
                "choices": [{"index": 0, "text": text, "logprobs": logprobs, "finish_reason": "length"}],
                "usage": {"prompt_tokens": len(tokens(prompt)), "completion_tokens": n_out},
            }
        raise KeyError(path)
