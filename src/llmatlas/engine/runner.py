"""The one run loop: any task (log-likelihood or generation) on a backend, journaled and resumable.

Samples are run in steps (a backend's preferred chunk for log-likelihood, an API pool's concurrency
for generation); each step's records are committed to the journal in one transaction before the
next starts, so a killed run started again skips what the journal holds. Progress goes out as
events (``engine/events.py``); the engine draws nothing.
"""

from __future__ import annotations

import datetime as dt
import time
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmatlas.backends.base import Backend, BackendInfo
from llmatlas.core.errors import InputError, option
from llmatlas.engine.events import OnEvent, RunFinished, RunStarted, SamplesScored, StepSaved, ignore
from llmatlas.engine.journal import Journal, fingerprint
from llmatlas.engine.outputs import Pricer, performance
from llmatlas.engine.results import Metric, PlanCheck, RunRecord, RunResult, SampleRecord, Timing, TokenCount
from llmatlas.engine.stats import mean_stderr, pooled_stderr
from llmatlas.engine.workload import (
    Estimate,
    count_tokens,
    expected_output,
    finished_runs,
    from_journal,
    output_per_generation,
)
from llmatlas.tasks.registry import get_task
from llmatlas.tasks.task import Dataset, Sample, Step, Task

if TYPE_CHECKING:
    from llmatlas.catalog.catalog import Catalog


@dataclass
class EvalConfig:
    limit: int | None = None
    num_fewshot: int | None = None
    chunk: int | None = None  # items per step; None = the backend's preferred_chunk
    data_dir: str | None = None
    samples: int | None = None  # generation: samples per item (pass@k)
    temperature: float | None = None
    max_tokens: int | None = None
    judge: Backend | None = None  # judged tasks (MT-Bench, rubric scorers)
    catalog_id: str | None = None  # price the run with this catalog model (API cost)
    catalog: Catalog | None = None  # the catalog to price with, when the caller has it loaded
    catalog_dirs: tuple[str, ...] = ()  # else: extra catalog folders, loaded only if a run needs a price


def _counted(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """What a backend's counters rose by during a run (requests, errors, tokens encoded, truncations)."""
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


_WORK_COUNTERS = ("tokens_requested", "tokens_unique", "tokens_encoded", "prompt_tokens", "prompt_tokens_encoded")


def _plan_check(
    planned: TokenCount,
    estimate: Estimate | None,
    seconds: float,
    counted: dict[str, int],
    records: Sequence[SampleRecord],
    scored: set[str],
) -> PlanCheck:
    """The plan beside what this session did: the backend's token counters and the outputs written."""
    actual = {k: counted[k] for k in _WORK_COUNTERS if counted.get(k)}
    written = [o.output_tokens for r in records if r.doc_id in scored for o in r.outputs if o.output_tokens is not None]
    if written:
        actual["output_tokens"] = sum(written)
    return PlanCheck(
        tokens=planned,
        seconds=estimate.seconds if estimate else None,
        seconds_basis=estimate.basis if estimate else "no estimate: no run of this model like it in the journal",
        seconds_range=estimate.spread if estimate else None,
        actual_seconds=seconds,
        actual_tokens=actual,
    )


def summarize(
    task: Task[Any], records: Sequence[SampleRecord]
) -> tuple[dict[str, Metric], dict[str, dict[str, Metric]]]:
    """Each metric's mean and standard error over the samples that have it, overall and per group.

    A grouped task that pools (MMLU, CMMLU) reports lm-evaluation-harness's overall error: the
    groups' errors pooled (through the task's categories first where it has them, as lm-eval's
    MMLU pools subjects into its four categories and those into ``mmlu``).
    """
    if not records:
        raise InputError(f"task {task.name}: no samples were scored", field="task")
    names = sorted({r.group for r in records if r.group})
    groups = {g: _metrics(task, [r for r in records if r.group == g]) for g in names}
    overall = _metrics(task, records)
    if task.pools_groups and groups and all(r.group for r in records):
        for metric, m in overall.items():
            se = _pooled(task, records, groups, metric)
            if se is not None:
                overall[metric] = m.model_copy(update={"stderr": se, "stderr_method": "pooled"})
    return overall, groups


def _pooled(
    task: Task[Any], records: Sequence[SampleRecord], groups: dict[str, dict[str, Metric]], metric: str
) -> float | None:
    sizes = Counter(r.group for r in records if metric in r.metrics)
    parts = {g: (groups[g][metric].stderr, n) for g, n in sizes.items() if g and metric in groups[g]}
    categories = task.categories()
    if not categories:
        return pooled_stderr(list(parts.values()))
    by_category: dict[str, list[tuple[float | None, int]]] = {}
    for g, part in parts.items():
        by_category.setdefault(categories.get(g, g), []).append(part)
    return pooled_stderr([(pooled_stderr(ps), sum(n for _, n in ps)) for ps in by_category.values()])


def _metrics(task: Task[Any], records: Sequence[SampleRecord]) -> dict[str, Metric]:
    names = [m for m in task.metrics if any(m in r.metrics for r in records)]
    extra = sorted({m for r in records for m in r.metrics} - set(names))
    out = {}
    for m in [*names, *extra]:
        values = [r.metrics[m] for r in records if m in r.metrics]
        if values:
            out[m] = mean_stderr(values)
    return out


def evaluate(
    spec: str,
    tasks: Sequence[str],
    config: EvalConfig,
    *,
    judge: str | None = None,
    journal_path: str | Path | None = None,
    on_event: OnEvent = ignore,
    out_dir: Path | None = None,
) -> list[RunResult]:
    """Load the model a spec names (and the judge), open the journal, run each task, close them all.

    The one place that sequence is written: the CLI's ``eval``, the quickstart and the advisor's
    ``--eval`` call it (through ``llmatlas.api``). Task names are checked before the model loads;
    ``out_dir`` receives each result and its per-sample records as the run ends.
    """
    with loaded(spec, tasks, config, judge) as (backend, config):
        journal = Journal(journal_path)
        try:
            results = []
            for name in tasks:
                res = run_task(backend, name, config, journal, on_event=on_event)
                results.append(res)
                if out_dir is not None:
                    export(res, journal, out_dir)
            return results
        finally:
            journal.close()


@contextmanager
def loaded(
    spec: str, tasks: Sequence[str], config: EvalConfig, judge: str | None
) -> Iterator[tuple[Backend, EvalConfig]]:
    """The model a spec names, and ``config`` with the judge model; task names are checked before
    anything loads, and both models are closed however the block ends."""
    from llmatlas.backends.registry import load_backend

    for name in tasks:
        get_task(name, config.num_fewshot)  # fail fast on a typo, before loading a model
    backend = load_backend(spec)
    try:
        judge_backend = load_backend(judge) if judge else None
        try:
            yield backend, replace(config, judge=judge_backend)
        finally:
            if judge_backend is not None:
                judge_backend.close()
    finally:
        backend.close()


def export(result: RunResult, journal: Journal, out_dir: Path) -> None:
    """``<task>.json`` (the result) and ``<task>_samples.jsonl`` (every sample's record, in item order)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{result.task}.json").write_text(result.model_dump_json(indent=2), encoding="utf-8")
    with (out_dir / f"{result.task}_samples.jsonl").open("w", encoding="utf-8") as f:
        for rec in journal.samples(result.run_id):
            f.write(rec.model_dump_json() + "\n")


@dataclass
class Prepared:
    """A run before any sample is scored: its task, samples and prompts, and its identity (resume key)."""

    task: Task[Any]
    dataset: Dataset
    samples: list[Sample]
    prompts: list[Any]
    info: BackendInfo
    judge: BackendInfo | None
    ident: dict[str, Any]
    run_id: str


def prepare(backend: Backend, task_name: str, config: EvalConfig) -> Prepared:
    """Load a task's data and build its prompts and identity: what a run and a plan both start from."""
    task = get_task(task_name, config.num_fewshot)
    task.configure(config.samples, config.temperature, config.max_tokens)
    if task.needs_judge and config.judge is None:
        raise InputError(f"task {task.name} needs a judge model: give {option('judge')} BACKEND:MODEL", field="judge")
    dataset = task.load(config.data_dir)
    samples = task.select(dataset.samples, config.limit)
    if not samples:
        raise InputError(f"task {task.name}: no documents found", field="task")
    prompts = task.prompts(samples, dataset.fewshot)  # over the kept samples, in order: lm-eval's few-shot draws
    info = backend.info()
    judge = config.judge.info() if config.judge else None
    ident = {
        "model": info.identity(),
        "task": task.name,
        "limit": config.limit,
        "num_fewshot": task.num_fewshot,
        **task.identity(judge.identity() if judge else None),
        "data_sha256": dataset.source.sha256 or dataset.source.location,
    }
    return Prepared(task, dataset, samples, prompts, info, judge, ident, fingerprint(ident))


def pricer_for(prepared: Prepared, config: EvalConfig, *, billed: bool | None = None) -> Pricer:
    """Generations are priced at the run's catalog model or offer; scores are not outputs.

    ``billed`` prices a scoring run too (a plan: an API answers multiple choice with a letter)."""
    info = prepared.info
    if not (billed if billed is not None else prepared.task.method == "generation"):
        return Pricer(None, info.backend)
    host = info.details.get("host")
    return Pricer(
        config.catalog_id or info.model,
        info.backend,
        explicit=config.catalog_id is not None,
        catalog=config.catalog,
        catalog_dirs=config.catalog_dirs,
        host=host if isinstance(host, str) else None,
    )


def work_of(
    backend: Backend, prep: Prepared, indices: Sequence[int], journal: Journal | None, runs: Sequence[RunRecord]
) -> tuple[TokenCount, int]:
    """The tokens of the samples at ``indices``, and how many of them the backend will encode
    (every shared prefix once where it reuses prefixes, each question's context once otherwise);
    ``runs``: the journal's finished runs, for the model's observed output lengths."""
    task = prep.task
    generation = task.method == "generation"
    tokens = count_tokens(
        backend,
        task.method,
        [prep.prompts[i] for i in indices],
        samples_per_item=int(getattr(task, "samples", 1)) if generation else 1,
        max_tokens=int(getattr(task, "max_tokens", 0)) if generation else 0,
        turns=max((len(prep.samples[i].turns) for i in indices), default=1) if generation else 1,
        output_per_generation=output_per_generation(journal, runs, prep.info.model, task.name) if generation else None,
    )
    return tokens, tokens.unique if prep.info.details.get("prefix_reuse") else tokens.shared


def run_task(
    backend: Backend,
    task_name: str,
    config: EvalConfig,
    journal: Journal,
    on_event: OnEvent = ignore,
    *,
    shard: tuple[int, int] | None = None,
    skip: frozenset[str] = frozenset(),
) -> RunResult:
    """Evaluate ``task_name`` on ``backend``; resumes a journaled run with the same identity.

    ``shard=(k, n)`` scores only the items at positions k, k+n, k+2n, … (a piece of a run spread
    across workers; its result covers that piece) and ``skip`` names items scored elsewhere."""
    prep = prepare(backend, task_name, config)
    task, dataset, samples, prompts, info, judge, run_id = (
        prep.task, prep.dataset, prep.samples, prep.prompts, prep.info, prep.judge, prep.run_id
    )  # fmt: skip
    resumed = journal.start(run_id, info.model, task.name, prep.ident)
    done = journal.done_ids(run_id) | skip
    mine = range(len(samples)) if shard is None else range(shard[0], len(samples), shard[1])
    todo = sorted((i for i in mine if samples[i].id not in done), key=lambda i: task.order(samples[i], prompts[i]))
    pricer = pricer_for(prep, config)
    planned: TokenCount | None = None
    estimate: Estimate | None = None
    if todo:
        try:  # the plan is a record beside the run: it never stops one
            history = finished_runs(journal)
            planned, encoded = work_of(backend, prep, todo, journal, history)
            outputs = expected_output(planned)
            estimate = from_journal(history, run_id, info.model, task.name, len(todo), encoded, outputs)
        except Exception as exc:  # pragma: no cover - a tokenizer failing on text the backend then scores
            warnings.warn(f"{task.name}: no plan for this run ({type(exc).__name__}: {exc})", stacklevel=2)
    counters = backend.stats()
    step = Step(config.judge, pricer, lambda n: on_event(SamplesScored(task.name, run_id, n)))
    size = config.chunk or task.step_size(backend)
    on_event(RunStarted(task.name, run_id, info.model, len(mine), len(mine) - len(todo), resumed))
    start = time.perf_counter()
    try:
        for k in range(0, len(todo), size):
            idx = todo[k : k + size]
            records = task.run_step(backend, [samples[i] for i in idx], [prompts[i] for i in idx], step)
            journal.add_samples(run_id, list(zip(idx, records, strict=True)))
            on_event(StepSaved(task.name, run_id, k + len(idx), len(todo)))
    except Exception as exc:  # the journal says why; what was scored stays, and a rerun resumes
        journal.fail(run_id, f"{type(exc).__name__}: {exc}")
        raise
    seconds = time.perf_counter() - start
    timing = Timing(seconds=seconds, items_per_s=len(todo) / seconds if todo and seconds > 0 else None)
    if not todo and resumed:  # nothing left to score: the speed is the one the run was scored at
        prior = journal.finished(run_id)
        timing = prior.timing if prior is not None else timing
    counted = _counted(counters, backend.stats())
    records = journal.samples(run_id)
    metrics, groups = summarize(task, records)
    perf = performance(records, pricer) if task.method == "generation" else None
    result = RunResult(
        run_id=run_id,
        model=info.model,
        backend=info.backend,
        backend_details=info.details,
        task=task.name,
        method=task.method_on(backend),
        n=len(records),
        metrics=metrics,
        groups=groups,
        timing=timing,
        config={
            "limit": config.limit,
            "num_fewshot": task.num_fewshot,
            **task.settings(dataset),
            **({"judge": judge.model if judge else None} if task.method == "generation" else {}),
            **({"catalog_id": config.catalog_id} if config.catalog_id else {}),
            "resumed": resumed,
            "scored_this_session": len(todo),
            **({"shard": f"{shard[0]}/{shard[1]}", "items_total": len(samples)} if shard else {}),
        },
        data={"kind": dataset.source.kind, "location": dataset.source.location, "sha256": dataset.source.sha256},
        created=dt.datetime.now(dt.UTC),
        complete=len(records) == len(mine),
        errors=perf.errors if perf is not None else counted.get("errors", 0),
        backend_stats=counted,
    )
    result.performance = perf
    if planned is not None:
        result.plan = _plan_check(planned, estimate, seconds, counted, records, {samples[i].id for i in todo})
    journal.finish(result)
    on_event(RunFinished(task.name, run_id, result))
    return result


def combine(parts: Sequence[RunResult], records: Sequence[SampleRecord], total: int, seconds: float) -> RunResult:
    """One run's result from the results of its shards and every sample they journaled (merged).

    Metrics are summarized afresh over ``records``, exactly as a single process would; time is the
    wall time the shards took together, counters are their sums."""
    first = parts[0]
    task = get_task(first.task, first.config.get("num_fewshot"))
    metrics, groups = summarize(task, records)
    scored = sum(int(p.config.get("scored_this_session", 0)) for p in parts)
    counters: Counter[str] = Counter()
    for p in parts:
        counters.update(p.backend_stats)
    config = {k: v for k, v in first.config.items() if k not in ("shard", "items_total")}
    config.update(scored_this_session=scored, shards=len(parts), resumed=any(p.config.get("resumed") for p in parts))
    perf = performance(records, Pricer(None, first.backend)) if first.performance is not None else None
    result = first.model_copy(
        update={
            "n": len(records),
            "metrics": metrics,
            "groups": groups,
            "timing": Timing(seconds=seconds, items_per_s=scored / seconds if scored and seconds > 0 else None),
            "config": config,
            "complete": len(records) == total,
            "errors": perf.errors if perf is not None else counters.get("errors", 0),
            "backend_stats": dict(counters),
            "plan": None,
            "created": dt.datetime.now(dt.UTC),
        }
    )
    result.performance = perf
    return result
