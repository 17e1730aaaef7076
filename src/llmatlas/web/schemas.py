"""The JSON API's request and response models (they are the OpenAPI schema the pages use)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from llmatlas.arena.ratings import Rating

Evidence = Literal["measured", "reported"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelList(BaseModel):
    total: int  # models matching the filters (before ``limit``)
    models: list[dict[str, Any]]  # the flat catalog row of each model (see `llmatlas models --json`)


class BackendSpec(BaseModel):
    """A model the playground and arena can run. Never carries an API key."""

    spec: str
    label: str
    backend: str
    catalog_id: str | None = None


class GenerateRequest(_Strict):
    model: str = Field(min_length=1, max_length=500, description="A spec from GET /api/backends.")
    prompt: str = Field(min_length=1, max_length=20_000)
    max_tokens: int = Field(128, ge=1, le=2048)
    temperature: float = Field(0.0, ge=0, le=2)
    system: str | None = Field(None, max_length=5_000)


class GenerateResult(BaseModel):
    model: str
    text: str
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_s: float | None = None
    ttft_s: float | None = None
    output_tokens_per_s: float | None = None
    cost_usd: float | None = None
    cost_note: str | None = None
    error: str | None = None


class BattleRequest(_Strict):
    prompt: str = Field(min_length=1, max_length=20_000)
    max_tokens: int = Field(128, ge=1, le=1024)


class BattleView(BaseModel):
    """A battle as the voter sees it: the answers, not who wrote them (until the vote)."""

    id: str
    prompt: str
    answer_a: str
    answer_b: str


class VoteRequest(_Strict):
    winner: Literal["a", "b", "tie", "both_bad"]


class VoteResult(BaseModel):
    id: str
    winner: str
    model_a: str
    model_b: str


class Score(BaseModel):
    """One model's score on one task, with where it comes from."""

    model: str
    task: str
    metric: str
    value: float  # 0–100 (MT-Bench 0–10)
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None
    evidence: Evidence
    source: str  # run id, or the catalog source URL
    shots: int | None = None


class OverallRow(BaseModel):
    model: str
    value: float  # mean over the tasks the model has, 0–100
    tasks: int
    evidence: Evidence


class ParetoPoint(BaseModel):
    model: str
    quality: float  # reported MMLU (or measured)
    blended_usd_per_m: float
    evidence: Evidence
    frontier: bool


class ArenaBoard(BaseModel):
    ratings: list[Rating]
    votes: int
    rounds: int


class Leaderboard(BaseModel):
    tasks: dict[str, list[Score]]
    overall: list[OverallRow]
    pareto: list[ParetoPoint]
    arena: ArenaBoard
