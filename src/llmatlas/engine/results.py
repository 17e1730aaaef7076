"""The one results schema (versioned) shared by the CLI, reports and the web UI."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1


class Metric(BaseModel):
    """A metric's mean over the samples, and its standard error.

    ``stderr_method`` says which error it is: ``sample`` (the samples' standard deviation over
    √n), or ``pooled`` — lm-evaluation-harness's figure for a grouped task (MMLU, CMMLU): the
    per-group errors pooled, weighted by size, so that between-group differences do not count.
    """

    value: float
    stderr: float | None = None
    ci95: tuple[float, float] | None = None
    stderr_method: Literal["sample", "pooled"] | None = None


class Timing(BaseModel):
    seconds: float
    items_per_s: float | None


class Output(BaseModel):
    """One generation of a sample, with what it cost: the unit of the performance summary."""

    text: str
    turn: int = 0  # 0-based turn for multi-turn tasks (MT-Bench)
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_s: float | None = None
    ttft_s: float | None = None
    output_tokens_per_s: float | None = None
    cost_usd: float | None = None
    error: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


class SampleRecord(BaseModel):
    """One scored item, kept for audit: what was asked, what the model said, how it was scored.

    Multiple-choice samples fill choices/logprobs/prediction/gold; generation samples fill
    ``outputs`` (one per sample drawn and per turn), ``target`` and ``details`` (extracted answers,
    test verdicts, judge ratings).

    Infinite log-probs (a choice an API model did not pick by letter, a failed request) are written
    as the strings "-Infinity"/"NaN" so the JSON stays standard and reads back as floats.
    """

    model_config = ConfigDict(ser_json_inf_nan="strings")

    doc_id: str
    prompt: str
    choices: list[str] = Field(default_factory=list)
    logprobs: list[float] = Field(default_factory=list)
    n_tokens: list[int] = Field(default_factory=list)
    greedy: list[bool] = Field(default_factory=list)
    prediction: int | None = None
    gold: int | list[int] | None = None
    metrics: dict[str, float]
    group: str | None = None
    outputs: list[Output] = Field(default_factory=list)
    target: Any = None
    details: dict[str, Any] = Field(default_factory=dict)


class TokenCount(BaseModel):
    """A run's work in tokens, three ways (see ``engine/workload.py``): every request in full
    (``naive``), each question's or prompt's tokens once (``shared``), every shared prefix once
    (``unique``, the prefix tree: the physical limit); ``method`` says whether the model's tokenizer
    counted them or they are estimated from characters."""

    method: Literal["tokenizer", "estimate"]
    naive: int
    shared: int
    unique: int
    output_max: int = 0  # generation: samples × max_tokens (× turns); 0 for scoring
    output_expected: int | None = None  # generation: from this model's observed output lengths on the task


class PlanCheck(BaseModel):
    """The plan a run made of the samples it was about to score, beside what they took.

    ``tokens``/``seconds`` are the plan (``seconds_basis`` says where the time came from, and
    ``seconds_range`` the spread of the runs it was calibrated on); ``actual_seconds`` and
    ``actual_tokens`` are what happened: the backend's own counters (``tokens_requested``,
    ``tokens_unique``, ``tokens_encoded``; ``prompt_tokens``, ``prompt_tokens_encoded``) and the
    output tokens written."""

    tokens: TokenCount
    seconds: float | None
    seconds_basis: str
    seconds_range: tuple[float, float] | None = None
    actual_seconds: float | None = None
    actual_tokens: dict[str, int] = Field(default_factory=dict)


class Distribution(BaseModel):
    """p50/p95/mean of a per-output quantity, over the outputs that report it."""

    n: int
    mean: float
    p50: float
    p95: float


class Performance(BaseModel):
    """Speed and cost of a generation run: percentiles per output, totals per run.

    ``cost_usd`` is None (never 0) when the model has no catalog price; ``cost_note`` says why.
    """

    latency_s: Distribution | None = None
    ttft_s: Distribution | None = None
    output_tokens_per_s: Distribution | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    token_counts: str | None = None  # "usage" (reported by the backend) or "missing"
    cost_usd: float | None = None
    cost_note: str | None = None
    errors: int = 0


class RunResult(BaseModel):
    """What ``llmatlas eval --json`` prints per task, and what ``results``/``compare`` read."""

    model_config = ConfigDict(ser_json_inf_nan="strings")

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
    performance: Performance | None = None
    #: what the backend counted during this session of the run: requests, retries and errors (APIs),
    #: tokens encoded and requested, prompts cut to the model's context ("truncated", lm-eval's rule)
    backend_stats: dict[str, int] = Field(default_factory=dict)
    #: the plan made at the start of this session of the run, and what the session did
    plan: PlanCheck | None = None


RunStatus = Literal["running", "complete", "partial", "failed"]


class RunRecord(BaseModel):
    """A run as the journal knows it: what was run (its spec), how far it got, how it ended.

    ``spec`` is the run's identity (model, task, limit, shots, generation settings, data hash) —
    the same settings give the same ``run_id`` and resume the run. ``status`` is ``running`` until
    the run finishes (``complete``, or ``partial`` when some items could not be scored) or stops on
    an error (``failed``, with ``error``); a process killed outright leaves it ``running``, and the
    same command resumes it.
    """

    model_config = ConfigDict(ser_json_inf_nan="strings")

    run_id: str
    created: str  # ISO 8601 as the journal wrote it
    model: str
    task: str
    status: RunStatus
    spec: dict[str, Any] = Field(default_factory=dict)
    samples: int  # samples journaled so far
    error: str | None = None
    result: RunResult | None = None


class PairedComparison(BaseModel):
    metric: str
    n: int
    mean_a: float
    mean_b: float
    diff: float  # b - a
    ci95: tuple[float, float]
    p_value: float  # two-sided, from the bootstrap distribution
    resamples: int
    significant: bool
    wins_a: int  # items where a scored higher
    wins_b: int
