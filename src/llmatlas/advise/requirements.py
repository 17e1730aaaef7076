"""The requirements file: what the application needs, validated with pydantic.

A requirements file is YAML; every mistake is reported with its file, line and field (exit code 2),
the same way catalog and task files are. The fields follow the questions of choosing a model:
size and performance (``tasks``), cost and hosting (``workload``, ``budget_usd_per_month``,
``hosting``), customization (``fine_tuning``) and license (``commercial_use``), plus languages,
context and latency.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from llmatlas.catalog.schema import Kind
from llmatlas.core.errors import InputError
from llmatlas.core.validation import LineIndex, Problem, problems_of, validate_located
from llmatlas.core.yamlparse import dotted, parse_yaml, read_yaml_mapping

# Task categories a requirements file can weight, and the benchmarks that evidence each one
# (see advise/quality.py). ``long_documents`` is judged by context length, not by a benchmark.
TaskCategory = Literal[
    "reasoning",
    "knowledge",
    "math",
    "coding",
    "chat",
    "chinese",
    "medical",
    "classification",
    "long_documents",
]
Criterion = Literal["quality", "cost", "speed", "context", "languages"]
CRITERIA: tuple[Criterion, ...] = ("quality", "cost", "speed", "context", "languages")

PosFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Weight = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class _Strict(BaseModel):
    """Unknown keys are errors: a misspelt requirement must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class Workload(_Strict):
    """Traffic the application sends; tokens are per request."""

    requests_per_day: Annotated[PosFloat, Field(le=1e12, description="Up to a trillion requests a day.")]
    input_tokens: int = Field(ge=1)
    output_tokens: int = Field(ge=1, description="At least 1: a classifier's label is one token.")
    cached_input_tokens: int = Field(0, ge=0, description="Of the input, tokens an API can serve from its cache.")

    @model_validator(mode="after")
    def _cached_le_input(self) -> Workload:
        if self.cached_input_tokens > self.input_tokens:
            raise ValueError("cached_input_tokens cannot exceed input_tokens")
        return self

    @property
    def requests_per_month(self) -> float:
        return self.requests_per_day * 365 / 12


class HardwareSpec(_Strict):
    """Hardware for self-hosting: a named GPU (see ``llmatlas gpus``) and how many, or a memory size."""

    gpu: str | None = None
    count: int = Field(1, ge=1, le=64)
    memory: str | None = Field(None, description="Memory to fit in when no GPU is named, e.g. 24GB.")
    owned: bool = Field(False, description="Already paid for: no rental cost unless gpu_hour_usd is given.")
    gpu_hour_usd: float | None = Field(
        None, ge=0, le=1e6, allow_inf_nan=False, description="Your cost per GPU-hour (default: the table's)."
    )

    @field_validator("gpu", "memory")
    @classmethod
    def _known(cls, value: str | None, info: ValidationInfo) -> str | None:
        """A GPU the hardware table knows, a size that parses: the error then names this file and line."""
        if value is None:
            return value
        from llmatlas.estimate.hardware import get_hardware, parse_size

        try:
            (get_hardware if info.field_name == "gpu" else parse_size)(value)
        except InputError as exc:
            raise ValueError(exc.message) from None
        return value

    @model_validator(mode="after")
    def _one_of(self) -> HardwareSpec:
        if self.gpu is None and self.memory is None:
            raise ValueError("give 'gpu' (a name from `llmatlas gpus`) or 'memory' (e.g. 24GB)")
        if self.gpu is not None and self.memory is not None:
            raise ValueError("give either 'gpu' or 'memory', not both")
        return self


class Hosting(_Strict):
    mode: Literal["api", "self-host", "either"] = "either"
    hardware: HardwareSpec | None = Field(
        None, description="Fixed hardware; without it, self-hosting is costed on the cheapest rentable GPUs."
    )
    quantizations: list[str] = Field(
        default_factory=lambda: ["bf16", "Q8_0", "Q4_K_M"],
        min_length=1,
        description="Weight formats you accept for self-hosting, most precise first.",
    )
    utilization: float = Field(
        0.6, gt=0, le=1, description="Average load of self-hosted GPUs (capacity is left for peaks)."
    )
    max_gpus: int = Field(8, ge=1, le=64, description="Largest replica to consider when renting GPUs.")
    providers: list[str] | None = Field(
        None,
        description="API providers you accept (ids such as together, groq, amazon-bedrock, or a developer's "
        "own API such as openai); default: any.",
    )
    offer_quantizations: list[str] | None = Field(
        None,
        description="Number formats you accept from hosted providers (e.g. [bf16, fp8]); an offer whose format "
        "is undisclosed then does not qualify. Default: any.",
    )

    @field_validator("quantizations")
    @classmethod
    def _known_formats(cls, value: list[str]) -> list[str]:
        from llmatlas.estimate.quant import bits_per_weight

        for q in value:
            try:
                bits_per_weight(q)
            except InputError as exc:
                raise ValueError(exc.message) from None
        return value


class Latency(_Strict):
    """Targets for one request: end-to-end seconds, and/or output tokens per second."""

    max_seconds: PosFloat | None = None
    min_tokens_per_s: PosFloat | None = None


class Weights(_Strict):
    """How much each criterion counts in the ranking (normalized to sum 1)."""

    quality: Weight = 0.5
    cost: Weight = 0.3
    speed: Weight = 0.1
    context: Weight = 0.05
    languages: Weight = 0.05

    @model_validator(mode="after")
    def _some(self) -> Weights:
        if sum(self.as_dict().values()) <= 0:
            raise ValueError("at least one weight must be positive")
        return self

    def as_dict(self) -> dict[Criterion, float]:
        return {c: float(getattr(self, c)) for c in CRITERIA}


class Requirements(_Strict):
    """Everything the advisor needs to know about the application."""

    name: str = Field(min_length=1)
    use_case: str = Field(min_length=1, description="What the application does, in plain words.")
    tasks: dict[TaskCategory, Weight] = Field(min_length=1, description="Weight of each kind of work.")
    languages: list[str] = Field(default_factory=list, description="Languages users write in.")
    min_context: int | None = Field(None, ge=1, description="Tokens the model must accept at once.")
    workload: Workload
    budget_usd_per_month: float | None = Field(None, gt=0)
    hosting: Hosting = Field(default_factory=Hosting)
    commercial_use: bool = Field(True, description="The license must allow commercial use.")
    allow_conditional_license: bool = Field(
        True, description="Accept licenses with conditions (e.g. Llama 2's 700M-user clause); shown as warnings."
    )
    on_premises: bool = Field(False, description="Data must stay on your premises: open weights only.")
    data_regions: list[str] | None = Field(
        None,
        description="Where an API may process your data: regions or countries as providers state them "
        "(e.g. [eu] matches eu-central-1 and EU; [us-east-1]). An offer whose region is undisclosed does not qualify.",
    )
    fine_tuning: bool = Field(False, description="You need to fine-tune the model.")
    latency: Latency | None = None
    kinds: list[Kind] = Field(
        default_factory=lambda: list[Kind](["generative"]),
        min_length=1,
        description="Model kinds to consider; add 'encoder' for classification (BERT-like models).",
    )
    weights: Weights = Field(default_factory=Weights)
    models: list[str] | None = Field(None, description="Consider only these catalog ids.")
    exclude: list[str] = Field(default_factory=list, description="Never consider these catalog ids.")
    shortlist: int = Field(5, ge=1, le=50)
    as_of: dt.date | None = Field(
        None,
        description="Decide as on this date: prices, lifecycle and releases as they stood (default: today).",
    )

    @property
    def on(self) -> dt.date:
        """The decision date: ``as_of`` or today."""
        return self.as_of or dt.date.today()

    @model_validator(mode="after")
    def _consistent(self) -> Requirements:
        if sum(self.tasks.values()) <= 0:
            raise ValueError("at least one task weight must be positive")
        if self.on_premises and self.hosting.mode == "api":
            raise ValueError("on_premises needs hosting.mode 'self-host' or 'either' (an API sends data out)")
        return self

    @property
    def task_weights(self) -> dict[str, float]:
        total = sum(self.tasks.values())
        return {k: v / total for k, v in self.tasks.items() if v > 0}


def load_requirements(path: str | Path) -> Requirements:
    """Read and validate a requirements file; errors name the file, line and field."""
    p = Path(path)
    located = read_yaml_mapping(p, "requirements file", "name, use_case, tasks, workload, ...")
    return validate_located(Requirements, located.data, located, p)


class InvalidRequirements(InputError):
    """Requirements text with mistakes: every one, with its field and line (a form marks each)."""

    def __init__(self, problems: list[Problem], source: str) -> None:
        self.problems = problems
        first = problems[0]
        super().__init__(first.msg, path=source, line=first.line, field=dotted(first.loc) or None)


def parse_requirements(text: str, source: str = "requirements.yaml") -> Requirements:
    """Requirements from YAML text (an upload); :class:`InvalidRequirements` lists every mistake."""
    try:
        located = parse_yaml(text, source)
    except InputError as exc:
        raise InvalidRequirements([Problem((), exc.message, exc.line)], source) from None
    if not isinstance(located.data, dict):
        raise InvalidRequirements([Problem((), "a requirements file must be a YAML mapping", 1)], source)
    return checked_requirements(located.data, source, located)


def checked_requirements(data: Any, source: str = "requirements", lines: LineIndex | None = None) -> Requirements:
    """Requirements from parsed data (a form's JSON, a file's YAML); every mistake at once."""
    try:
        return Requirements.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequirements(problems_of(Requirements, exc, data, lines), source) from None


def requirements_yaml(req: Requirements) -> str:
    """The requirements as a file ``recommend`` reads back (fields left at their defaults omitted)."""
    data = req.model_dump(mode="json", exclude_defaults=True)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


# Requirements files packaged with llmatlas, usable by name (``recommend customer_support_chatbot``).
EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"


def example_names() -> list[str]:
    """The packaged examples' names, sorted."""
    return sorted(p.stem for p in EXAMPLES_DIR.glob("*.yaml"))


def resolve_requirements(path: str | Path) -> Path:
    """A requirements file, or the name of a packaged example (``customer_support_chatbot``)."""
    p = Path(path)
    if p.exists() or p.suffix:
        return p
    example = EXAMPLES_DIR / f"{p.name}.yaml"
    if example.exists():
        return example
    raise InputError(
        f"no requirements file '{p}' and no shipped example by that name; the examples: {', '.join(example_names())}",
        path=p,
    )
