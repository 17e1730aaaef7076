"""Campaigns on Ray: a worker (actor) per model replica, each run cut into shards spread across them.

Every (model, task, shard) unit runs on an actor that loaded its model once. The shard is scored
into a journal on that worker's own disk (``<cache>/shards/<run>.<k>of<n>.sqlite``): when Ray
restarts a killed worker and retries its task, the retry resumes from that journal instead of
starting over. The shard's samples come back to the driver, which merges them into the main
journal keyed on (run, item) — a sample already there is kept, so a retried or repeated shard can
never add one twice — and, when a run's last shard is in, summarizes the merged samples exactly as
a single process would. SQLite is never written across machines (its locks are unreliable on
network filesystems); see docs/scale.md.

``ray`` is an optional dependency (``pip install 'llmatlas[ray]'``), imported only here.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from llmatlas.core.errors import LlmatlasError
from llmatlas.core.paths import cache_dir
from llmatlas.engine.campaign import Campaign, Cell, Outcome, failed_rest
from llmatlas.engine.events import OnEvent, RunFinished, RunStarted, SamplesScored, ignore
from llmatlas.engine.journal import Journal
from llmatlas.engine.results import RunResult, SampleRecord
from llmatlas.engine.runner import EvalConfig, combine, prepare, run_task

INSTALL_HINT = "pip install 'llmatlas[ray]'  (or: pip install ray)"
RETRIES = 3  # a killed worker is restarted, and its unit retried, this many times
ENV_PREFIXES = ("LLMATLAS_", "HF_", "TRANSFORMERS_", "OPENAI_", "ANTHROPIC_")  # what workers must see too


def import_ray() -> ModuleType:
    try:
        import ray
    except ImportError:
        raise LlmatlasError(f"running a campaign on Ray needs the ray package: {INSTALL_HINT}") from None
    return ray


@dataclass(frozen=True)
class Resources:
    """What one worker of a model asks Ray for, and where the memory figure came from."""

    num_cpus: float = 1.0
    num_gpus: float = 0.0
    memory_bytes: int | None = None
    basis: str = "not estimated"

    def ray_options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {"num_cpus": self.num_cpus, "num_gpus": self.num_gpus}
        if self.memory_bytes:
            opts["memory"] = self.memory_bytes
        return opts


def shard_dir() -> Path:
    """Where a worker journals its shards: its own cache folder (local disk)."""
    return cache_dir() / "shards"


@dataclass(frozen=True)
class Described:
    """A run as its worker prepared it: identity, and the item ids in their positions."""

    run_id: str
    model: str
    ident: dict[str, Any]
    doc_ids: list[str]


@dataclass(frozen=True)
class Settings:
    """The parts of :class:`EvalConfig` a worker needs (plain values: they travel to other machines)."""

    limit: int | None
    num_fewshot: int | None
    chunk: int | None
    data_dir: str | None
    catalog_id: str | None

    @classmethod
    def of(cls, cell: Cell, campaign: Campaign) -> Settings:
        c = cell.config(campaign)
        return cls(c.limit, c.num_fewshot, c.chunk, c.data_dir, c.catalog_id)

    def config(self) -> EvalConfig:
        return EvalConfig(**asdict(self))


class ModelWorker:
    """Holds one loaded model on a Ray worker (an actor) and scores shards of its runs."""

    def __init__(self, spec: str) -> None:
        from llmatlas.backends.registry import load_backend

        self.backend = load_backend(spec)

    def describe(self, task: str, settings: Settings) -> Described:
        prep = prepare(self.backend, task, settings.config())
        return Described(prep.run_id, prep.info.model, prep.ident, [s.id for s in prep.samples])

    def run_shard(
        self, task: str, settings: Settings, run_id: str, shard: tuple[int, int], skip: frozenset[str]
    ) -> tuple[RunResult, list[tuple[int, SampleRecord]]]:
        path = shard_dir() / f"{run_id}.{shard[0]}of{shard[1]}.sqlite"
        journal = Journal(path)
        try:
            result = run_task(self.backend, task, settings.config(), journal, shard=shard, skip=skip)
            return result, journal.numbered(result.run_id)
        finally:
            journal.close()


@dataclass
class _Run:
    """A run in flight on the driver: its shards still out and the results of those back."""

    cell: Cell
    described: Described
    settings: Settings
    left: int
    started: float = field(default_factory=time.perf_counter)
    parts: list[RunResult] = field(default_factory=list)


def run_on_ray(
    campaign: Campaign,
    journal_path: str | Path,
    resources: Sequence[Resources],
    address: str | None = None,
    on_event: OnEvent = ignore,
) -> list[Outcome]:
    """Run a campaign on a Ray cluster (``address``; None or "local" starts one on this machine).

    A cluster already initialized in this process (``ray.init`` by the caller) is used as it is."""
    ray = import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        env = {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIXES)}
        kwargs: dict[str, Any] = {
            "include_dashboard": False,
            "logging_level": logging.WARNING,
            "runtime_env": {"env_vars": env},
        }
        if address and address != "local":
            kwargs["address"] = address
        ray.init(**kwargs)
    try:
        return _drive(ray, campaign, journal_path, resources, on_event)
    finally:
        if started_here:
            ray.shutdown()


def _unwrap(ray: ModuleType, exc: BaseException) -> BaseException:
    """A worker's own error (bad input, a missing file) instead of Ray's wrapper around it."""
    if isinstance(exc, ray.exceptions.RayTaskError):
        cause = getattr(exc, "cause", None)
        if isinstance(cause, LlmatlasError):
            return cause
    return LlmatlasError(f"a Ray worker failed after {RETRIES} retries: {exc}")


def _drive(
    ray: ModuleType, campaign: Campaign, journal_path: str | Path, resources: Sequence[Resources], on_event: OnEvent
) -> list[Outcome]:
    remote_worker = ray.remote(max_restarts=RETRIES, max_task_retries=RETRIES)(ModelWorker)
    cells = campaign.cells()
    out: list[Outcome] = []
    journal = Journal(journal_path)
    try:
        for mi, model in enumerate(campaign.models):  # one model's workers at a time: they hold its weights
            mine = [c for c in cells if c.model_index == mi]
            options = resources[mi].ray_options()
            pools = {
                s: [remote_worker.options(**options).remote(s) for _ in range(model.replicas)] for s in model.specs
            }
            try:
                _run_model(ray, campaign, journal, mine, pools, on_event, out)
            except Exception as exc:  # this model's remaining cells fail; the next model runs
                out.extend(failed_rest(mine, out, exc))
            finally:
                for actors in pools.values():
                    for a in actors:
                        ray.kill(a)
    finally:
        journal.close()
    return out


def _run_model(
    ray: ModuleType,
    campaign: Campaign,
    journal: Journal,
    cells: list[Cell],
    pools: dict[str, list[Any]],
    on_event: OnEvent,
    out: list[Outcome],
) -> None:
    """Run one model's cells on its workers, appending each finished run to ``out``."""
    settings = [Settings.of(c, campaign) for c in cells]
    try:
        described: list[Described] = ray.get(
            [pools[c.spec][0].describe.remote(c.task, s) for c, s in zip(cells, settings, strict=True)]
        )
    except ray.exceptions.RayError as exc:
        raise _unwrap(ray, exc) from None
    queue: deque[tuple[_Run, int, frozenset[str]]] = deque()
    for cell, s, d in zip(cells, settings, described, strict=True):
        resumed = journal.start(d.run_id, d.model, cell.task, d.ident)
        done = journal.done_ids(d.run_id)
        n = cell.shards
        todo = [k for k in range(n) if any(i not in done for i in d.doc_ids[k::n])]
        on_event(RunStarted(cell.task, d.run_id, d.model, len(d.doc_ids), len(done), resumed))
        if not todo:
            finished = journal.finished(d.run_id)
            if finished is not None and finished.complete:
                on_event(RunFinished(cell.task, d.run_id, finished))
                out.append((cell, finished))
                continue
            todo = [0]  # every sample is in but the run was never summarized: one shard gives the template
        run = _Run(cell, d, s, left=len(todo))
        for k in todo:
            queue.append((run, k, frozenset(i for i in d.doc_ids[k::n] if i in done)))
    free = {spec: list(actors) for spec, actors in pools.items()}
    inflight: dict[Any, tuple[_Run, Any]] = {}
    while queue or inflight:
        for item in list(queue):
            run, k, skip = item
            if free[run.cell.spec]:
                actor = free[run.cell.spec].pop()
                ref = actor.run_shard.remote(
                    run.cell.task, run.settings, run.described.run_id, (k, run.cell.shards), skip
                )
                inflight[ref] = (run, actor)
                queue.remove(item)
        ready, _ = ray.wait(list(inflight), num_returns=1)
        run, actor = inflight.pop(ready[0])
        free[run.cell.spec].append(actor)
        run_id = run.described.run_id
        try:
            part, rows = ray.get(ready[0])
        except ray.exceptions.RayError as exc:
            err = _unwrap(ray, exc)
            journal.fail(run_id, f"{type(err).__name__}: {err}")
            raise err from None
        new = journal.merge(run_id, rows)
        on_event(SamplesScored(run.cell.task, run_id, new))
        run.parts.append(part)
        run.left -= 1
        if run.left == 0:
            records = journal.samples(run_id)
            result = combine(run.parts, records, len(run.described.doc_ids), time.perf_counter() - run.started)
            journal.finish(result)
            on_event(RunFinished(run.cell.task, run_id, result))
            out.append((run.cell, result))
