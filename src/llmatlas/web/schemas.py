"""The JSON API's request and response models (they are the OpenAPI schema the pages use).

The answers the library computes keep the library's own models (``llmatlas.api``: FitResult,
CostEstimate, Leaderboard…); these are the web's own requests and views.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from llmatlas.advise.requirements import Requirements
from llmatlas.advise.schema import Recommendation
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


# ------------------------------------------------------------------ advisor


class ExampleInfo(BaseModel):
    """A shipped requirements file: its name (for ``recommend NAME``), title, use case and text."""

    name: str
    title: str
    use_case: str
    yaml: str
    requirements: Requirements


class AdviceRequest(_Strict):
    """Requirements, in exactly one of three ways: a shipped example, a file's text, the form."""

    example: str | None = Field(None, max_length=100, description="A shipped example's name.")
    yaml: str | None = Field(None, max_length=200_000, description="A requirements file's text.")
    filename: str | None = Field(None, max_length=200, description="The uploaded file's name, for errors.")
    requirements: Requirements | None = Field(None, description="The requirements as JSON (the form).")

    @model_validator(mode="after")
    def _one(self) -> AdviceRequest:
        given = [k for k in ("example", "yaml", "requirements") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of example, yaml or requirements")
        return self


class CheckRequest(_Strict):
    """Requirements to check before ranking: a file's text, or the form's fields as JSON."""

    yaml: str | None = Field(None, max_length=200_000)
    filename: str | None = Field(None, max_length=200)
    requirements: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one(self) -> CheckRequest:
        if (self.yaml is None) == (self.requirements is None):
            raise ValueError("give exactly one of yaml or requirements")
        return self


class FieldProblem(BaseModel):
    loc: list[str | int]  # the field inside the requirements ([] for the whole file)
    msg: str
    line: int | None = None  # the file's line, for an upload


class CheckResult(BaseModel):
    """Valid requirements (to rank with), or every mistake with its field and line."""

    ok: bool
    problems: list[FieldProblem]
    requirements: Requirements | None = None


class ChartView(BaseModel):
    """One of the report's charts, as an image URL (an SVG inside a data: URL)."""

    key: str
    title: str
    caption: str
    image: str


class MeasurePlan(BaseModel):
    """What "measure the shortlist" would run here, and which models it cannot reach (and why)."""

    runs: list[dict[str, str]]  # {model, spec, task}
    skipped: list[str]


class AdviceView(BaseModel):
    """A recommendation as the advisor page shows it: the answer, its charts, its downloads."""

    id: str
    recommendation: Recommendation
    requirements_yaml: str
    charts: list[ChartView]
    downloads: dict[str, str]  # html, md, json, requirements -> URL
    measure: MeasurePlan
    filter_names: dict[str, str]  # an exclusion's filter key -> its name in words


class MeasureRequest(_Strict):
    limit: int = Field(20, ge=1, le=2000, description="Items per task and model (the first N).")
