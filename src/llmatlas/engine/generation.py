"""Run a generation task: prompts, generations, scores, per-output speed and cost, journaled by step.

A step is as many items as the backend runs at once (one for local models, the connection pool's
concurrency for API models), so a killed run loses at most one step and the progress bar moves
as answers arrive. Cost comes from the catalog price of the model (``--catalog-id`` or the
model's own name); a model without a price gets ``cost_usd = None`` and a note, never 0.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
from rich.console import Console

from llmatlas.backends.base import Backend, Generation
from llmatlas.core.errors import InputError, LlmatlasError
from llmatlas.engine.journal import Journal, fingerprint
from llmatlas.engine.results import Distribution, Metric, Output, Performance, RunResult, SampleRecord, Timing
from llmatlas.engine.runner import progress_bar
from llmatlas.engine.stats import mean_stderr
from llmatlas.tasks.generation import GenDoc, GenerationTask, Scored

if TYPE_CHECKING:
    from llmatlas.catalog.catalog import Catalog
    from llmatlas.catalog.schema import Model, Offer
    from llmatlas.engine.runner import EvalConfig


LOCAL_BACKENDS = frozenset({"llama", "hf", "mock"})


def step_size(backend: Backend) -> int:
    """Items per journaled step: what the backend can run concurrently."""
    pool = getattr(backend, "pool", None)
    return max(1, int(getattr(pool, "concurrency", 1) or 1))


class Pricer:
    """Prices outputs with the catalog model matching the run's model, or says why it cannot.

    A hosted provider's model id called at that provider's endpoint (``host``) is priced at that
    provider's offer; a catalog id, at the developer's own API.
    """

    def __init__(
        self,
        name: str | None,
        backend: str | None = None,
        explicit: bool = False,
        catalog: Catalog | None = None,
        host: str | None = None,
        offer: tuple[Model, Offer] | None = None,
    ) -> None:
        """``catalog``: the one already loaded, if any (the web app prices every playground answer);
        ``offer``: the model and offer the caller already resolved from a spec."""
        self.model: Model | None = None
        self.offer: Offer | None = None
        self.note: str | None = None
        if backend in LOCAL_BACKENDS and not explicit:
            self.note = f"local model ({backend} backend): no per-token price; self-hosting cost: `llmatlas breakeven`"
            return
        if not name:
            self.note = "no catalog model given (--catalog-id)"
            return
        from llmatlas.catalog.catalog import load_catalog
        from llmatlas.catalog.offers import find_offer

        cat = catalog or load_catalog()
        found = offer if offer is not None else (None if explicit else find_offer(cat, name, host))
        if found is not None and not found[1].first_party:
            self.model, self.offer = found
            if self.offer.current_price() is None:
                self.note = f"{self.model.id} via {self.offer.provider}: no price in force in the catalog"
                self.model = self.offer = None
            return
        try:
            self.model = cat.get(name)
        except LlmatlasError:
            self.note = f"'{name}' is not in the catalog; pass --catalog-id to price this run"
            return
        if self.model.current_price() is None:
            self.note = f"{self.model.id} has no API price in the catalog (self-hosted cost: `llmatlas cost`)"
            self.model = None

    def cost(self, input_tokens: int | None, output_tokens: int | None) -> float | None:
        if self.model is None or input_tokens is None or output_tokens is None:
            return None
        from llmatlas.estimate.cost import workload_cost

        return workload_cost(self.model, input_tokens, output_tokens, offer=self.offer).total_usd


def to_output(g: Generation, turn: int, pricer: Pricer) -> Output:
    rate = None
    if g.output_tokens and g.latency_s:
        decode = g.latency_s - (g.ttft_s or 0.0)
        rate = g.output_tokens / decode if decode > 0 else None
    return Output(
        text=g.text,
        turn=turn,
        input_tokens=g.input_tokens,
        output_tokens=g.output_tokens,
        latency_s=g.latency_s,
        ttft_s=g.ttft_s,
        output_tokens_per_s=rate,
        cost_usd=None if g.error else pricer.cost(g.input_tokens, g.output_tokens),
        error=g.error,
        extra=g.extra,
    )


def distribution(values: Sequence[float | None]) -> Distribution | None:
    xs = np.asarray([v for v in values if v is not None], dtype=np.float64)
    if len(xs) == 0:
        return None
    return Distribution(
        n=len(xs), mean=float(xs.mean()), p50=float(np.percentile(xs, 50)), p95=float(np.percentile(xs, 95))
    )


def performance(records: Sequence[SampleRecord], pricer: Pricer) -> Performance:
    outs = [o for r in records for o in r.outputs]
    ok = [o for o in outs if o.error is None]
    has_tokens = bool(ok) and all(o.input_tokens is not None and o.output_tokens is not None for o in ok)
    costs = [o.cost_usd for o in ok]
    priced = bool(ok) and all(c is not None for c in costs)
    return Performance(
        latency_s=distribution([o.latency_s for o in ok]),
        ttft_s=distribution([o.ttft_s for o in ok]),
        output_tokens_per_s=distribution([o.output_tokens_per_s for o in ok]),
        input_tokens=sum(o.input_tokens or 0 for o in ok) if has_tokens else None,
        output_tokens=sum(o.output_tokens or 0 for o in ok) if has_tokens else None,
        token_counts="usage" if has_tokens else "missing",
        cost_usd=sum(c or 0.0 for c in costs) if priced else None,
        cost_note=None if priced else (pricer.note or "some outputs lack token counts"),
        errors=len(outs) - len(ok),
    )


def _record(doc: GenDoc, prompt: str, gens: Sequence[Generation], scored: Scored, pricer: Pricer) -> SampleRecord:
    return SampleRecord(
        doc_id=doc.id,
        prompt=prompt,
        metrics=scored.metrics,
        group=doc.group,
        outputs=[to_output(g, int(g.extra.get("turn", 0)), pricer) for g in gens],
        target=doc.target,
        details=scored.details,
    )


def run_generation(
    backend: Backend,
    task: GenerationTask,
    config: EvalConfig,
    journal: Journal,
    console: Console | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> RunResult:
    if config.samples is not None:
        setter = getattr(task, "set_samples", None)
        if setter is None:
            task.samples = config.samples
        else:
            setter(config.samples)
    if config.temperature is not None:
        task.temperature = config.temperature
    if config.max_tokens is not None:
        task.max_tokens = config.max_tokens
    if task.needs_judge and config.judge is None:
        raise InputError(f"task {task.name} needs a judge model: pass --judge BACKEND:MODEL", field="judge")
    loaded = task.load(config.data_dir)
    docs = loaded.docs[: config.limit] if config.limit else loaded.docs
    if not docs:
        raise InputError(f"task {task.name}: no documents found", field="task")
    prompts = task.prompts(docs, loaded.fewshot)  # over the kept docs, in order: lm-eval's few-shot draws
    info = backend.info()
    judge_info = config.judge.info().identity() if config.judge else None
    ident = {
        "model": info.identity(),
        "task": task.name,
        "limit": config.limit,
        "num_fewshot": task.num_fewshot,
        "samples": task.samples,
        "temperature": task.temperature,
        "max_tokens": task.max_tokens,
        "judge": judge_info,
        "data_sha256": loaded.source.sha256 or loaded.source.location,
    }
    run_id = fingerprint(ident)
    resumed = journal.start(run_id, info.model, task.name, ident)
    done = journal.done_ids(run_id)
    todo = [i for i, d in enumerate(docs) if d.id not in done]
    host = info.details.get("host")
    pricer = Pricer(
        config.catalog_id or info.model,
        info.backend,
        explicit=config.catalog_id is not None,
        catalog=config.catalog,
        host=host if isinstance(host, str) else None,
    )
    step = step_size(backend)
    start = time.perf_counter()
    with progress_bar(task.name, console) as bar:
        ptask = bar.add_task(task.name, total=len(docs), completed=len(docs) - len(todo))
        for k in range(0, len(todo), step):
            idx = todo[k : k + step]
            batch_docs = [docs[i] for i in idx]
            batch_prompts = [prompts[i] for i in idx]
            gens = task.solve(backend, batch_docs, batch_prompts)
            scored = task.score_batch(batch_docs, gens, config.judge)
            journal.add_samples(
                run_id,
                [
                    (i, _record(d, p, g, s, pricer))
                    for i, d, p, g, s in zip(idx, batch_docs, batch_prompts, gens, scored, strict=True)
                ],
            )
            bar.advance(ptask, len(idx))
            if on_chunk:
                on_chunk(k + len(idx))
    seconds = time.perf_counter() - start
    records = journal.samples(run_id)
    metrics = _metrics(task, records)
    perf = performance(records, pricer)
    result = RunResult(
        run_id=run_id,
        model=info.model,
        backend=info.backend,
        backend_details=info.details,
        task=task.name,
        method="generation",
        n=len(records),
        metrics=metrics,
        groups=_groups(task, records),
        timing=Timing(seconds=seconds, items_per_s=len(todo) / seconds if todo and seconds > 0 else None),
        config={
            "limit": config.limit,
            "num_fewshot": task.num_fewshot,
            "fewshot_source": loaded.fewshot_note or ("few-shot split" if task.num_fewshot else None),
            "samples": task.samples,
            "temperature": task.temperature,
            "max_tokens": task.max_tokens,
            "stop": list(task.stop),
            "chat": task.chat,
            "judge": config.judge.info().model if config.judge else None,
            "resumed": resumed,
            "scored_this_session": len(todo),
        },
        data={"kind": loaded.source.kind, "location": loaded.source.location, "sha256": loaded.source.sha256},
        created=dt.datetime.now(dt.UTC),
        complete=len(records) == len(docs),
        errors=perf.errors,
        performance=perf,
    )
    journal.finish(result)
    return result


def _metrics(task: GenerationTask, records: Sequence[SampleRecord]) -> dict[str, Metric]:
    names = [m for m in task.metrics if any(m in r.metrics for r in records)]
    extra = sorted({m for r in records for m in r.metrics} - set(names))
    out = {}
    for m in [*names, *extra]:
        values = [r.metrics[m] for r in records if m in r.metrics]
        if values:
            out[m] = mean_stderr(values)
    return out


def _groups(task: GenerationTask, records: Sequence[SampleRecord]) -> dict[str, dict[str, Metric]]:
    groups: dict[str, dict[str, Metric]] = {}
    for g in sorted({r.group for r in records if r.group}):
        groups[g] = _metrics(task, [r for r in records if r.group == g])
    return groups
