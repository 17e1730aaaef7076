"""Campaigns: a matrix of models × tasks run as one resumable job and rolled up into one table.

A campaign file names models (a backend spec each, or several endpoints serving the same model)
and tasks (with limits and shots). Every (model, task) cell is an ordinary journaled run, so a
campaign killed at any point and started again finishes what is missing and scores nothing twice:
each run resumes from the journal by its identity. Locally, models load one at a time and run
their tasks in order; several endpoints of one model are driven in parallel, one thread each, the
cells spread across them. On Ray (``engine/distributed.py``) cells are also cut into shards.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from llmatlas.core.validation import validate_located
from llmatlas.core.yamlparse import read_yaml_mapping
from llmatlas.engine.events import OnEvent, ignore
from llmatlas.engine.journal import Journal, default_path
from llmatlas.engine.results import RunResult
from llmatlas.engine.runner import EvalConfig, loaded, run_task
from llmatlas.engine.stats import interval95
from llmatlas.tasks.registry import get_task, headline_metric, registered

CAMPAIGN_SCHEMA_VERSION = 1


class CampaignModel(BaseModel):
    """One model of the matrix: a spec, or several endpoints that serve the same weights."""

    model_config = ConfigDict(extra="forbid")

    spec: str | None = Field(None, description="backend:target, as `eval --model` takes it")
    endpoints: list[str] = Field(
        default_factory=list, description="several specs serving the same model: cells are spread across them"
    )
    name: str | None = Field(None, description="label in the roll-up (default: the spec)")
    catalog_id: str | None = Field(None, description="the catalog model it is (price, memory, evidence)")
    replicas: int = Field(1, ge=1, description="Ray: workers holding this model (shards spread across them)")
    num_cpus: float = Field(1.0, gt=0, description="Ray: CPUs per worker")
    num_gpus: float = Field(0.0, ge=0, description="Ray: GPUs per worker")
    memory_gb: float | None = Field(None, gt=0, description="Ray: memory per worker (default: the estimator's)")

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        return {"spec": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _one_source(self) -> CampaignModel:
        if (self.spec is None) == (not self.endpoints):
            raise ValueError("give either 'spec' or 'endpoints' (a list of specs serving the same model)")
        return self

    @property
    def specs(self) -> list[str]:
        return list(self.endpoints) if self.endpoints else [str(self.spec)]

    @property
    def label(self) -> str:
        return self.name or self.specs[0]


class CampaignTask(BaseModel):
    """One task of the matrix, with the campaign's defaults overridden where set."""

    model_config = ConfigDict(extra="forbid")

    task: str
    limit: int | None = Field(None, ge=1)
    num_fewshot: int | None = Field(None, ge=0)
    shards: int | None = Field(None, ge=1, description="Ray: pieces the task is cut into")

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        return {"task": data} if isinstance(data, str) else data


class Campaign(BaseModel):
    """A campaign file: models × tasks, defaults for every cell, where the journal is."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    models: list[CampaignModel] = Field(min_length=1)
    tasks: list[CampaignTask] = Field(min_length=1)
    limit: int | None = Field(None, ge=1, description="first N items of every task (per subject for MMLU)")
    num_fewshot: int | None = Field(None, ge=0)
    shards: int = Field(1, ge=1, description="Ray: pieces each task is cut into")
    chunk: int | None = Field(None, ge=1, description="items scored and journaled per step")
    data_dir: str | None = None
    journal: str | None = Field(None, description="journal path, relative to the file (default: the user's)")

    @model_validator(mode="after")
    def _known_names(self) -> Campaign:
        known = set(registered())
        for t in self.tasks:
            if t.task not in known:
                raise ValueError(f"unknown task '{t.task}' (`llmatlas tasks` lists them)")
            if get_task(t.task).needs_judge:
                raise ValueError(f"task '{t.task}' needs a judge model, which campaigns do not take yet")
        labels = [m.label for m in self.models]
        twice = sorted({x for x in labels if labels.count(x) > 1})
        if twice:
            raise ValueError(f"two models have the label {twice[0]!r}: give each a distinct 'name'")
        return self

    def cells(self) -> list[Cell]:
        """Every (model, task) cell, model by model; a model's cells go round its endpoints in turn."""
        out: list[Cell] = []
        for mi, m in enumerate(self.models):
            specs = m.specs
            for ti, t in enumerate(self.tasks):
                out.append(
                    Cell(
                        index=len(out),
                        model_index=mi,
                        label=m.label,
                        spec=specs[ti % len(specs)],
                        catalog_id=m.catalog_id,
                        task=t.task,
                        limit=t.limit if t.limit is not None else self.limit,
                        num_fewshot=t.num_fewshot if t.num_fewshot is not None else self.num_fewshot,
                        shards=t.shards or self.shards,
                    )
                )
        return out


@dataclass(frozen=True)
class Cell:
    """One (model, task) of a campaign, with its settings resolved and the endpoint it runs on."""

    index: int  # its place in the campaign (the roll-up's row)
    model_index: int
    label: str
    spec: str
    catalog_id: str | None
    task: str
    limit: int | None
    num_fewshot: int | None
    shards: int = 1

    def config(self, campaign: Campaign) -> EvalConfig:
        return EvalConfig(
            limit=self.limit,
            num_fewshot=self.num_fewshot,
            chunk=campaign.chunk,
            data_dir=campaign.data_dir,
            catalog_id=self.catalog_id,
        )


def load_campaign(path: str | Path) -> tuple[Campaign, Path]:
    """Read and validate a campaign file; errors name the file, line and field. Returns the
    campaign and its journal path (relative paths are taken from the file's folder)."""
    p = Path(path)
    located = read_yaml_mapping(p, "campaign file", "name, models, tasks, ...")
    campaign = validate_located(Campaign, located.data, located, p)
    if campaign.data_dir is not None:
        campaign.data_dir = str((p.parent / campaign.data_dir).resolve())
    journal = p.parent / campaign.journal if campaign.journal else default_path()
    return campaign, journal


# ------------------------------------------------------------------ running locally


# A cell's outcome: its run's result, or why it could not be run (the other cells go on).
Outcome = tuple["Cell", RunResult | str]


def failed_rest(cells: Sequence[Cell], done: Sequence[Outcome], exc: Exception) -> list[Outcome]:
    """The cells of ``cells`` without an outcome yet, failed with ``exc``."""
    have = {c.index for c, _ in done}
    return [(c, f"{type(exc).__name__}: {exc}") for c in cells if c.index not in have]


def run_local(campaign: Campaign, journal_path: str | Path, on_event: OnEvent = ignore) -> list[Outcome]:
    """Run every cell in this process: each model loaded once, its cells in order; a model with
    several endpoints drives them at once (a thread and a client each, cells round-robin). A model
    that fails (a missing file, a server down) fails its remaining cells; the next model runs."""
    cells = campaign.cells()
    done: list[Outcome] = []
    lock = threading.Lock()

    def drive(spec: str, mine: Sequence[Cell]) -> None:
        try:
            with loaded(spec, [c.task for c in mine], mine[0].config(campaign), None) as (backend, _):
                journal = Journal(journal_path)
                try:
                    for cell in mine:
                        result = run_task(backend, cell.task, cell.config(campaign), journal, on_event=on_event)
                        with lock:
                            done.append((cell, result))
                finally:
                    journal.close()
        except Exception as exc:  # recorded in the roll-up; the journal keeps what was scored
            with lock:
                done.extend(failed_rest(mine, done, exc))

    for mi in range(len(campaign.models)):
        by_spec: dict[str, list[Cell]] = {}
        for c in cells:
            if c.model_index == mi:
                by_spec.setdefault(c.spec, []).append(c)
        if len(by_spec) == 1:  # in this thread: Ctrl-C stops it at once
            drive(*next(iter(by_spec.items())))
            continue
        with ThreadPoolExecutor(max_workers=len(by_spec), thread_name_prefix="llmatlas-endpoint") as pool:
            for future in [pool.submit(drive, spec, mine) for spec, mine in by_spec.items()]:
                future.result()  # the first endpoint's error, raised here
    return sorted(done, key=lambda pair: pair[0].index)


# ------------------------------------------------------------------ the roll-up


class RollupRow(BaseModel):
    """One cell of the campaign: the run's headline metric with its 95% interval."""

    model: str
    spec: str
    task: str
    run_id: str | None = None
    status: Literal["complete", "partial", "missing", "failed"]
    error: str | None = None  # why a failed cell could not be run
    n: int = 0
    metric: str | None = None
    value: float | None = None
    stderr: float | None = None
    ci95: tuple[float, float] | None = None  # engine.stats.interval95
    metrics: dict[str, float] = Field(default_factory=dict)
    items_per_s: float | None = None
    shards: int = 1


class Rollup(BaseModel):
    """A campaign's results as one table (the same schema for CLI ``--json``, reports and web)."""

    schema_version: int = CAMPAIGN_SCHEMA_VERSION
    campaign: str
    journal: str
    rows: list[RollupRow]
    executor: str = "local"

    @property
    def failed(self) -> list[RollupRow]:
        return [r for r in self.rows if r.status == "failed"]


def rollup_row(cell: Cell, result: RunResult | str | None) -> RollupRow:
    base = {"model": cell.label, "spec": cell.spec, "task": cell.task, "shards": cell.shards}
    if result is None:
        return RollupRow(status="missing", **base)
    if isinstance(result, str):
        return RollupRow(status="failed", error=result, **base)
    name = headline_metric(cell.task, result.metrics)
    m = result.metrics.get(name) if name else None
    ci = interval95(name, m) if name and m else None
    return RollupRow(
        run_id=result.run_id,
        status="complete" if result.complete else "partial",
        n=result.n,
        metric=name,
        value=m.value if m else None,
        stderr=m.stderr if m else None,
        ci95=ci,
        metrics={k: v.value for k, v in result.metrics.items()},
        items_per_s=result.timing.items_per_s,
        **base,
    )


def rollup(campaign: Campaign, journal_path: str | Path, results: Sequence[Outcome], executor: str = "local") -> Rollup:
    found = {c.index: r for c, r in results}
    rows = [rollup_row(c, found.get(c.index)) for c in campaign.cells()]
    return Rollup(campaign=campaign.name, journal=str(journal_path), rows=rows, executor=executor)
