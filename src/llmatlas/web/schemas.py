"""The JSON API's request and response models (they are the OpenAPI schema the pages use).

The answers the library computes keep the library's own models (``llmatlas.api``: FitResult,
CostEstimate, Leaderboard…); these are the web's own requests and views.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from llmatlas.engine.results import Output


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
    demo: bool = False  # a mock model (``serve --demo``): canned answers, not a language model


class EndpointsInfo(BaseModel):
    """How to add a model: the endpoints file (name → SPEC, the key's environment variable)."""

    file: str
    configured: list[str]  # endpoint names served now
    example: str
    demo: bool  # mock models are served too


class GenerateRequest(_Strict):
    model: str = Field(min_length=1, max_length=500, description="A spec from GET /api/backends.")
    prompt: str = Field(min_length=1, max_length=20_000)
    max_tokens: int = Field(128, ge=1, le=2048)
    temperature: float = Field(0.0, ge=0, le=2)
    system: str | None = Field(None, max_length=5_000)


class GenerateResult(Output):
    """A playground answer: the figures a run journals per output, the model, and why no cost if none."""

    model: str
    cost_note: str | None = None


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
