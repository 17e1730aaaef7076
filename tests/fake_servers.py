"""Loopback fakes of the OpenAI-compatible and Anthropic HTTP APIs, with scriptable faults.

``with FakeServer("openai") as srv:`` serves on 127.0.0.1 at a free port, one thread per
connection (so many slow requests are served at once). Faults are consumed one per request from
``srv.faults`` (then ``srv.always`` applies to every request); ``srv.rule(recorded)`` is asked
first and may fault a request by its content (a prompt that always fails):

* ``Fault(status=429, retry_after="0.2")``, ``Fault(status=529)``: an error body in the
  provider's shape (OpenAI ``{"error": {...}}``, Anthropic ``{"type": "error", "error": {"type":
  "rate_limit_error", ...}}``) with optional ``Retry-After`` and other ``headers``;
* ``Fault(delay=0.1)``: answer late (a client timeout shorter than that gives up first);
* ``Fault(truncated=True)``: a complete body that is not valid JSON; streamed, the connection
  drops in the middle of an event;
* ``Fault(cut=True)``: ``Content-Length`` announces the whole body, half is sent, the connection
  closes;
* ``Fault(early_end=True)``: a stream that ends cleanly but before ``data: [DONE]`` or
  ``message_stop``; ``Fault(interrupted=True)``: after the first token, ``data: [DONE]`` without
  a finish reason (what llama-cpp-python's server sends when another request interrupts it);
* ``Fault(stream_error="overloaded_error")``: a 200 stream that carries an error event after the
  first token (as Anthropic documents for errors after the response started);
* ``Fault(body={"id": "x"})``: a 200 of the wrong shape.

Every request is recorded (path, headers, JSON body) in ``srv.requests``; ``srv.max_in_flight``
is the most requests handled at once. The Anthropic fake insists on ``anthropic-version`` (400)
and ``x-api-key`` (401) as the real API does.

OpenAI ``/v1/completions`` with ``echo`` and ``logprobs`` answers in vLLM's shape
(``choices[0].logprobs.{tokens, token_logprobs, text_offset, top_logprobs}``) unless
``srv.echo_logprobs`` is False (then it answers 400 as api.openai.com does for chat models);
``srv.echo_generated`` appends that many generated tokens after the echoed prompt (default: as
many as ``max_tokens`` asks for); ``srv.echo_shift`` scores each echoed token with the next
position's numbers, as llama-cpp-python's server does for models without BOS. Plain completions
stop at ``max_tokens`` fake tokens and give their log-probs when ``logprobs`` is asked for.

``"stream": true`` requests get server-sent events (chunked): the first content event, then
``srv.stream_gap`` seconds, then the rest (OpenAI: a usage chunk when
``stream_options.include_usage`` asks for it, then ``data: [DONE]``; Anthropic: ``message_delta``
with usage, then ``message_stop``).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # listen() backlog: the default 5 drops SYNs of concurrent clients (1 s retry)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that timed out and hung up is part of the script, not a server bug to print."""


def serve(fake: Any, handle: Callable[[BaseHTTPRequestHandler], None], lock: threading.Lock) -> _Server:
    """Start a threaded HTTP server on 127.0.0.1 (a free port) whose POSTs go to ``handle``, counting
    requests in flight in ``fake.in_flight`` and the most at once in ``fake.max_in_flight`` under
    ``lock`` (what concurrency bounds are checked against). Stop it with ``shutdown()`` and
    ``server_close()``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in separate writes

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            with lock:
                fake.in_flight += 1
                fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
            try:
                handle(self)
            finally:
                with lock:
                    fake.in_flight -= 1

    server = _Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    return server


@dataclass(frozen=True)
class Fault:
    status: int = 200
    retry_after: str | None = None
    truncated: bool = False
    cut: bool = False
    early_end: bool = False
    interrupted: bool = False
    stream_error: str | None = None
    delay: float = 0.0
    message: str | None = None
    body: dict[str, Any] | None = None  # a 200 with this JSON instead of the documented shape
    headers: dict[str, str] = field(default_factory=dict)


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


ANTHROPIC_ERRORS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    504: "timeout_error",
}


class FakeServer:
    def __init__(self, kind: str, answer: Callable[[str], str] = _default_answer) -> None:
        assert kind in ("openai", "anthropic")
        self.kind = kind
        self.answer = answer
        self.faults: list[Fault] = []
        self.always: Fault | None = None
        self.rule: Callable[[Recorded], Fault | None] | None = None
        self.requests: list[Recorded] = []
        self.echo_logprobs = True
        self.echo_generated: int | None = None
        self.echo_shift = False
        self.stream_gap = 0.0
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # --- lifecycle ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        base = f"http://{host!s}:{port}"
        return base + "/v1" if self.kind == "openai" else base

    def __enter__(self) -> FakeServer:
        self._server = serve(self, self._handle, self._lock)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # --- handling --------------------------------------------------------------------------

    def _next_fault(self, rec: Recorded) -> Fault | None:
        if self.rule is not None:
            fault = self.rule(rec)
            if fault is not None:
                return fault
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
            kind = ANTHROPIC_ERRORS.get(status, "overloaded_error")  # 503, 529: overloaded
            return {"type": "error", "error": {"type": kind, "message": msg}}
        return {"error": {"message": msg, "type": "server_error", "param": None, "code": status}}

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length", "0"))
        raw = h.rfile.read(length)
        body = json.loads(raw) if raw else {}
        headers = {k.lower(): v for k, v in h.headers.items()}
        rec = Recorded(h.path, headers, body)
        with self._lock:
            self.requests.append(rec)
        fault = self._next_fault(rec)
        if fault and fault.delay:
            time.sleep(fault.delay)
        if fault and fault.status != 200:
            extra = dict(fault.headers)
            if fault.retry_after is not None:
                extra["Retry-After"] = fault.retry_after
            self._send(h, fault.status, json.dumps(self._error(fault.status, fault.message)).encode(), extra)
            return
        if self.kind == "anthropic":
            if "anthropic-version" not in headers:
                self._send(h, 400, json.dumps(self._error(400, "anthropic-version header is required")).encode(), {})
                return
            if not headers.get("x-api-key"):
                self._send(h, 401, json.dumps(self._error(401, "x-api-key header is required")).encode(), {})
                return
        if fault and fault.body is not None:
            self._send(h, 200, json.dumps(fault.body).encode(), {})
            return
        try:
            payload = self._respond(h.path, body)
        except (KeyError, ValueError) as exc:
            self._send(h, 400, json.dumps(self._error(400, f"bad request: {exc!r}")).encode(), {})
            return
        if body.get("stream"):
            events = self._anthropic_events(payload) if self.kind == "anthropic" else self._openai_events(payload, body)
            self._stream(h, events, fault)
            return
        data = json.dumps(payload).encode()
        if fault and fault.cut:  # the announced length, half the bytes, then the connection closes
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data[: len(data) // 2])
            h.close_connection = True
            return
        if fault and fault.truncated:
            data = data[: len(data) // 2]
        self._send(h, 200, data, {})

    # --- streams ---------------------------------------------------------------------------

    def _openai_events(self, payload: dict[str, Any], body: dict[str, Any]) -> list[tuple[str | None, str]]:
        """The response as OpenAI streams it: one chunk per token, the finish reason, usage when
        ``stream_options.include_usage`` asks for it, then ``[DONE]``."""
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
        if (body.get("stream_options") or {}).get("include_usage"):
            chunks.append({"choices": [], "usage": payload["usage"]})
        obj = "chat.completion.chunk" if chat else "text_completion"
        events: list[tuple[str | None, str]] = [
            (None, json.dumps({"id": payload["id"], "object": obj, **c})) for c in chunks
        ]
        events.append((None, "[DONE]"))
        return events

    def _anthropic_events(self, payload: dict[str, Any]) -> list[tuple[str | None, str]]:
        """The Messages event stream: message_start, a text block of deltas, message_delta, message_stop."""
        usage = payload["usage"]
        start = {**payload, "content": [], "stop_reason": None, "stop_sequence": None}
        start["usage"] = {"input_tokens": usage["input_tokens"], "output_tokens": 1}
        raw: list[dict[str, Any]] = [
            {"type": "message_start", "message": start},
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            {"type": "ping"},
        ]
        for tok in tokens(payload["content"][0]["text"]):
            raw.append({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": tok}})
        raw += [
            {"type": "content_block_stop", "index": 0},
            {
                "type": "message_delta",
                "delta": {"stop_reason": payload["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": usage["output_tokens"]},
            },
            {"type": "message_stop"},
        ]
        return [(e["type"], json.dumps(e)) for e in raw]

    def _stream(self, h: BaseHTTPRequestHandler, events: list[tuple[str | None, str]], fault: Fault | None) -> None:
        """Write ``(event name, data)`` pairs as chunked server-sent events, with the scripted faults."""

        def sse(name: str | None, data: str) -> bytes:
            return (f"event: {name}\n" if name else "").encode() + f"data: {data}\n\n".encode()

        def is_text(name: str | None, data: str) -> bool:
            return '"text_delta"' in data if self.kind == "anthropic" else '"content": ""' not in data

        first = next((i + 1 for i, (n, d) in enumerate(events) if is_text(n, d)), 1)  # through the first token
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Cache-Control", "no-cache")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()

        def write(data: bytes) -> None:
            h.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            h.wfile.flush()

        write(b"".join(sse(n, d) for n, d in events[:first]))
        if self.stream_gap:
            time.sleep(self.stream_gap)
        rest_events = events[first:]
        if fault and fault.early_end:
            rest_events = rest_events[:-1]  # no [DONE] / message_stop
        if fault and fault.interrupted:
            rest_events = [(None, "[DONE]")]
        if fault and fault.stream_error:
            if self.kind == "anthropic":
                err = {"type": "error", "error": {"type": fault.stream_error, "message": fault.message or "Overloaded"}}
                rest_events = [("error", json.dumps(err))]
            else:
                err = {"error": {"message": fault.message or "stream failed", "type": fault.stream_error, "code": None}}
                rest_events = [(None, json.dumps(err))]
        rest = b"".join(sse(n, d) for n, d in rest_events)
        if fault and fault.truncated:  # the connection drops mid-event
            write(rest[: len(rest) // 2])
            h.close_connection = True
            return
        write(rest)
        h.wfile.write(b"0\r\n\r\n")
        h.wfile.flush()

    # --- answers ---------------------------------------------------------------------------

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
                "stop_sequence": None,
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
                n_gen = int(body.get("max_tokens", 16)) if self.echo_generated is None else self.echo_generated
                toks = tokens(prompt) + [f" gen{i}" for i in range(n_gen)]
                offsets, pos = [], 0
                for t in toks:
                    offsets.append(pos)
                    pos += len(t)
                lps: list[float | None] = [None] + [token_logprob(t) for t in toks[1:]]
                tops: list[dict[str, float] | None] = [None] + [{t: token_logprob(t)} for t in toks[1:]]
                if self.echo_shift:  # the next position's best guess is the top; the token scores low
                    lps = [None] + [token_logprob(t) - 5.0 for t in toks[1:]]
                    nxt = [*toks[2:], " next"]
                    tops = [None] + [{n: -0.01, t: lp} for n, t, lp in zip(nxt, toks[1:], lps[1:], strict=True)]
                logprobs = {"tokens": toks, "token_logprobs": lps, "text_offset": offsets, "top_logprobs": tops}
                text = "".join(toks)
                n_out = n_gen
            else:
                toks = tokens(self.answer(prompt))[: int(body.get("max_tokens", 16))]
                text = "".join(toks)
                logprobs = None
                if body.get("logprobs") is not None:
                    offsets = [len(prompt) + len("".join(toks[:i])) for i in range(len(toks))]
                    logprobs = {
                        "tokens": toks,
                        "token_logprobs": [token_logprob(t) for t in toks],
                        "text_offset": offsets,
                        "top_logprobs": [{t: token_logprob(t)} for t in toks],
                    }
                n_out = len(toks)
            return {
                "id": "cmpl-fake",
                "object": "text_completion",
                "model": body["model"],
                "choices": [{"index": 0, "text": text, "logprobs": logprobs, "finish_reason": "length"}],
                "usage": {"prompt_tokens": len(tokens(prompt)), "completion_tokens": n_out},
            }
        raise KeyError(path)
