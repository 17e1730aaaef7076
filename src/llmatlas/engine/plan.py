"""A run's plan before it runs: how many tokens it pushes, how long it takes here, what it costs.

Tokens are counted with the model's own tokenizer where the backend has one here, else estimated
from characters (and labelled so). Three counts tell the work apart:

* ``naive``: every request encoded in full — each (context, choice) pair of a multiple-choice
  question as lm-evaluation-harness scores it, each generation's prompt once per sample;
* ``shared``: each question's context once with its choices (what llmatlas's scorers encode);
* ``unique``: the run's unique tokens — one pass over the prefix tree of every prompt, the
  physical limit when shared few-shot prefixes are encoded once.

Time comes, in order, from the journal (the same run finished or resumed, or an earlier run of the
same model and task), else from a probe: a few samples spread over the run, run through the real
scoring path and not journaled. An API model is not probed (the probe would be billed): its time
is unknown unless the journal knows it. Cost is the catalog price of what an API bills (prompts in
full, at most ``max_tokens`` written per sample); a local model has no per-token price.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from llmatlas.backends.base import Backend, MCQuestion
from llmatlas.backends.prefix import unique_tokens
from llmatlas.engine.journal import Journal, default_path
from llmatlas.engine.outputs import LOCAL_BACKENDS
from llmatlas.engine.runner import EvalConfig, Prepared, loaded, prepare, pricer_for
from llmatlas.tasks.task import Step

CHARS_PER_TOKEN = 4.0  # the usual rule of thumb for English text, used only without a tokenizer
PROBE_ITEMS = 4


class TokenCount(BaseModel):
    method: Literal["tokenizer", "estimate"]
    naive: int
    shared: int
    unique: int
    output_max: int = 0  # generation: samples × max_tokens (× turns); 0 for scoring


class TaskPlan(BaseModel):
    task: str
    method: str
    run_id: str
    items: int
    done: int  # already in the journal: a run resumes after them
    requests: int  # choices scored, or generations asked for
    tokens: TokenCount
    seconds: float | None
    seconds_basis: str
    cost_usd: float | None
    cost_note: str | None = None


class EvalPlan(BaseModel):
    """What ``llmatlas eval --plan`` prints: per task and in total, nothing run or journaled."""

    model: str
    backend: str
    tasks: list[TaskPlan]
    seconds: float | None
    cost_usd: float | None


class _Counter:
    """Token ids from the backend's tokenizer, else characters (later divided by CHARS_PER_TOKEN)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.method: Literal["tokenizer", "estimate"] = "tokenizer"
        probe = backend.tokenize(["a"])
        if probe is None:
            self.method = "estimate"

    def seqs(self, texts: Sequence[str]) -> list[list[int]]:
        if self.method == "tokenizer":
            got = self.backend.tokenize(list(texts))
            assert got is not None
            return got
        return [[ord(c) for c in t] for t in texts]  # characters stand in for tokens

    def scale(self, n: int) -> int:
        return n if self.method == "tokenizer" else round(n / CHARS_PER_TOKEN)


def _tokens(prep: Prepared, counter: _Counter, samples_per_item: int, max_tokens: int, turns: int) -> TokenCount:
    prompts = prep.prompts
    if prep.task.method == "loglikelihood":
        questions: list[MCQuestion] = prompts
        contexts = counter.seqs([q.context for q in questions])
        wholes = counter.seqs([q.context + c for q in questions for c in q.continuations])
        k = 0
        naive = shared = cont_total = 0
        for q, ctx in zip(questions, contexts, strict=True):
            conts = [max(1, len(wholes[k + j]) - len(ctx)) for j in range(len(q.continuations))]
            k += len(q.continuations)
            naive += sum(len(ctx) + c for c in conts)
            shared += len(ctx) + sum(conts)
            cont_total += sum(conts)
        unique = unique_tokens(contexts) + cont_total
        return TokenCount(
            method=counter.method,
            naive=counter.scale(naive),
            shared=counter.scale(shared),
            unique=counter.scale(unique),
        )
    seqs = counter.seqs([str(p) for p in prompts])
    total = sum(len(s) for s in seqs)
    return TokenCount(
        method=counter.method,
        naive=counter.scale(total * samples_per_item),
        shared=counter.scale(total),
        unique=counter.scale(unique_tokens(seqs)),
        output_max=len(prompts) * samples_per_item * max_tokens * turns,
    )


def _from_journal(journal: Journal | None, prep: Prepared, todo: int) -> tuple[float, str] | None:
    """Seconds for the samples left, from this run (resumed) or the latest finished run of the model and task."""
    if journal is None:
        return None
    runs = [r for r in journal.runs() if r.result is not None and r.result.timing.items_per_s]
    same = [r for r in runs if r.run_id == prep.run_id]
    like = same or [r for r in runs if r.model == prep.info.model and r.task == prep.task.name]
    if not like:
        return None
    ref = like[-1]
    assert ref.result is not None and ref.result.timing.items_per_s
    rate = ref.result.timing.items_per_s
    what = "this run" if same else f"run {ref.run_id} of this model and task"
    return todo / rate, f"{what} in the journal: {rate:.2f} items/s"


def _probe(backend: Backend, prep: Prepared, config: EvalConfig, todo: int, items: int) -> tuple[float, str]:
    """Run a few samples spread over the run (not journaled) and scale their time to the samples left."""
    n = min(items, len(prep.samples))
    idx = sorted({round(i * (len(prep.samples) - 1) / max(1, n - 1)) for i in range(n)})
    step = Step(config.judge, pricer_for(prep, config), lambda _: None)
    start = time.perf_counter()
    prep.task.run_step(backend, [prep.samples[i] for i in idx], [prep.prompts[i] for i in idx], step)
    seconds = time.perf_counter() - start
    per_item = seconds / len(idx)
    return todo * per_item, f"probe: {len(idx)} samples spread over the run took {seconds:.1f} s"


def plan_task(
    backend: Backend, task_name: str, config: EvalConfig, journal: Journal | None, probe_items: int = PROBE_ITEMS
) -> TaskPlan:
    """One task's plan; ``journal`` (None: no journal yet) tells what is done and how fast it went."""
    prep = prepare(backend, task_name, config)
    task = prep.task
    done = len(journal.done_ids(prep.run_id) & {s.id for s in prep.samples}) if journal is not None else 0
    todo = len(prep.samples) - done
    counter = _Counter(backend)
    generation = task.method == "generation"
    samples_per_item = int(getattr(task, "samples", 1)) if generation else 1
    max_tokens = int(getattr(task, "max_tokens", 0)) if generation else 0
    turns = max((len(s.turns) for s in prep.samples), default=1) if generation else 1
    tokens = _tokens(prep, counter, samples_per_item, max_tokens, turns)
    requests = (
        sum(len(q.continuations) for q in prep.prompts)
        if not generation
        else len(prep.samples) * samples_per_item * turns
    )
    local = prep.info.backend in LOCAL_BACKENDS
    timed = _from_journal(journal, prep, todo)
    if todo == 0:
        seconds, basis = 0.0, "every sample is already in the journal"
    elif timed is not None:
        seconds, basis = timed
    elif local and probe_items > 0:
        seconds, basis = _probe(backend, prep, config, todo, probe_items)
    else:
        seconds, basis = None, "unknown: an API model is not probed (it would be billed); no earlier run in the journal"
    cost, note = _cost(prep, config, tokens, local, generation, len(prep.samples))
    return TaskPlan(
        task=task.name,
        method=task.method_on(backend),
        run_id=prep.run_id,
        items=len(prep.samples),
        done=done,
        requests=requests,
        tokens=tokens,
        seconds=seconds,
        seconds_basis=basis,
        cost_usd=cost,
        cost_note=note,
    )


def _cost(
    prep: Prepared, config: EvalConfig, tokens: TokenCount, local: bool, generation: bool, items: int
) -> tuple[float | None, str | None]:
    if local and config.catalog_id is None:
        return (
            None,
            f"local model ({prep.info.backend} backend): no per-token price; self-hosting: `llmatlas breakeven`",
        )
    pricer = pricer_for(prep, config, billed=True)
    # An API bills every request in full; a multiple-choice question asked of an API is one
    # request (its context with the choices) answered with a letter.
    billed_in = tokens.naive if generation else tokens.shared
    billed_out = tokens.output_max if generation else 2 * items
    cost = pricer.cost(billed_in, billed_out)
    if cost is None:
        return None, pricer.note
    return cost, "upper bound: every sample writes max_tokens" if generation else "one short answer per question"


def plan(
    backend: Backend, tasks: Sequence[str], config: EvalConfig, journal: Journal | None, probe_items: int = PROBE_ITEMS
) -> EvalPlan:
    plans = [plan_task(backend, name, config, journal, probe_items) for name in tasks]
    info = backend.info()
    secs = [p.seconds for p in plans]
    costs = [p.cost_usd for p in plans]
    return EvalPlan(
        model=info.model,
        backend=info.backend,
        tasks=plans,
        seconds=None if any(s is None for s in secs) else sum(s or 0.0 for s in secs),
        cost_usd=None if any(c is None for c in costs) else sum(c or 0.0 for c in costs),
    )


def plan_run(
    spec: str,
    tasks: Sequence[str],
    config: EvalConfig,
    *,
    judge: str | None = None,
    journal_path: str | Path | None = None,
    probe_items: int = PROBE_ITEMS,
) -> EvalPlan:
    """Load the model (and judge) as a run would, read the journal if there is one, and plan."""
    path = Path(journal_path) if journal_path else default_path()
    with loaded(spec, tasks, config, judge) as (backend, cfg):
        journal = Journal(path) if path.exists() else None  # a plan creates no journal
        try:
            return plan(backend, tasks, cfg, journal, probe_items)
        finally:
            if journal is not None:
                journal.close()
