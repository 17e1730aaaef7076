"""Shared HTTP plumbing for API backends (OpenAI-compatible servers, Anthropic).

* :class:`HTTPPool` posts JSON with bounded concurrency (a thread pool over one ``httpx.Client``
  holding as many connections as workers). It retries 408/429/500/502/503/504/529, timeouts,
  connection errors, bodies cut short, invalid JSON and broken event streams, with exponential
  backoff and full jitter; a server's ``Retry-After`` (seconds or an HTTP date) or
  ``retry-after-ms`` replaces the backoff, and ``x-should-retry`` (sent by OpenAI and Anthropic)
  overrides the status rule. After the last attempt it returns a recorded :class:`RequestError`
  (status, message, attempts) instead of raising or dropping the request, so a run goes on and
  its failures can be counted.
* Streams (``stream=SSEFormat(...)``) are read as server-sent events and must reach the provider's
  end marker (``data: [DONE]``, Anthropic's ``message_stop``): a stream that stops early is a
  failed attempt, never a silently shortened answer. The time to the first token (TTFT) is
  measured from the start of the attempt that succeeded.
* The API key is read from the environment and only ever lives in the client's headers; a
  password in ``base_url`` (``https://user:pass@host``) moves to basic auth so it never appears in
  a logged URL. Every message that leaves this module passes through :meth:`HTTPPool.redact`.
* The multiple-choice "letter" format (prompt and strict parse) used when a model gives no prompt
  log-probs lives here, shared by every API backend (:class:`APIBackend`).
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import json
import logging
import math
import os
import queue
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import httpx

from llmatlas.backends.base import (
    Backend,
    ContinuationScore,
    Generation,
    GenerationRequest,
    MCQuestion,
    Progress,
)
from llmatlas.backends.options import APIOptions
from llmatlas.core.errors import InputError

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 529})  # 529: Anthropic 'overloaded'
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
REDACTED = "[redacted]"


@dataclass(frozen=True)
class RequestError:
    """A request that failed for good: HTTP status (None for transport errors), message, attempts."""

    status: int | None
    message: str
    attempts: int

    def __str__(self) -> str:
        where = f"HTTP {self.status}" if self.status is not None else "request failed"
        return f"{where} after {self.attempts} attempt(s): {self.message}"


@dataclass
class Response:
    """The outcome of one logical request: parsed JSON (or, streamed, the list of SSE events under
    ``data["events"]``) or a recorded error. ``ttft_s`` is set for streams: time from the start of
    the successful attempt to the first event the format's ``first_token`` accepts."""

    data: dict[str, Any] | None
    error: RequestError | None
    attempts: int
    latency_s: float
    extra: dict[str, Any] = field(default_factory=dict)
    ttft_s: float | None = None


@dataclass(frozen=True)
class SSEFormat:
    """How one provider's event stream reads: which event carries the first token, which one ends
    the stream (None: the ``data: [DONE]`` sentinel), what an in-stream error looks like
    (``error_of`` returns ``(message, retryable)`` for an error event, else None) and, once the end
    arrived, what would still make it incomplete (``problem`` returns a reason, else None: a server
    may close a stream properly after cutting the answer short)."""

    first_token: Callable[[dict[str, Any]], bool]
    is_end: Callable[[dict[str, Any]], bool] | None = None
    error_of: Callable[[dict[str, Any]], tuple[str, bool] | None] = lambda _event: None
    problem: Callable[[list[dict[str, Any]]], str | None] = lambda _events: None
    end_name: str = "data: [DONE]"  # what error messages call the end marker


class _Invalid(Exception):
    """A 200 response whose body is not what was promised (invalid JSON, a broken stream)."""

    def __init__(self, message: str, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


def api_key_from_env(options: APIOptions, default_env: str) -> str | None:
    """The key named by the ``api_key_env`` option (default ``default_env``); never an option value:
    a key given in a model spec would end up in shell history, journals and results."""
    if options.api_key is not None:
        raise InputError(
            f"API keys are read from the environment, never from the model spec: set ${default_env} "
            "or name another variable with api_key_env=VAR",
            field="api_key",
        )
    env = options.api_key_env or default_env
    key = os.environ.get(env, "").strip()
    return key or None


def public_host(url: str) -> str:
    """``host:port`` of a URL without any ``user:password@`` part: what results may record."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{host}:{parts.port}" if parts.port else host


def _split_userinfo(url: str) -> tuple[str, tuple[str, str] | None]:
    """``url`` without ``user:password@`` and the credentials it held (None when it held none)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    netloc = public_host(url)
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return clean, (unquote(parts.username or ""), unquote(parts.password or ""))


MAX_ERROR_CHARS = 300


def _error_message(body: bytes, redact: Callable[[str], str] = lambda t: t) -> str:
    """The human part of an error body: OpenAI ``{"error": {"message"}}``, Anthropic
    ``{"type": "error", "error": {"type", "message"}}``, else the (shortened) text.

    The whole body is redacted *before* it is shortened: a key that straddles the cut must not
    survive as a prefix.
    """
    text = redact(body.decode("utf-8", "replace"))
    try:
        data = json.loads(text)
    except ValueError:
        return text[:MAX_ERROR_CHARS].strip() or "(empty body)"
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):
            kind = err.get("type")
            msg = str(err.get("message", ""))
            return (f"{kind}: {msg}" if kind else msg)[:MAX_ERROR_CHARS]
        if isinstance(err, str):
            return err[:MAX_ERROR_CHARS]
        if "detail" in data:
            return str(data["detail"])[:MAX_ERROR_CHARS]
    return json.dumps(data)[:MAX_ERROR_CHARS]


def retry_after_seconds(value: str | None, now: dt.datetime | None = None) -> float | None:
    """``Retry-After`` as seconds to wait: delta-seconds (``"2"``, ``"0.5"``) or an HTTP date
    (``"Wed, 21 Oct 2026 07:28:00 GMT"``, measured from ``now``); None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # RFC 9110 dates are GMT
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - (now or dt.datetime.now(dt.UTC))).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _server_wait(headers: httpx.Headers) -> float | None:
    """The wait a response asks for: ``retry-after-ms`` (OpenAI) first, then ``Retry-After``."""
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            value = float(ms) / 1000.0
        except ValueError:
            value = math.nan
        if math.isfinite(value):
            return max(0.0, value)
    return retry_after_seconds(headers.get("retry-after"))


def _should_retry(status: int, headers: httpx.Headers) -> bool:
    """``x-should-retry: true|false`` when the server says so, else the status rule."""
    hint = str(headers.get("x-should-retry", "")).strip().lower()
    if hint in ("true", "false"):
        return hint == "true"
    return status in RETRY_STATUSES


def sse_events(lines: Iterator[str]) -> Iterator[str]:
    """The ``data`` of each server-sent event (several ``data:`` lines of one event joined by
    newlines, as the SSE specification says). ``event:``/``id:`` fields and ``:`` comments are
    skipped: both providers repeat the event type inside the JSON. A last event without its
    closing blank line is still given, so the caller's end-marker check decides about it."""
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        name, _, value = line.partition(":")
        if name == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield "\n".join(data)


def _read_stream(
    lines: Iterator[str],
    fmt: SSEFormat,
    t0: float,
    on_event: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[list[dict[str, Any]], float | None]:
    """Events of a stream and its TTFT; raises :class:`_Invalid` unless it reached its end marker.
    ``on_event`` sees each event as it arrives (the playground streams text from it)."""
    events: list[dict[str, Any]] = []
    ttft: float | None = None

    def finished() -> tuple[list[dict[str, Any]], float | None]:
        problem = fmt.problem(events)
        if problem is not None:
            raise _Invalid(problem)
        return events, ttft

    for payload in sse_events(lines):
        if payload.strip() == "[DONE]":
            if fmt.is_end is None:
                return finished()
            continue
        try:
            event = json.loads(payload)
        except ValueError as exc:
            raise _Invalid(f"invalid JSON in stream event: {exc}") from exc
        if not isinstance(event, dict):
            continue
        err = fmt.error_of(event)
        if err is not None:
            raise _Invalid(f"error event in stream: {err[0]}", retryable=err[1])
        if ttft is None and fmt.first_token(event):
            ttft = time.perf_counter() - t0
        events.append(event)
        if on_event is not None:
            on_event(event)
        if fmt.is_end is not None and fmt.is_end(event):
            return finished()
    raise _Invalid(f"stream ended before {fmt.end_name} ({len(events)} event(s) received)")


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise _Invalid(f"invalid JSON in response: {exc}") from exc
    if not isinstance(data, dict):
        raise _Invalid("invalid JSON in response: not a JSON object")
    return data


class HTTPPool:
    """POST JSON to one base URL with retries and at most ``concurrency`` requests in flight."""

    def __init__(
        self,
        base_url: str,
        headers: dict[str, str],
        *,
        secret: str | None = None,
        concurrency: int = 4,
        max_attempts: int = 5,
        timeout_s: float = 120.0,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 30.0,
        retry_after_max_s: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        base, userinfo = _split_userinfo(base_url.rstrip("/"))
        self.base_url = base
        secrets = [s for s in (secret, userinfo[1] if userinfo else None) if s]
        # the percent-encoded form too (a server may echo a key it received in a URL), and the
        # basic-auth header's base64 of user:password (a model may echo its request headers)
        forms = {v for s in secrets for v in (s, quote(s, safe=""))}
        if userinfo and userinfo[1]:
            forms.add(base64.b64encode(f"{userinfo[0]}:{userinfo[1]}".encode()).decode("ascii"))
        self._secrets = sorted(forms, key=len, reverse=True)
        self.concurrency = concurrency
        self.max_attempts = max_attempts
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.retry_after_max_s = retry_after_max_s
        self._sleep = sleep
        self._client = httpx.Client(
            headers=headers,
            auth=httpx.BasicAuth(*userinfo) if userinfo else None,
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"HTTPPool(base_url={self.base_url!r}, concurrency={self.concurrency})"

    def redact(self, text: str) -> str:
        for s in self._secrets:
            text = text.replace(s, REDACTED)
        return text

    def held_tail(self, text: str) -> int:
        """Length of the longest end of ``text`` that starts a secret: a streamed piece keeps it back
        until the next piece says whether the secret follows."""
        longest = 0
        for secret in self._secrets:
            for n in range(min(len(secret) - 1, len(text)), longest, -1):
                if text.endswith(secret[:n]):
                    longest = n
                    break
        return longest

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**(attempt-1))]."""
        cap = min(self.backoff_max_s, self.backoff_base_s * (2 ** (attempt - 1)))
        return random.uniform(0.0, cap)

    def post_json(
        self,
        path: str,
        body: dict[str, Any],
        *,
        stream: SSEFormat | None = None,
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> Response:
        """One logical request, retried; never raises for HTTP or transport failures.

        With ``stream``, the 200 body is read as server-sent events (``data["events"]``); a stream
        that breaks off, ends before its end marker or carries invalid JSON is retried like any
        transient failure (an in-stream error event only when the format calls it retryable)."""
        return self._request("POST", path, body, stream=stream, on_event=on_event)

    def get_json(self, path: str, params: dict[str, str] | None = None) -> Response:
        """GET a JSON object (a models list, a price map) with the same retries and error records."""
        return self._request("GET", path, None, params=params)

    def _request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        *,
        params: dict[str, str] | None = None,
        stream: SSEFormat | None = None,
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> Response:
        url = f"{self.base_url}/{path.lstrip('/')}" if path else self.base_url
        t_all = time.perf_counter()
        last = RequestError(None, "no attempt made", 0)
        for attempt in range(1, self.max_attempts + 1):
            wait: float | None = None
            t0 = time.perf_counter()
            try:
                with self._client.stream(method, url, json=body, params=params) as resp:
                    if resp.status_code == 200:
                        ttft: float | None = None
                        if stream is not None:
                            events, ttft = _read_stream(resp.iter_lines(), stream, t0, on_event)
                            data: dict[str, Any] = {"events": events}
                        else:
                            data = _json_object(resp.read())
                        latency = time.perf_counter() - t0
                        extra = {"total_s": time.perf_counter() - t_all}
                        return Response(data, None, attempt, latency, extra, ttft_s=ttft)
                    raw = resp.read()
                    last = RequestError(resp.status_code, _error_message(raw, self.redact), attempt)
                    if not _should_retry(resp.status_code, resp.headers):
                        break
                    wait = _server_wait(resp.headers)
            except _Invalid as exc:  # truncated/invalid JSON: transient more often than not
                last = RequestError(200, self.redact(str(exc))[:MAX_ERROR_CHARS], attempt)
                if not exc.retryable:
                    break
            except httpx.TimeoutException as exc:
                last = RequestError(None, self.redact(f"timeout: {type(exc).__name__}"), attempt)
            except httpx.TransportError as exc:
                last = RequestError(None, self.redact(f"{type(exc).__name__}: {exc}")[:MAX_ERROR_CHARS], attempt)
            if attempt == self.max_attempts:
                break
            delay = self.backoff(attempt) if wait is None else min(wait, self.retry_after_max_s)
            log.debug("%s %s: attempt %d failed (%s); retrying in %.3f s", method, path, attempt, last, delay)
            if delay > 0:
                self._sleep(delay)
        log.info("%s %s failed for good: %s", method, path, last)
        return Response(None, last, last.attempts, time.perf_counter() - t_all)

    def map_post(
        self,
        path: str,
        bodies: Sequence[dict[str, Any]],
        progress: Progress | None = None,
        *,
        stream: SSEFormat | None = None,
    ) -> list[Response]:
        """Post every body, ``concurrency`` at a time; results in input order."""
        if not bodies:
            return []
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="llmatlas-http")
            executor = self._executor
        futures = [executor.submit(self.post_json, path, b, stream=stream) for b in bodies]
        out = []
        for fut in futures:
            out.append(fut.result())
            if progress:
                progress(1)
        return out

    def close(self) -> None:
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None
        self._client.close()


# --- multiple choice by letter (models without prompt log-probs) ---------------------------------


def letter_prompt(question: MCQuestion) -> str:
    """The context, then ``A. choice`` lines, then the instruction."""
    if len(question.continuations) > len(LETTERS):
        raise ValueError(f"at most {len(LETTERS)} choices can be lettered")
    lines = [f"{LETTERS[i]}. {c.strip()}" for i, c in enumerate(question.continuations)]
    return f"{question.context.rstrip()}\n\n" + "\n".join(lines) + "\nAnswer with the letter only."


_STANDALONE_CAPITAL = re.compile(r"(?<![A-Za-z0-9])([A-Z])(?![A-Za-z0-9])")


def parse_letter(text: str, n_choices: int) -> int | None:
    """Index of the first standalone capital letter, if it names a choice; otherwise None (strict:
    a first standalone capital outside the choices, like "I think…", is unparseable)."""
    m = _STANDALONE_CAPITAL.search(text)
    if m is None:
        return None
    idx = LETTERS.index(m.group(1))
    return idx if idx < n_choices else None


def letter_scores(chosen: int | None, n_choices: int) -> list[ContinuationScore]:
    """0 for the chosen continuation, -inf for the rest (all -inf when nothing was chosen)."""
    return [ContinuationScore(0.0 if i == chosen else -math.inf, 1, i == chosen) for i in range(n_choices)]


class APIBackend(Backend):
    """Common parts of HTTP API backends: the pool, generation-based multiple choice, counters.

    Every logical request is counted (:meth:`stats`): ``requests``, ``retries`` (attempts beyond
    the first, successful or not), ``failed`` (recorded errors; each also kept in ``errors``) and,
    for multiple choice by letter, ``unparsed`` answers. A failure is never an empty success."""

    mc_answer_tokens_default = 16
    options_model = APIOptions
    options: APIOptions
    pool: HTTPPool  # set by the subclass, which knows its URL and headers

    def __init__(self, target: str, **options: Any) -> None:
        super().__init__(target, **options)
        self.model = target
        self.unparsed = 0  # MC answers with no parseable letter
        self.failed = 0  # MC requests that ended in a recorded error
        self.requests = 0  # logical requests answered (each possibly after retries)
        self.retries = 0  # attempts beyond the first, over all requests
        self.errors: list[RequestError] = []
        self.mc_max_tokens = self.options.mc_max_tokens or self.mc_answer_tokens_default
        self._count_lock = threading.Lock()

    def stats(self) -> dict[str, int]:
        """Request counters for a report: what was asked, retried, lost, unparseable."""
        with self._count_lock:
            return {
                "requests": self.requests,
                "retries": self.retries,
                "errors": len(self.errors),
                "mc_failed": self.failed,
                "mc_unparsed": self.unparsed,
            }

    def _pool_from_options(self, base_url: str, headers: dict[str, str], secret: str | None) -> HTTPPool:
        o = self.options
        return HTTPPool(
            base_url,
            headers,
            secret=secret,
            concurrency=o.concurrency,
            max_attempts=o.max_attempts,
            timeout_s=o.timeout,
            backoff_base_s=o.backoff_base,
            backoff_max_s=o.backoff_max,
        )

    def _mc_by_letter(
        self, questions: Sequence[MCQuestion], progress: Progress | None
    ) -> list[list[ContinuationScore]]:
        requests = [
            GenerationRequest(prompt=letter_prompt(q), max_tokens=self.mc_max_tokens, temperature=0.0, chat=True)
            for q in questions
        ]
        gens = self.generate(requests, progress=progress)
        out = []
        for q, g in zip(questions, gens, strict=True):
            n = len(q.continuations)
            if g.error is not None:
                with self._count_lock:
                    self.failed += 1
                out.append(letter_scores(None, n))
                continue
            chosen = parse_letter(g.text, n)
            if chosen is None:
                with self._count_lock:
                    self.unparsed += 1
            out.append(letter_scores(chosen, n))
        return out

    def generate(self, requests: Sequence[GenerationRequest], progress: Progress | None = None) -> list[Generation]:
        raise NotImplementedError

    def _stream_post(
        self,
        path: str,
        body: dict[str, Any],
        fmt: SSEFormat,
        text_of: Callable[[dict[str, Any]], str],
        finish: Callable[[Response], Generation],
    ) -> Iterator[str | Generation]:
        """Text of each stream event as it arrives, then the Generation of the whole response.

        The request runs (with its retries) on a worker thread; a stream that breaks and is retried
        yields its text again from the start, so a reader should trust the final Generation's text.
        """
        events: queue.Queue[str | Response] = queue.Queue()

        def work() -> None:
            try:
                events.put(self.pool.post_json(path, body, stream=fmt, on_event=lambda e: events.put(text_of(e))))
            except Exception as exc:  # post_json records failures itself; this is a last resort
                events.put(Response(None, RequestError(None, self.pool.redact(repr(exc)), 1), 1, 0.0))

        threading.Thread(target=work, daemon=True, name="llmatlas-stream").start()
        # Pieces are redacted as one text: an end that could be the start of a secret is held back
        # until more arrives, so a key split across two events is caught too.
        pending = ""
        while True:
            item = events.get()
            if isinstance(item, Response):
                if pending:
                    yield self.pool.redact(pending)
                yield finish(item)
                return
            if item:
                pending = self.pool.redact(pending + item)
                cut = len(pending) - self.pool.held_tail(pending)
                if cut > 0:
                    yield pending[:cut]
                    pending = pending[cut:]

    def _record(self, resp: Response) -> Generation | None:
        """Count the response; a failed Generation for a recorded error (None when it has data)."""
        with self._count_lock:
            self.requests += 1
            self.retries += max(0, resp.attempts - 1)
        if resp.error is None:
            return None
        return self._failed(resp.error, resp.latency_s)

    def _failed(self, error: RequestError, latency_s: float | None) -> Generation:
        with self._count_lock:
            self.errors.append(error)
        return Generation(
            text="",
            latency_s=latency_s,
            error=str(error),
            extra={"status": error.status, "attempts": error.attempts},
        )

    def _bad_shape(self, resp: Response, exc: BaseException) -> Generation:
        """A 200 response without the fields the provider documents: recorded, not retried."""
        message = self.pool.redact(f"unexpected response shape: {type(exc).__name__}: {exc}")[:MAX_ERROR_CHARS]
        err = RequestError(200, message, resp.attempts)
        return self._failed(err, resp.latency_s)
