"""Any OpenAI-compatible server (OpenAI, vLLM, llama.cpp server, Ollama, SGLang, …) over HTTP.

``openai:MODEL?base_url=http://127.0.0.1:8000/v1&concurrency=8&logprobs=prompt`` options:

* ``base_url`` (default ``$OPENAI_BASE_URL`` or https://api.openai.com/v1); the key comes from
  ``$OPENAI_API_KEY`` or the variable named by ``api_key_env`` and is sent as a Bearer token.
* ``logprobs``: ``prompt`` scores multiple choice with real log-probs through the legacy
  ``/completions`` endpoint (``echo: true, logprobs: 1, max_tokens: 1`` as lm-evaluation-harness
  sends it; the one generated token is ignored. Not ``max_tokens: 0``: llama.cpp's servers read 0
  as "no limit" and would generate up to the context size for every choice);
  ``auto`` probes once (at the first ``info()`` or ``loglikelihood()``): it generates one greedy
  token, echoes it after its prompt and uses log-probs only when the echo carries them *and* they
  agree with the generation (llama-cpp-python's server echoes log-probs shifted by one position
  for models without a BOS token; ``probe`` says what was found and why). Otherwise (the default)
  multiple choice is answered by generating a letter (``mc_method = "generation"``, see
  :mod:`llmatlas.backends.http`). ``prompt`` trusts the server without that check.
* ``stream=1``: generation streams (``stream: true`` with ``stream_options.include_usage``) and
  records the time to the first token in ``Generation.ttft_s``. A stream must end with
  ``data: [DONE]`` after a ``finish_reason``; one cut short is retried, then recorded as an error.
  llama-cpp-python's server ends a running stream early (``[DONE]`` without a finish reason)
  whenever another request arrives, so stream to it with ``concurrency=1`` (or start it with
  ``--interrupt_requests false``). Servers that ignore ``include_usage`` (llama-cpp-python)
  leave the token counts of streamed generations unknown (None, never 0).
* ``seed`` of a request is sent as ``seed`` (OpenAI, vLLM and llama.cpp honour it).
* ``concurrency``, ``max_attempts``, ``timeout``, ``backoff_base``, ``backoff_max``, ``mc_max_tokens``.

Echo scoring and its tokenization caveat: the server tokenizes ``context + continuation`` as one
string and the continuation's score is the sum of the log-probs of the tokens whose
``text_offset`` is ≥ ``len(context)`` (after lm-eval's rule moves the context's trailing
whitespace into the continuation). That equals lm-evaluation-harness's
``tok(context + continuation)[len(tok(context)):]`` whenever the joint tokenization has a token
boundary at the end of the context, which BPE tokenizers give for continuations that start with a
space — the usual case. When a token straddles the boundary it belongs to the context and is not
scored (unless no token starts inside the continuation, then the straddling tokens are scored so a
choice never scores a free 0); every straddle is counted in the backend's ``boundary_straddles``
(not in ``info()``, whose details are part of a run's identity and must not change as it runs).
Offsets are characters of the text the server detokenized, so a server that changes the text
(normalization, byte tokens) can shift them. vLLM decodes every token on its own, so a token
holding part of a UTF-8 character (a rare Chinese character in byte-level BPE) reads "�" and every
later offset is off. When the echoed tokens do not join into the echoed text, the continuation is
found by token count instead, exactly lm-evaluation-harness's rule: the context is sent once more
alone (one request per question, not per choice) and the continuation is the echoed prompt tokens
after the context's ``usage.prompt_tokens``. A server that reports no usage then gives a recorded
failure (``mc_failed``), never a score from misplaced tokens; ``offsets_unusable`` counts them.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterator, Sequence
from typing import Any, Literal

from pydantic import Field

from llmatlas.backends.base import (
    BackendInfo,
    ContinuationScore,
    Generation,
    GenerationRequest,
    MCQuestion,
    Progress,
    split_context,
)
from llmatlas.backends.http import APIBackend, Response, SSEFormat, api_key_from_env, public_host
from llmatlas.backends.options import APIOptions
from llmatlas.core.errors import InputError

DEFAULT_BASE_URL = "https://api.openai.com/v1"
PROBE_PROMPT = "The capital of France is"
PROBE_TOLERANCE = 0.1  # nats between a token's log-prob when generated and when echoed


def _usage(data: dict[str, Any]) -> tuple[int | None, int | None]:
    """``usage``'s (prompt_tokens, completion_tokens); None for a count the server did not give as one."""
    usage = data.get("usage") or {}
    if not isinstance(usage, dict):
        return None, None

    def count(key: str) -> int | None:
        n = usage.get(key)
        return n if isinstance(n, int) and not isinstance(n, bool) and n >= 0 else None

    return count("prompt_tokens"), count("completion_tokens")


def _delta_text(event: dict[str, Any]) -> str:
    """The text a streamed chunk adds (chat ``delta.content`` or completions ``text``)."""
    out = []
    for choice in event.get("choices") or []:
        if not isinstance(choice, dict):
            continue
        delta = choice.get("delta")
        piece = delta.get("content") if isinstance(delta, dict) else choice.get("text")
        if isinstance(piece, str):
            out.append(piece)
    return "".join(out)


def _has_text(event: dict[str, Any]) -> bool:
    return bool(_delta_text(event))


def _stream_error(event: dict[str, Any]) -> tuple[str, bool] | None:
    """An error sent inside a stream (``data: {"error": {...}}``): message, and whether to retry
    (yes unless its code is a client error other than 408/429)."""
    err = event.get("error")
    if err is None:
        return None
    if not isinstance(err, dict):
        return str(err), True  # shortened after redaction (HTTPPool)
    code = str(err.get("code", ""))
    status = int(code) if code.isdigit() else None
    retryable = status is None or not 400 <= status < 500 or status in (408, 429)
    return str(err.get("message") or err.get("type") or "error"), retryable


def _stream_problem(events: list[dict[str, Any]]) -> str | None:
    """A stream closed with ``[DONE]`` but without any ``finish_reason`` was cut short: llama-cpp-python's
    server does exactly that to a running stream when another request arrives (``interrupt_requests``)."""
    for e in events:
        for c in e.get("choices") or []:
            if isinstance(c, dict) and c.get("finish_reason"):
                return None
    return f"stream ended without a finish_reason after {len(events)} event(s) (interrupted by the server?)"


STREAM = SSEFormat(first_token=_has_text, error_of=_stream_error, problem=_stream_problem)


def _first_logprob(choice: dict[str, Any]) -> float | None:
    """The log-prob of a completion's first generated token, when the server gave it."""
    lp = choice.get("logprobs")
    values = lp.get("token_logprobs") if isinstance(lp, dict) else None
    first = values[0] if isinstance(values, list) and values else None
    return float(first) if isinstance(first, int | float) else None


def _offsets_usable(data: dict[str, Any] | None) -> bool:
    """Whether an echo's ``text_offset`` are positions in its text: its tokens join into the text."""
    try:
        choice = (data or {})["choices"][0]
        tokens = choice["logprobs"]["tokens"]
        return isinstance(tokens, list) and "".join(str(t) for t in tokens) == choice["text"]
    except (KeyError, IndexError, TypeError):
        return True  # no tokens to check: the offsets are all there is


def _echo_logprobs(data: dict[str, Any]) -> tuple[list[float | None], list[int], list[dict[str, float] | None]]:
    """``(token_logprobs, text_offset, top_logprobs)`` of an echo response; raises on another shape."""
    lp = data["choices"][0]["logprobs"]
    token_lps: list[float | None] = list(lp["token_logprobs"])
    offsets = [int(o) for o in lp["text_offset"]]
    if len(offsets) != len(token_lps) or not token_lps:
        raise ValueError("token_logprobs and text_offset differ in length or are empty")
    tops = list(lp.get("top_logprobs") or [None] * len(token_lps))
    return token_lps, offsets, tops


class OpenAIOptions(APIOptions):
    logprobs: Literal["prompt", "auto", "none"] | None = Field(
        None, description="multiple choice by prompt log-probs (prompt), probed (auto) or by letter (none, the default)"
    )


class OpenAIBackend(APIBackend):
    name = "openai"
    options_model = OpenAIOptions
    options: OpenAIOptions

    def __init__(self, target: str, **options: Any) -> None:
        super().__init__(target, **options)
        base = self.options.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        self.base_url = str(base).rstrip("/")
        mode = self.options.logprobs or "none"
        self._probe_pending = mode == "auto"
        self.probe: str | None = None  # what the probe found, with the reason when it found nothing
        self.prompt_logprobs = mode == "prompt"
        self.mc_method = "loglikelihood" if self.prompt_logprobs else "generation"
        self.streaming = self.options.stream
        self.boundary_straddles = 0
        self.offsets_unusable = 0  # echoes whose offsets were not positions in their text
        self._probe_lock = threading.Lock()
        key = api_key_from_env(self.options, "OPENAI_API_KEY")
        headers = {"content-type": "application/json"}
        if key:
            headers["authorization"] = f"Bearer {key}"
        self.pool = self._pool_from_options(self.base_url, headers, key)
        self.base_url = self.pool.base_url  # without any user:password@ part

    def __repr__(self) -> str:
        return f"OpenAIBackend(model={self.model!r}, base_url={self.base_url!r})"

    def info(self) -> BackendInfo:
        self._resolve_method()
        details: dict[str, Any] = {
            "host": public_host(self.base_url),
            "method": self.mc_method,
            "concurrency": self.pool.concurrency,
        }
        if self.probe is not None:  # stable words only: details are part of the run's identity
            details["probe"] = "prompt log-probs" if self.prompt_logprobs else "none"
        return BackendInfo(backend=self.name, model=self.model, details=details)

    # --- generation ---------------------------------------------------------------------------

    def _body(self, r: GenerationRequest, streamed: bool | None = None) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {"model": self.model, "max_tokens": r.max_tokens, "temperature": r.temperature}
        if r.stop:
            body["stop"] = list(r.stop)
        if r.seed is not None:
            body["seed"] = r.seed
        if self.streaming if streamed is None else streamed:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        if r.chat:
            if r.prefill:
                raise InputError(
                    "a prefilled assistant turn needs a backend that continues it (llama, hf, anthropic); "
                    "OpenAI-compatible chat endpoints start a new turn"
                )
            body["messages"] = r.messages()
            return "chat/completions", body
        body["prompt"] = r.flat_prompt()
        return "completions", body

    def _generation(self, resp: Response, chat: bool, streamed: bool | None = None) -> Generation:
        failed = self._record(resp)
        if failed is not None:
            return failed
        data = resp.data or {}
        extra: dict[str, Any] = {"attempts": resp.attempts}
        try:
            if self.streaming if streamed is None else streamed:
                events: list[dict[str, Any]] = data["events"]
                text = "".join(_delta_text(e) for e in events)
                usage_events = [e for e in events if isinstance(e.get("usage"), dict)]
                inp, outp = _usage(usage_events[-1]) if usage_events else (None, None)
                choices = [c for e in events for c in e.get("choices") or [] if isinstance(c, dict)]
                reasons = [c.get("finish_reason") for c in choices]
                extra["finish_reason"] = next((r for r in reversed(reasons) if r), None)
            else:
                choice = data["choices"][0]
                text = choice["message"]["content"] if chat else choice["text"]
                inp, outp = _usage(data)
                extra["finish_reason"] = choice.get("finish_reason")
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            return self._bad_shape(resp, exc)
        return Generation(
            text=self.pool.redact(text or ""),  # a model that echoes its request must not echo the key
            input_tokens=inp,
            output_tokens=outp,
            latency_s=resp.latency_s,
            ttft_s=resp.ttft_s,
            extra=extra,
        )

    def generate(self, requests: Sequence[GenerationRequest], progress: Progress | None = None) -> list[Generation]:
        # group by endpoint so each group runs concurrently; keep input order
        out: list[Generation | None] = [None] * len(requests)
        for chat in (True, False):
            idx = [i for i, r in enumerate(requests) if r.chat == chat]
            if not idx:
                continue
            paths_bodies = [self._body(requests[i]) for i in idx]
            resps = self.pool.map_post(
                paths_bodies[0][0],
                [b for _, b in paths_bodies],
                progress,
                stream=STREAM if self.streaming else None,
            )
            for i, resp in zip(idx, resps, strict=True):
                out[i] = self._generation(resp, chat)
        return [g for g in out if g is not None]

    def stream(self, request: GenerationRequest) -> Iterator[str | Generation]:
        """Streamed whatever the ``stream`` option says: the playground shows text as it comes."""
        path, body = self._body(request, streamed=True)
        yield from self._stream_post(
            path, body, STREAM, _delta_text, lambda resp: self._generation(resp, request.chat, streamed=True)
        )

    # --- multiple choice --------------------------------------------------------------------

    def _echo_body(self, prompt: str) -> dict[str, Any]:
        return {"model": self.model, "prompt": prompt, "echo": True, "logprobs": 1, "max_tokens": 1, "temperature": 0.0}

    def _resolve_method(self) -> None:
        """With ``logprobs=auto``, ask the server once whether it echoes prompt log-probs, and use
        them only if they pass the cross-check of :meth:`_probe`."""
        with self._probe_lock:
            if not self._probe_pending:
                return
            self._probe_pending = False
            self.probe = self._probe()
            self.prompt_logprobs = self.probe.startswith("prompt log-probs available")
            self.mc_method = "loglikelihood" if self.prompt_logprobs else "generation"

    def _probe(self) -> str:
        """Generate the greedy next token of PROBE_PROMPT, then echo prompt + token: a server whose
        echoed log-probs are right gives that token the log-prob it had when generated, or at least
        makes it the top token. llama-cpp-python's server (0.3) fails this for models without a
        BOS token: it scores every echoed token with the next position's distribution."""
        gen_body = {"model": self.model, "prompt": PROBE_PROMPT, "max_tokens": 1, "temperature": 0.0, "logprobs": 1}
        gen = self.pool.post_json("completions", gen_body)
        if gen.error is not None:
            return f"no prompt log-probs (completions endpoint: {gen.error})"
        try:
            choice = (gen.data or {})["choices"][0]
            nxt = str(choice["text"])
        except (KeyError, IndexError, TypeError) as exc:
            return f"no prompt log-probs (completions response without choices[0].text: {type(exc).__name__})"
        gen_lp = _first_logprob(choice)
        resp = self.pool.post_json("completions", self._echo_body(PROBE_PROMPT + nxt))
        if resp.error is not None:
            return f"no prompt log-probs ({resp.error})"
        try:
            token_lps, offsets, tops = _echo_logprobs(resp.data or {})
            if not any(isinstance(v, int | float) for v in token_lps):
                raise ValueError("no numeric log-probs")
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            return f"no prompt log-probs (response without them: {type(exc).__name__})"
        start, end = len(PROBE_PROMPT), len(PROBE_PROMPT) + len(nxt)
        span = [i for i, off in enumerate(offsets) if start <= off < end]
        if len(span) != 1 or token_lps[span[0]] is None:
            return f"prompt log-probs available (not cross-checked: {nxt!r} is not one echoed token)"
        lp = float(token_lps[span[0]] or 0.0)
        top = tops[span[0]] if span[0] < len(tops) else None
        is_top = bool(top) and lp >= max(float(v) for v in (top or {}).values()) - 1e-3
        agrees = gen_lp is not None and abs(lp - gen_lp) <= PROBE_TOLERANCE
        if is_top or agrees:
            return "prompt log-probs available (cross-checked against generation)"
        generated = "unknown" if gen_lp is None else f"{gen_lp:.3f}"
        return (
            f"no prompt log-probs (echoed log-probs disagree with generation: {nxt!r} scores {lp:.3f} echoed, "
            f"{generated} generated, and is not the echoed top token; off by one position?)"
        )

    def _echo_score(
        self, context: str, continuation: str, resp: Response, context_tokens: int | None = None
    ) -> ContinuationScore:
        failed = self._record(resp)
        if failed is not None:
            self.failed += 1
            return ContinuationScore(-math.inf, 0, False)
        try:
            token_lps, offsets, tops = _echo_logprobs(resp.data or {})
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            self._bad_shape(resp, exc)
            self.failed += 1
            return ContinuationScore(-math.inf, 0, False)
        if not _offsets_usable(resp.data):
            with self._count_lock:
                self.offsets_unusable += 1
            whole = _usage(resp.data or {})[0]
            if context_tokens is None or whole is None or not context_tokens <= whole <= len(token_lps):
                self.failed += 1
                return ContinuationScore(-math.inf, 0, False)
            chosen = list(range(context_tokens, whole))  # lm-eval's tok(ctx + cont)[len(tok(ctx)):]
        else:
            chosen = self._by_offsets(offsets, len(context), len(context) + len(continuation))
        total, n, greedy = 0.0, 0, True
        for i in chosen:
            tok_lp = token_lps[i]
            if tok_lp is None:  # the prompt's first token has no log-prob (empty context)
                continue
            total += float(tok_lp)
            n += 1
            top = tops[i] if i < len(tops) else None
            if top:
                greedy = greedy and float(tok_lp) >= max(float(v) for v in top.values()) - 1e-6
        return ContinuationScore(total, n, greedy and n > 0)

    def _by_offsets(self, offsets: list[int], start: int, end: int) -> list[int]:
        """The echoed tokens of the continuation [start, end) by their character offsets."""
        # a token spans [offset, next offset); tokens at or after `end` were generated, not echoed
        ends = [*offsets[1:], end]
        inside = [i for i, off in enumerate(offsets) if start <= off < end]
        straddling = [i for i, off in enumerate(offsets) if off < start < ends[i]]
        if straddling:
            self.boundary_straddles += 1
        return inside or (straddling if end > start else [])

    def _context_tokens(self, contexts: Sequence[str]) -> dict[str, int | None]:
        """How many tokens the server makes of each context alone (``usage.prompt_tokens``)."""
        bodies = [{"model": self.model, "prompt": c, "max_tokens": 1, "temperature": 0.0} for c in contexts]
        out: dict[str, int | None] = {}
        for c, r in zip(contexts, self.pool.map_post("completions", bodies), strict=True):
            failed = self._record(r)  # counted, and a lost request recorded like any other
            out[c] = _usage(r.data or {})[0] if failed is None else None
        return out

    def stats(self) -> dict[str, int]:
        return {**super().stats(), "offsets_unusable": self.offsets_unusable}

    def loglikelihood(
        self, questions: Sequence[MCQuestion], progress: Progress | None = None
    ) -> list[list[ContinuationScore]]:
        self._resolve_method()
        if not self.prompt_logprobs:
            return self._mc_by_letter(questions, progress)
        pairs = [split_context(q.context, c) for q in questions for c in q.continuations]
        # advance `progress` per question as its last request finishes (map_post reports in order)
        bounds, k = [], 0
        for q in questions:
            k += len(q.continuations)
            bounds.append(k)
        state = {"requests": 0, "questions": 0}

        def advance(n: int) -> None:
            state["requests"] += n
            while state["questions"] < len(bounds) and bounds[state["questions"]] <= state["requests"]:
                state["questions"] += 1
                if progress:
                    progress(1)

        resps = self.pool.map_post("completions", [self._echo_body(ctx + cont) for ctx, cont in pairs], advance)
        # offsets that are no positions in the text (tokens decoded one by one): split by token count
        unusable = sorted({ctx for (ctx, _), r in zip(pairs, resps, strict=True) if not _offsets_usable(r.data)})
        counts = self._context_tokens(unusable) if unusable else {}
        scores = [self._echo_score(ctx, cont, r, counts.get(ctx)) for (ctx, cont), r in zip(pairs, resps, strict=True)]
        out, k = [], 0
        for q in questions:
            out.append(scores[k : k + len(q.continuations)])
            k += len(q.continuations)
        advance(0)  # trailing questions without choices
        return out

    def loglikelihood_reference(self, questions: Sequence[MCQuestion]) -> list[list[ContinuationScore]]:
        return self.loglikelihood(questions)  # already one request per (context, continuation) pair

    def close(self) -> None:
        self.pool.close()
