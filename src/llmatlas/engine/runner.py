"""Run a task against a backend: resumable, journaled sample by sample, with a progress bar.

Docs are scored in chunks; each chunk's samples are committed to the journal in one transaction
before the next chunk starts. A killed run started again skips what the journal holds.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from llmatlas.backends.base import Backend, MCQuestion
from llmatlas.core.errors import InputError
from llmatlas.engine.journal import Journal, fingerprint
from llmatlas.engine.results import Metric, RunResult, SampleRecord, Timing
from llmatlas.engine.stats import mean_stderr
from llmatlas.tasks.base import Doc
from llmatlas.tasks.generation import GenerationTask
from llmatlas.tasks.multiple_choice import LocalOrHubTask, limit_docs
from llmatlas.tasks.registry import get_task

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
    catalog: Catalog | None = None  # the catalog to price with (the CLI's, with its --catalog folders)


class ItemsPerSecond(TextColumn):
    """Progress column: items/s over the run so far."""

    def __init__(self) -> None:
        super().__init__("")

    def render(self, task: Any) -> Any:
        from rich.text import Text

        speed = task.finished_speed or task.speed
        return Text(f"{speed:.1f} items/s" if speed else "… items/s", style="cyan")


def progress_bar(name: str, console: Console | None) -> Progress:
    """The run's bar: items done of total, items/s and ETA; silent without a console (--json)."""
    return Progress(
        TextColumn(f"[bold]{name}[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        ItemsPerSecond(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=console is None,
        transient=False,
    )


def _record(task: LocalOrHubTask, doc: Doc, context: str, scores: list[Any]) -> SampleRecord:
    metrics = task.score(doc, scores)
    return SampleRecord(
        doc_id=doc.id,
        prompt=context,
        choices=list(doc.choices),
        logprobs=[s.logprob for s in scores],
        n_tokens=[s.n_tokens for s in scores],
        greedy=[s.greedy for s in scores],
        prediction=task.prediction(scores),
        gold=list(doc.gold) if isinstance(doc.gold, tuple) else doc.gold,
        metrics=metrics,
        group=doc.group,
    )


def _failed_requests(backend: Backend) -> int:
    """Requests an API backend gave up on (their questions score -inf and count as wrong): shown, not hidden."""
    stats = getattr(backend, "stats", None)
    if not callable(stats):
        return 0
    return int(stats().get("errors", 0))


def _size(question: MCQuestion) -> int:
    """Characters a backend scores for a question: the context and every continuation (a packed row)."""
    return len(question.context) + sum(len(c) for c in question.continuations)


def summarize(
    task: LocalOrHubTask, records: list[SampleRecord]
) -> tuple[dict[str, Metric], dict[str, dict[str, Metric]]]:
    if not records:
        raise InputError(f"task {task.name}: no samples were scored", field="task")
    metrics = {m: mean_stderr([r.metrics[m] for r in records]) for m in task.metrics}
    groups: dict[str, dict[str, Metric]] = {}
    for g in sorted({r.group for r in records if r.group}):
        rs = [r for r in records if r.group == g]
        groups[g] = {m: mean_stderr([r.metrics[m] for r in rs]) for m in task.metrics}
    return metrics, groups


def evaluate(
    spec: str,
    tasks: Sequence[str],
    config: EvalConfig,
    *,
    judge: str | None = None,
    journal_path: str | Path | None = None,
    console: Console | None = None,
    on_result: Callable[[RunResult, Journal], None] | None = None,
) -> list[RunResult]:
    """Load the model a spec names (and the judge), open the journal, run each task, close them all.

    The one place that sequence is written: the CLI's ``eval``, the quickstart and the advisor's
    ``--eval`` call it. Task names are checked before the model loads; ``on_result`` sees each
    result while the journal is still open (the CLI exports its samples there).
    """
    from llmatlas.backends.registry import load_backend

    for name in tasks:
        get_task(name, config.num_fewshot)  # fail fast on a typo, before loading a model
    backend = load_backend(spec)
    judge_backend = None
    journal: Journal | None = None
    try:
        judge_backend = load_backend(judge) if judge else None
        journal = Journal(journal_path)
        results = []
        for name in tasks:
            res = run_task(backend, name, replace(config, judge=judge_backend), journal, console=console)
            results.append(res)
            if on_result is not None:
                on_result(res, journal)
        return results
    finally:
        backend.close()
        if judge_backend is not None:
            judge_backend.close()
        if journal is not None:
            journal.close()


def run_task(
    backend: Backend,
    task_name: str,
    config: EvalConfig,
    journal: Journal,
    console: Console | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> RunResult:
    """Evaluate ``task_name`` on ``backend``; resumes a journaled run with the same identity."""
    task = get_task(task_name, config.num_fewshot)
    if isinstance(task, GenerationTask):
        from llmatlas.engine.generation import run_generation

        return run_generation(backend, task, config, journal, console, on_chunk)
    loaded = task.load(config.data_dir)
    docs = limit_docs(task, loaded.docs, config.limit)
    if not docs:
        raise InputError(f"task {task.name}: no documents found", field="task")
    info = backend.info()
    ident = {
        "model": info.identity(),
        "task": task.name,
        "limit": config.limit,
        "num_fewshot": task.num_fewshot,
        "data_sha256": loaded.source.sha256 or loaded.source.location,
    }
    run_id = fingerprint(ident)
    resumed = journal.start(run_id, info.model, task.name, ident)
    done = journal.done_ids(run_id)
    todo = [(i, d) for i, d in enumerate(docs) if d.id not in done]
    questions_all = {i: task.question(d, task.fewshot_for(d, loaded.fewshot)) for i, d in todo}
    # Longest first across the whole run, not only within a chunk: a chunk then holds questions of
    # similar length, so a backend's batches carry little padding (the journal keeps the doc order).
    todo.sort(key=lambda item: -_size(questions_all[item[0]]))
    start = time.perf_counter()
    with progress_bar(task.name, console) as bar:
        ptask = bar.add_task(task.name, total=len(docs), completed=len(docs) - len(todo))
        step = config.chunk or backend.preferred_chunk
        for k in range(0, len(todo), step):
            chunk = todo[k : k + step]
            questions = [questions_all[i] for i, _ in chunk]
            scores = backend.loglikelihood(questions, progress=lambda n: bar.advance(ptask, n))
            scored = [
                (i, _record(task, d, q.context, s)) for (i, d), q, s in zip(chunk, questions, scores, strict=True)
            ]
            journal.add_samples(run_id, scored)
            if on_chunk:
                on_chunk(k + len(chunk))
    seconds = time.perf_counter() - start
    records = journal.samples(run_id)
    metrics, groups = summarize(task, records)
    result = RunResult(
        run_id=run_id,
        model=info.model,
        backend=info.backend,
        backend_details=info.details,
        task=task.name,
        method=backend.mc_method,
        n=len(records),
        metrics=metrics,
        groups=groups,
        timing=Timing(seconds=seconds, items_per_s=len(todo) / seconds if todo and seconds > 0 else None),
        config={
            "limit": config.limit,
            "num_fewshot": task.num_fewshot,
            "resumed": resumed,
            "scored_this_session": len(todo),
        },
        data={"kind": loaded.source.kind, "location": loaded.source.location, "sha256": loaded.source.sha256},
        created=dt.datetime.now(dt.UTC),
        complete=len(records) == len(docs),
        errors=_failed_requests(backend),
    )
    journal.finish(result)
    return result
