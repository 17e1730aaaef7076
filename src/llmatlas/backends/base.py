"""The backend interface: what the evaluation engine asks of a model.

A multiple-choice question is one :class:`MCQuestion`: a shared context and its continuations.
Backends score every continuation as ``log P(continuation | context)`` and must give the same
numbers as scoring each (context, continuation) pair on its own — the per-choice *reference*
method that lm-evaluation-harness uses — to float tolerance, whatever the batch size.

Tokenization follows lm-evaluation-harness: trailing spaces of the context move to the
continuation; ``context_tokens = tok(context)`` and ``continuation_tokens = tok(context +
continuation)[len(context_tokens):]``; an empty context is replaced by the prefix (BOS/EOS) token.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel

from llmatlas.backends.options import BackendOptions, parse_options

Progress = Callable[[int], None]


@dataclass(frozen=True)
class MCQuestion:
    """One question: a context shared by several continuations (the choices)."""

    context: str
    continuations: tuple[str, ...]


@dataclass(frozen=True)
class ContinuationScore:
    """Sum of log-probabilities of the continuation's tokens, and whether greedy decoding gives it."""

    logprob: float
    n_tokens: int
    greedy: bool


@dataclass(frozen=True)
class GenerationRequest:
    """One generation: the user's ``prompt`` after optional earlier turns (``history``).

    ``history`` holds (role, text) pairs, role ``user`` or ``assistant``, for multi-turn tasks such
    as MT-Bench's second turn. ``seed`` makes sampling repeatable where the backend allows it.
    """

    prompt: str
    max_tokens: int = 256
    stop: tuple[str, ...] = ()
    temperature: float = 0.0
    system: str | None = None
    chat: bool = True
    history: tuple[tuple[str, str], ...] = ()
    seed: int | None = None
    prefill: str = ""  # the assistant turn's opening words; the reply continues them (EvalPlus's HumanEval)

    def messages(self, with_system: bool = True) -> list[dict[str, str]]:
        """Chat messages in the OpenAI shape: system (unless the API takes it apart), history, prompt."""
        out = [{"role": "system", "content": self.system}] if self.system and with_system else []
        out += [{"role": role, "content": text} for role, text in self.history]
        out.append({"role": "user", "content": self.prompt})
        return out

    def flat_prompt(self) -> str:
        """The request as one plain-text prompt, for completion (non-chat) endpoints."""
        parts = [self.system] if self.system else []
        parts += [text for _, text in self.history]
        parts.append(self.prompt)
        if self.prefill:
            parts.append(self.prefill)
        return "\n\n".join(parts)


@dataclass
class Generation:
    text: str
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_s: float | None = None
    ttft_s: float | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# Settings that change speed, not scores: a run resumed with other values is the same run.
RUNTIME_DETAILS = frozenset({"threads", "batch_tokens", "concurrency", "delay", "timeout", "retries", "prefix_reuse"})


class BackendInfo(BaseModel):
    """What a results file records about the model that produced it."""

    backend: str
    model: str
    details: dict[str, Any] = {}

    def identity(self) -> dict[str, Any]:
        """The fields that decide scores (run fingerprint): everything but RUNTIME_DETAILS."""
        details = {k: v for k, v in self.details.items() if k not in RUNTIME_DETAILS}
        return {"backend": self.backend, "model": self.model, "details": details}


PREFILL_MARK = "\x00llmatlas-prefill\x00"


def render_prefilled(render: Callable[[list[dict[str, str]]], str], request: GenerationRequest) -> str:
    """A chat prompt whose assistant turn already begins with ``request.prefill``.

    The template renders an assistant message holding the prefill and a marker, and the prompt
    ends where the marker starts: the template's own assistant header, no end-of-turn after it
    (how EvalPlus builds its prompts). Without a prefill, the messages as they are.
    """
    messages = request.messages()
    if not request.prefill:
        return render(messages)
    text = render([*messages, {"role": "assistant", "content": request.prefill + PREFILL_MARK}])
    if PREFILL_MARK not in text:
        raise ValueError("the chat template dropped the prefilled assistant turn")
    return text.split(PREFILL_MARK)[0]


def split_context(context: str, continuation: str) -> tuple[str, str]:
    """lm-evaluation-harness's rule: trailing whitespace of the context belongs to the continuation."""
    n = len(context) - len(context.rstrip())
    if n:
        return context[:-n], context[-n:] + continuation
    return context, continuation


class Backend(ABC):
    """A model the engine can score and query. Subclasses are small: one module each."""

    name: str = "base"
    #: what ``SPEC?key=value`` (or a keyword argument) may set: a pydantic model, one field per option
    options_model: ClassVar[type[BackendOptions]] = BackendOptions
    options: BackendOptions  # subclasses narrow it to their own model (``options: LlamaOptions``)
    #: "loglikelihood" when the backend returns real log-probs; "generation" when multiple
    #: choice is answered by generating a letter (API models without prompt log-probs).
    mc_method: str = "loglikelihood"
    #: multiple-choice items the runner hands over (and journals) per step when the user sets no
    #: --chunk: a packing backend pads less when it sees more items of similar length at once.
    preferred_chunk: int = 64

    def __init__(self, target: str, **options: Any) -> None:
        """Every construction path checks the options against ``options_model`` (type, range,
        choices; unknown names refused), so a subclass reads typed attributes of ``self.options``."""
        self.target = target
        self.options = parse_options(self.options_model, self.name, options)

    @abstractmethod
    def info(self) -> BackendInfo:
        """Identity of the model (file, hash, quantization, device) for the results."""

    @abstractmethod
    def loglikelihood(
        self, questions: Sequence[MCQuestion], progress: Progress | None = None
    ) -> list[list[ContinuationScore]]:
        """Score every continuation of every question, sharing each context's computation."""

    def loglikelihood_reference(self, questions: Sequence[MCQuestion]) -> list[list[ContinuationScore]]:
        """Per-choice scoring (one full forward per pair): the slow method the fast one must equal."""
        raise NotImplementedError(f"{self.name} has no reference scorer")

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        raise NotImplementedError(f"the {self.name} backend does not generate text")

    def stats(self) -> dict[str, int]:
        """Counters since the backend was made (requests, retries, errors; tokens encoded, prompts
        truncated): a run records how much of each it caused."""
        return {}

    def tokenize(self, texts: Sequence[str]) -> list[list[int]] | None:
        """Each text's token ids with the model's own tokenizer, as its scoring encodes a context
        (BOS where the model adds one); None where there is no tokenizer here (API models): a plan
        then estimates tokens from characters."""
        return None

    def stream(self, request: GenerationRequest) -> Iterator[str | Generation]:
        """Text pieces as the model writes them, then the finished :class:`Generation`.

        The default has nothing to stream: it yields the whole text once. Backends that decode
        token by token (llama, mock) override it; the web playground shows either the same way.
        """
        gen = self.generate([request])[0]
        if gen.text:
            yield gen.text
        yield gen

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing to free
        """Free the model; the engine calls this at the end of a run."""
