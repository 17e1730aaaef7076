"""The one results schema (versioned) shared by the CLI, reports and the web UI."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

SCHEMA_VERSION = 1


class Metric(BaseModel):
    value: float
    stderr: float | None = None
    ci95: tuple[float, float] | None = None


class Timing(BaseModel):
    seconds: float
    items_per_s: float | None


class SampleRecord(BaseModel):
    """One scored item, kept for audit: what was asked, what the model said, how it was scored."""

    doc_id: str
    prompt: str
    choices: list[str]
    logprobs: list[float]
    n_tokens: list[int]
    greedy: list[bool]
    prediction: int
    gold: int | list[int]
    metrics: dict[str, float]
    group: str | None = None


class RunResult(BaseModel):
    """What ``llmatlas eval --json`` prints per task, and what ``results``/``compare`` read."""

    schema_version: int = SCHEMA_VERSION
    run_id: str
    model: str
    backend: str
    backend_details: dict[str, Any] = Field(default_factory=dict)
    task: str
    method: str  # "loglikelihood" or "generation"
    n: int
    metrics: dict[str, Metric]
    groups: dict[str, dict[str, Metric]] = Field(default_factory=dict)  # per subject (MMLU/CMMLU)
    timing: Timing
    config: dict[str, Any] = Field(default_factory=dict)
    data: dict[str, Any] = Field(default_factory=dict)
    created: dt.datetime
    complete: bool = True
    errors: int = 0
