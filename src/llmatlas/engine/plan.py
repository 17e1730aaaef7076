"""A run's plan before it runs: how many tokens it pushes, how long it takes here, what it costs.

Tokens (``naive``: every request in full, as lm-evaluation-harness runs it and an API bills it;
``shared``: each question's context once; ``unique``: every shared prefix once) are counted by
``engine/workload.py``, with the model's tokenizer where the backend has one here.

Time comes from this machine's journal where it can (``workload.from_journal``: the run itself,
the model's runs of the task, its runs of other tasks by tokens/s, with their spread), else from a
probe: a few samples spread over the run, run through the real scoring path and not journaled. An
API model is not probed (the probe would be billed): its time is unknown unless the journal knows
it. Cost is the catalog price of what an API bills (prompts in
full, at most ``max_tokens`` written per sample); a local model has no per-token price.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

from llmatlas.backends.base import Backend
from llmatlas.engine.journal import Journal, default_path
from llmatlas.engine.outputs import LOCAL_BACKENDS
from llmatlas.engine.results import TokenCount
from llmatlas.engine.runner import EvalConfig, Prepared, loaded, prepare, pricer_for, work_of
from llmatlas.engine.workload import expected_output, finished_runs, from_journal
from llmatlas.tasks.task import Step

PROBE_ITEMS = 4


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
    seconds_range: tuple[float, float] | None = None  # the spread of the journaled runs it is calibrated on
    cost_usd: float | None
    cost_note: str | None = None


class EvalPlan(BaseModel):
    """What ``llmatlas eval --plan`` prints: per task and in total, nothing run or journaled."""

    model: str
    backend: str
    tasks: list[TaskPlan]
    seconds: float | None
    cost_usd: float | None


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
    done_ids = journal.done_ids(prep.run_id) if journal is not None else set()
    todo = sum(1 for s in prep.samples if s.id not in done_ids)
    generation = task.method == "generation"
    history = finished_runs(journal)
    tokens, encoded = work_of(backend, prep, range(len(prep.samples)), journal, history)
    turns = max((len(s.turns) for s in prep.samples), default=1) if generation else 1
    requests = (
        sum(len(q.continuations) for q in prep.prompts)
        if not generation
        else len(prep.samples) * int(getattr(task, "samples", 1)) * turns
    )
    local = prep.info.backend in LOCAL_BACKENDS
    share = todo / len(prep.samples) if prep.samples else 0.0
    outputs = expected_output(tokens)
    timed = from_journal(
        history, prep.run_id, prep.info.model, task.name, todo, round(encoded * share),
        round(outputs * share) if outputs is not None else None,
    )  # fmt: skip
    spread = None
    if todo == 0:
        seconds, basis = 0.0, "every sample is already in the journal"
    elif timed is not None:
        seconds, basis, spread = timed.seconds, timed.basis, timed.spread
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
        done=len(prep.samples) - todo,
        requests=requests,
        tokens=tokens,
        seconds=seconds,
        seconds_basis=basis,
        seconds_range=spread,
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
