"""A run's work: its tokens counted before it runs, and its time calibrated from this machine's journal.

``eval --plan`` reports both; every run also records them for the samples it is about to score and
puts them beside what the samples took (``RunResult.plan``), so a plan can be checked against the
runs it predicted.

Tokens are counted the way the backends feed them to the model, so that a plan and a backend's own
counters (``Backend.stats()``) agree to the token:

* multiple choice: each (context, choice) pair is encoded as lm-evaluation-harness encodes it (the
  context's trailing whitespace moved to the choice, the choice cut from the encoding of the whole)
  and fed without the choice's last token. ``naive`` sums those sequences (lm-eval's work; the
  backends' ``tokens_requested``), ``shared`` counts each question's sequences' prefix tree (its
  context once), ``unique`` the prefix tree of the whole run (every shared few-shot prefix once;
  the backends' ``tokens_unique`` where the run is one call);
* generation: ``naive`` is every prompt once per sample drawn, ``shared`` every prompt once,
  ``unique`` their prefix tree; ``output_max`` the most that may be written and ``output_expected``
  what this model wrote per output on earlier runs of the task, when the journal has them.

Without a tokenizer here (API models) characters stand in for tokens, divided by 4 and labelled
``estimate``.

Time, in order of preference: this run in the journal (resumed), earlier runs of the model and the
task (their items/s), earlier runs of the model on other tasks — for scoring, tokens encoded per
second × the tokens this run will encode; for generation, output tokens written per second × the
output expected (observed lengths, else ``max_tokens``). With two or more runs to go by,
``seconds_range`` is their spread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from llmatlas.backends.base import Backend, MCQuestion, split_context
from llmatlas.backends.prefix import unique_tokens
from llmatlas.engine.journal import Journal
from llmatlas.engine.results import RunRecord, TokenCount

CHARS_PER_TOKEN = 4.0  # the usual rule of thumb for English text, used only without a tokenizer


class _Counter:
    """Token ids from the backend's tokenizer, else characters (later divided by CHARS_PER_TOKEN)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        has_tokenizer = backend.tokenize(["a"]) is not None
        self.method: Literal["tokenizer", "estimate"] = "tokenizer" if has_tokenizer else "estimate"

    def seqs(self, texts: Sequence[str]) -> list[list[int]]:
        if self.method == "tokenizer":
            got = self.backend.tokenize(list(texts))
            assert got is not None
            return got
        return [[ord(c) for c in t] for t in texts]  # characters stand in for tokens

    def scale(self, n: int) -> int:
        return n if self.method == "tokenizer" else round(n / CHARS_PER_TOKEN)


def _fed(counter: _Counter, questions: Sequence[MCQuestion]) -> list[list[list[int]]]:
    """Per question, the sequence each choice feeds the model: context + continuation[:-1]."""
    pairs = [[split_context(q.context, c) for c in q.continuations] for q in questions]
    flat = [p for ps in pairs for p in ps]
    texts = list(dict.fromkeys(t for ctx, cont in flat for t in (ctx, ctx + cont)))  # a context once, not per choice
    ids = dict(zip(texts, counter.seqs(texts), strict=True))
    out: list[list[list[int]]] = []
    for ps in pairs:
        rows = []
        for ctx_text, cont_text in ps:
            ctx, whole = ids[ctx_text], ids[ctx_text + cont_text]
            cont = max(1, len(whole) - len(ctx))  # at least the one token the choice is scored on
            rows.append(ctx + whole[len(ctx) : len(ctx) + cont - 1])
        out.append(rows)
    return out


def count_tokens(
    backend: Backend,
    method: str,
    prompts: Sequence[Any],
    *,
    samples_per_item: int = 1,
    max_tokens: int = 0,
    turns: int = 1,
    output_per_generation: float | None = None,
) -> TokenCount:
    """The work of scoring (``method`` "loglikelihood") or answering ``prompts``, in tokens."""
    counter = _Counter(backend)
    if method == "loglikelihood":
        fed = _fed(counter, prompts)
        return TokenCount(
            method=counter.method,
            naive=counter.scale(sum(len(s) for rows in fed for s in rows)),
            shared=counter.scale(sum(unique_tokens(rows) for rows in fed)),
            unique=counter.scale(unique_tokens([s for rows in fed for s in rows])),
        )
    seqs = counter.seqs([str(p) for p in prompts])
    total = sum(len(s) for s in seqs)
    outputs = len(prompts) * samples_per_item * turns
    return TokenCount(
        method=counter.method,
        naive=counter.scale(total * samples_per_item),
        shared=counter.scale(total),
        unique=counter.scale(unique_tokens(seqs)),
        output_max=outputs * max_tokens,
        output_expected=round(outputs * output_per_generation) if output_per_generation is not None else None,
    )


@dataclass(frozen=True)
class Estimate:
    seconds: float
    basis: str
    spread: tuple[float, float] | None = None  # the same estimate from the slowest and fastest run used


def finished_runs(journal: Journal | None) -> list[RunRecord]:
    """The journal's finished runs, oldest first: what a plan is calibrated on (read once per plan)."""
    if journal is None:
        return []
    return [r for r in journal.runs() if r.result is not None and r.result.timing.items_per_s]


def _spread(values: list[float]) -> tuple[float, float] | None:
    return (min(values), max(values)) if len(values) >= 2 else None


def from_journal(
    runs: Sequence[RunRecord],
    run_id: str,
    model: str,
    task: str,
    todo: int,
    encoded: int,
    outputs: int | None = None,
) -> Estimate | None:
    """Seconds for ``todo`` samples from this machine's finished ``runs``: this run, else the model's runs of
    the task (items/s), else its runs of other tasks — ``encoded`` prompt tokens at the rate its
    scoring runs encoded tokens, plus, for a generation task, ``outputs`` tokens at the rate its
    generation runs wrote them. None when the journal cannot say."""
    same = [r for r in runs if r.run_id == run_id]
    like = same or [r for r in runs if r.model == model and r.task == task]
    if like:
        if same:
            what = "this run"
        elif len(like) == 1:
            what = f"run {like[0].run_id} of this model and task"
        else:
            what = f"{len(like)} runs of this model and task (the latest, {like[-1].run_id})"
        results = [r.result for r in like if r.result is not None]
        per_token = [x.backend_stats.get("tokens_encoded", 0) / x.timing.seconds for x in results]
        if outputs is None and encoded > 0 and all(per_token):
            # scoring: tokens, not items — a few-shot run of fewer items per subject shares fewer tokens
            spread = _spread([encoded / x for x in per_token])
            basis = f"{what} in the journal: {per_token[-1]:,.0f} tokens encoded/s × {encoded:,} tokens"
            return Estimate(encoded / per_token[-1], basis, spread)
        rates = [x.timing.items_per_s for x in results if x.timing.items_per_s]
        spread = _spread([todo / x for x in rates])
        return Estimate(todo / rates[-1], f"{what} in the journal: {rates[-1]:.2f} items/s", spread)
    mine = [r.result for r in runs if r.model == model and r.result is not None and r.result.timing.seconds > 0]
    read = [x.backend_stats["tokens_encoded"] / x.timing.seconds for x in mine if x.backend_stats.get("tokens_encoded")]
    written = [
        x.performance.output_tokens / x.timing.seconds
        for x in mine
        if x.method == "generation" and x.performance is not None and x.performance.output_tokens
    ]
    if outputs is None:  # scoring: prompt tokens only
        if not read or encoded <= 0:
            return None
        basis = f"{len(read)} scoring run(s) of this model: {read[-1]:,.0f} tokens encoded/s × {encoded:,} tokens"
        return Estimate(encoded / read[-1], basis, _spread([encoded / x for x in read]))
    if not written:
        return None  # a generation's time is its output: nothing says how fast this model writes
    # a generation run's seconds include reading its prompts, so output tokens/s is a conservative rate
    basis = f"{len(written)} generation run(s) of this model: {written[-1]:,.1f} output tokens/s × {outputs:,} tokens"
    return Estimate(outputs / written[-1], basis, _spread([outputs / x for x in written]))


def output_per_generation(journal: Journal | None, runs: Sequence[RunRecord], model: str, task: str) -> float | None:
    """Mean output tokens per generation of this model on this task, from the latest of ``runs``."""
    if journal is None:
        return None
    for r in reversed(runs):
        if r.model == model and r.task == task and r.result and r.result.method == "generation":
            outputs = [o for s in journal.samples(r.run_id) for o in s.outputs]
            counts = [o.output_tokens for o in outputs if o.output_tokens is not None]
            if counts:
                return sum(counts) / len(counts)
    return None


def expected_output(tokens: TokenCount | None) -> int | None:
    """Output tokens a generation plan expects (observed lengths, else the ``max_tokens`` bound);
    None for scoring."""
    if tokens is None or not tokens.output_max:
        return None
    return tokens.output_expected if tokens.output_expected is not None else tokens.output_max
