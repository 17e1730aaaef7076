"""What the advisor returns: one versioned schema for the terminal, JSON, Markdown and HTML reports.

Every number a report shows is a :class:`Fact`: a value with its evidence level and the ids of the
sources behind it (catalog references, measured runs, estimator formulas, the requirements file).
``Recommendation.sources`` maps those ids to titles and links, which reports print as footnotes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

from llmatlas.advise.requirements import Criterion, Requirements

RECOMMENDATION_SCHEMA_VERSION = 1

# Strongest first. "estimated" is our own estimator's output (memory, speed, self-host cost).
# "dataset": a price or limit read from a public dataset (models.dev, genai-prices…, or proposed by
# `llmatlas catalog sync`), not from the provider's own page.
Evidence = Literal["measured", "reported", "dataset", "estimated", "unknown"]
EVIDENCE_ORDER: tuple[Evidence, ...] = ("measured", "reported", "dataset", "estimated", "unknown")
SourceKind = Literal["catalog", "measurement", "estimate", "hardware", "requirements"]


def weakest(levels: list[Evidence]) -> Evidence:
    """The weakest evidence among several (a total is only as good as its weakest part)."""
    return max(levels, key=EVIDENCE_ORDER.index) if levels else "unknown"


class Source(BaseModel):
    """A footnote: where a number comes from."""

    id: str
    kind: SourceKind
    title: str
    url: str | None = None
    as_of: dt.date | None = None


class Fact(BaseModel):
    """A number (or short text) with its evidence level and sources; ``value`` None means unknown."""

    value: float | None = None
    text: str | None = None  # what to print when the value needs words ("$1,234/month", "Q4_K_M")
    unit: str | None = None
    evidence: Evidence = "unknown"
    sources: list[str] = Field(default_factory=list)
    note: str | None = None


class BenchmarkEvidence(BaseModel):
    """One benchmark score used for a task category (0–100 scale)."""

    benchmark: str
    value: float  # 0..100 (MT-Bench's 0..10 is scaled ×10)
    shown: str  # as published: "86.4 (5-shot)", "8.99/10", "0.502 ± 0.022 (n=500, run abc)"
    evidence: Evidence
    sources: list[str] = Field(default_factory=list)


class TaskQuality(BaseModel):
    """Quality on one task category of the requirements."""

    task: str
    weight: float  # normalized
    value: float | None  # 0..100; None when no evidence
    evidence: Evidence
    benchmarks: list[BenchmarkEvidence] = Field(default_factory=list)
    filled: bool = False  # no evidence: counted at the lowest score among candidates (see note)
    note: str | None = None


class CriterionScore(BaseModel):
    """One criterion of the ranking: the raw fact, its 0..1 score among candidates, and why."""

    criterion: Criterion
    weight: float  # normalized
    fact: Fact
    score: float  # 0..1 after normalization; unknowns score 0 (as the worst candidate)
    explanation: str


class SelfHostPlan(BaseModel):
    """How a self-hosted candidate would run: hardware, format, capacity and cost."""

    hardware: str  # hardware id, or "memory:24GB"
    hardware_name: str
    gpus_per_replica: int
    replicas: int
    quant: str
    bits_per_weight: float
    memory_needed_bytes: int  # one replica: weights + KV cache + overhead
    memory_available_bytes: int  # one replica's GPUs together
    batch: int  # concurrent sequences per replica the KV budget allows (capped)
    context: int
    decode_tokens_per_s: float | None  # per sequence, at that batch (efficiency applied)
    capacity_requests_per_s: float | None  # per replica
    latency_s: float | None  # one request: prefill + output at the per-sequence decode rate
    gpu_hour_usd: float | None
    # Where gpu_hour_usd comes from: the hardware table's offer and date, "your gpu_hour_usd", or owned.
    gpu_price_basis: str | None = None
    monthly_usd: float | None
    breakeven_requests_per_month: float | None = None  # vs the reference API, when there is one
    breakeven_vs: str | None = None
    notes: list[str] = Field(default_factory=list)


class Candidate(BaseModel):
    """A model that passed every hard filter, with the evidence behind its rank."""

    model: str
    name: str
    developer: str
    kind: str
    deployment: Literal["api", "self-host"]
    deployment_text: str  # "API", "API via Groq", "self-host: 2 × A100 80GB, Q4_K_M"
    provider: str | None = None  # who serves the API deployment (the developer for its own API)
    provider_model_id: str | None = None
    quality: Fact
    tasks: list[TaskQuality]
    monthly_cost: Fact
    speed: Fact  # output tokens/s per request
    latency: Fact  # seconds per request
    context: Fact
    languages: Fact  # fraction of required languages documented
    criteria: list[CriterionScore]
    total: float  # weighted sum of criterion scores, 0..1
    rank: int
    pareto: bool = False
    plan: SelfHostPlan | None = None
    alternatives: list[str] = Field(default_factory=list)  # the other deployment, with its cost
    warnings: list[str] = Field(default_factory=list)


class Exclusion(BaseModel):
    """A model that failed a hard filter, and why, with the numbers."""

    model: str
    name: str
    filter: str  # "kind", "license", "on_premises", "fine_tuning", "context", "languages", "budget", ...
    reason: str
    sources: list[str] = Field(default_factory=list)


class RankChange(BaseModel):
    model: str
    rank: int
    new_rank: int


class Sensitivity(BaseModel):
    """What happens to the ranking when one weight moves by ``factor`` (others renormalized)."""

    criterion: Criterion
    factor: float
    top: str  # the new first choice
    top_changed: bool
    changes: list[RankChange] = Field(default_factory=list)  # within the shortlist


class Measurement(BaseModel):
    """A run folded into the ranking (``--eval`` or earlier runs in the results store)."""

    run_id: str
    model: str  # catalog id
    spec: str  # backend spec that ran
    task: str
    benchmark: str
    metric: str
    value: float
    stderr: float | None = None
    n: int


class Recommendation(BaseModel):
    """The advisor's answer for one requirements file."""

    schema_version: int = RECOMMENDATION_SCHEMA_VERSION
    requirements: Requirements
    requirements_path: str | None = None
    created: dt.datetime
    catalog_models: int
    considered: int
    candidates: list[Candidate]  # ranked, best first
    excluded: list[Exclusion]
    pareto: list[str]  # model ids on the quality/cost/speed frontier
    sensitivity: list[Sensitivity]
    stable: bool  # no ±20% weight change alters the first choice
    summary: list[str]  # the explained answer, a sentence a line
    assumptions: list[str]
    measurements: list[Measurement] = Field(default_factory=list)
    sources: dict[str, Source] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict)

    @property
    def shortlist(self) -> list[Candidate]:
        return self.candidates[: self.requirements.shortlist]
