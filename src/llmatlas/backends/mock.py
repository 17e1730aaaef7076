"""A deterministic fake model for tests: log-probs come from a hash of (prefix, token).

Tokens are whitespace-delimited words (a space starts a new token), so shared-context and
per-choice scoring see the same token sequences. ``mock:TARGET?delay=0.01`` options:
``delay`` sleeps per question (to test kill/resume), ``fail_every`` raises on every Nth call,
``replies`` names a JSON file of {prompt substring: reply} for scripted generations.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

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
from llmatlas.backends.options import BackendOptions
from llmatlas.core.errors import InputError

VOCAB = 50


def _tokens(text: str) -> list[str]:
    return re.findall(r"\s*\S+|\s+$", text)


def _logprobs(prefix: str) -> list[float]:
    """A fixed distribution over VOCAB buckets for this prefix (log-softmax of hashed logits)."""
    digest = hashlib.sha256(prefix.encode("utf-8")).digest()
    logits = [(digest[i % len(digest)] ^ (i * 37 % 256)) / 32.0 for i in range(VOCAB)]
    m = max(logits)
    z = m + math.log(sum(math.exp(v - m) for v in logits))
    return [v - z for v in logits]


def _bucket(token: str) -> int:
    return int.from_bytes(hashlib.md5(token.encode("utf-8")).digest()[:4], "little") % VOCAB


class MockOptions(BackendOptions):
    delay: float = Field(0.0, ge=0, le=60, description="seconds slept per question or generation")
    fail_every: int = Field(0, ge=0, le=1_000_000_000, description="raise on every Nth call (0: never)")
    replies: Path | None = Field(None, description="JSON file of {prompt substring: reply}")


class MockBackend(Backend):
    name = "mock"
    options_model = MockOptions
    options: MockOptions

    def __init__(self, target: str, **options: Any) -> None:
        name, _, query = target.partition("?")
        super().__init__(name, **(dict(parse_qsl(query)) | dict(options)))
        self.delay = self.options.delay
        self.fail_every = self.options.fail_every
        self.replies: dict[str, str] = {}
        if self.options.replies is not None:
            path = self.options.replies
            try:
                replies = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                raise InputError(f"mock replies file unreadable: {exc}", path=path, field="replies") from None
            if not isinstance(replies, dict) or not all(isinstance(v, str) for v in replies.values()):
                raise InputError("mock replies must be a JSON object of strings", path=path, field="replies")
            self.replies = replies
        self.calls = 0

    def info(self) -> BackendInfo:
        return BackendInfo(backend=self.name, model=f"mock:{self.target}", details={"delay": self.delay})

    def tokenize(self, texts: Sequence[str]) -> list[list[int]] | None:
        """The mock's own tokens (words with their leading space), as stable ids."""
        return [[zlib.crc32(tok.encode("utf-8")) for tok in _tokens(text)] for text in texts]

    def _score(self, context: str, continuation: str) -> ContinuationScore:
        context, continuation = split_context(context, continuation)
        prefix = f"{self.target}|{context}"
        total, greedy, toks = 0.0, True, _tokens(continuation)
        for tok in toks:
            lp = _logprobs(prefix)
            b = _bucket(tok)
            total += lp[b]
            greedy = greedy and lp[b] == max(lp)
            prefix += tok
        return ContinuationScore(total, len(toks), greedy)

    def loglikelihood(
        self, questions: Sequence[MCQuestion], progress: Progress | None = None
    ) -> list[list[ContinuationScore]]:
        self.calls += 1
        if self.fail_every and self.calls % self.fail_every == 0:
            raise RuntimeError(f"mock failure on call {self.calls}")
        out = []
        for q in questions:
            if self.delay:
                time.sleep(self.delay)
            out.append([self._score(q.context, c) for c in q.continuations])
            if progress:
                progress(1)
        return out

    def loglikelihood_reference(self, questions: Sequence[MCQuestion]) -> list[list[ContinuationScore]]:
        return [[self._score(q.context, c) for c in q.continuations] for q in questions]

    def _scripted(self, r: GenerationRequest) -> str | None:
        """The reply whose key is the longest substring of the prompt, from the ``replies`` JSON file."""
        if not self.replies:
            return None
        hits = [k for k in self.replies if k in r.prompt]
        return self.replies[max(hits, key=len)] if hits else None

    def _reply(self, r: GenerationRequest) -> Generation:
        turns = "|".join(t for _, t in r.history)
        h = hashlib.sha256(f"{self.target}|{turns}|{r.prompt}|{r.seed}".encode()).hexdigest()
        text = self._scripted(r)
        if text is None:
            text = f"mock answer {h[:8]}"
        n_in, n_out = len(_tokens(r.flat_prompt())), len(_tokens(text))
        # a deterministic, plausible timing: 1 ms per input token, 10 ms per output token
        return Generation(
            text=text,
            input_tokens=n_in,
            output_tokens=n_out,
            latency_s=0.001 * n_in + 0.01 * n_out,
            ttft_s=0.001 * n_in,
        )

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        return [self._reply(r) for r in requests]

    def stream(self, request: GenerationRequest) -> Iterator[str | Generation]:
        """The reply word by word (``delay`` seconds apart), then the Generation."""
        gen = self._reply(request)
        for piece in re.findall(r"\S+\s*|\s+", gen.text):
            if self.delay:
                time.sleep(self.delay)
            yield piece
        yield gen
