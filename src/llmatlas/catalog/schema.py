"""Pydantic schema of the model catalog.

Every fact lives in a *sourced block*: a small group of related facts (the architecture, one price
entry, one benchmark score, ...) carrying ``source`` (a URL, a document, or the id of a reference
declared at the top of the developer file) and ``as_of`` (the date the fact was read or published).
Unknown values stay ``None`` and are rendered as "undisclosed" — never 0, never guessed.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

UNDISCLOSED = "undisclosed"

Currency = Literal["USD", "CNY"]
Access = Literal["api", "open_weights", "chat_product"]
Kind = Literal["generative", "encoder", "embedding"]
CommercialUse = Literal["yes", "no", "conditional"]
Benchmark = Literal[
    "mmlu",
    "hellaswag",
    "arc_challenge",
    "arc_easy",
    "truthfulqa",
    "humaneval",
    "gsm8k",
    "mt_bench",
    "ceval",
    "cmmlu",
    "winogrande",
    "math",
    "medqa",  # MedQA (USMLE), 4-option unless the score's note/metric says otherwise
    "glue",  # GLUE average score
    # Benchmarks of the 2024-2026 models (see docs/advisor.md for the task category of each).
    "mmlu_pro",  # MMLU-Pro (10 options)
    "gpqa_diamond",  # GPQA Diamond subset
    "livecodebench",  # LiveCodeBench; the note names the problem window (e.g. 2024-08..2025-01)
    "swe_bench_verified",  # SWE-bench Verified, % resolved
    "aime_2024",
    "aime_2025",
    "math_500",
    "ifeval",  # IFEval; metric says which accuracy (prompt strict, instruction loose, ...)
    "chatbot_arena",  # LMArena (Chatbot Arena) text rating, Elo scale; as_of is the leaderboard date
]

# Scores are percentages, except these scales.
BENCHMARK_UPPER: dict[str, float] = {"mt_bench": 10.0, "chatbot_arena": 3000.0}
LifecycleStatus = Literal["active", "preview", "deprecated", "retired"]

NonNegFloat = Annotated[float, Field(ge=0)]
PosInt = Annotated[int, Field(gt=0)]


# Where the public price datasets live: a reference to one of these is a dataset copy.
DATASET_URLS: dict[str, str] = {
    "github.com/anomalyco/models.dev": "models.dev",
    "github.com/sst/models.dev": "models.dev",
    "models.dev/api.json": "models.dev",
    "github.com/pydantic/genai-prices": "genai-prices",
    "github.com/berriai/litellm/blob/main/model_prices": "litellm",
    "openrouter.ai/api/v1/models": "openrouter",
}


class _Strict(BaseModel):
    """Unknown keys are errors: a typo in a catalog file must not silently drop a fact."""

    model_config = ConfigDict(extra="forbid", frozen=False)


class Reference(_Strict):
    """A document that facts cite; declared once per developer file and referred to by id.

    ``secondary`` marks a third-party copy or quotation (not the developer's own page, paper, model
    card or config): the facts citing it are shown as such.
    """

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    title: str
    url: str | None = None
    as_of: dt.date
    secondary: bool = False
    # A well-kept public dataset (genai-prices, LiteLLM's map, models.dev, OpenRouter) rather than a
    # provider's own page: "genai-prices 0.2.3". Facts citing it are labelled "dataset" everywhere.
    dataset: str | None = None
    note: str | None = None  # e.g. "as_of is the date the stored copy was read"

    @model_validator(mode="after")
    def _dataset_from_url(self) -> Reference:
        """A copy of a public dataset's data (its repository or API) is dataset evidence, whoever cited it."""
        if self.dataset is None and self.url:
            low = self.url.lower()
            name = next((n for marker, n in DATASET_URLS.items() if marker in low), None)
            if name is not None:
                self.dataset, self.secondary = name, True
        return self


class Sourced(_Strict):
    """Base of every block of facts: where the facts come from and when they were true."""

    source: str = Field(min_length=1)
    as_of: dt.date | None = None  # filled from the reference when ``source`` names one
    note: str | None = None


class Parameters(Sourced):
    """Parameter counts in billions; ``None`` means the developer has not disclosed them."""

    total_b: NonNegFloat | None = None
    active_b: NonNegFloat | None = None  # MoE: parameters used per token

    @model_validator(mode="after")
    def _active_le_total(self) -> Parameters:
        if self.total_b is not None and self.active_b is not None and self.active_b > self.total_b:
            raise ValueError("active_b cannot exceed total_b")
        return self


class Architecture(Sourced):
    """Shape of the network as published in the model's config file or paper."""

    type: Literal["decoder", "encoder", "encoder-decoder"] = "decoder"
    layers: PosInt | None = None
    hidden_size: PosInt | None = None
    intermediate_size: PosInt | None = None
    attention_heads: PosInt | None = None
    kv_heads: PosInt | None = None
    head_dim: PosInt | None = None
    vocab_size: PosInt | None = None
    max_position_embeddings: PosInt | None = None
    sliding_window: PosInt | None = None
    # Every Nth layer attends globally, the others use the sliding window (Gemma 3: 6).
    # None with a sliding_window set means every layer is windowed (Mistral 7B v0.1).
    sliding_window_pattern: PosInt | None = None
    experts: PosInt | None = None  # routed experts per MoE layer
    active_experts: PosInt | None = None  # routed experts chosen per token
    shared_experts: Annotated[int, Field(ge=0)] | None = None  # always-on experts (DeepSeek, Qwen2-MoE, Llama 4)
    moe_intermediate_size: PosInt | None = None  # FFN width of one expert
    dense_layers: Annotated[int, Field(ge=0)] | None = None  # leading dense layers of an MoE (first_k_dense_replace)
    # Multi-head latent attention (DeepSeek-V2/V3, Kimi K2): the cache holds one compressed latent of
    # kv_lora_rank elements plus a shared RoPE key of qk_rope_head_dim elements per token and layer.
    kv_lora_rank: PosInt | None = None
    qk_rope_head_dim: PosInt | None = None
    position_encoding: Literal["rope", "alibi", "learned", "relative", "none"] | None = None
    norm: str | None = None
    activation: str | None = None
    tied_embeddings: bool | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Architecture:
        if self.kv_heads and self.attention_heads and self.attention_heads % self.kv_heads:
            raise ValueError("attention_heads must be a multiple of kv_heads")
        if self.active_experts and self.experts and self.active_experts > self.experts:
            raise ValueError("active_experts cannot exceed experts")
        return self

    @property
    def mla(self) -> bool:
        """Multi-head latent attention: the KV cache is the compressed latent, not K and V per head."""
        return self.kv_lora_rank is not None

    @property
    def resolved_head_dim(self) -> int | None:
        """head_dim if given, else hidden_size / attention_heads (the usual convention)."""
        if self.head_dim:
            return self.head_dim
        if self.hidden_size and self.attention_heads:
            return self.hidden_size // self.attention_heads
        return None

    @property
    def resolved_kv_heads(self) -> int | None:
        """kv_heads if given; plain multi-head attention otherwise."""
        return self.kv_heads or self.attention_heads


class Context(Sourced):
    tokens: PosInt | None = None
    max_output_tokens: PosInt | None = None


_ALLOWED_BUT = re.compile(r"commercial use (?:is )?allowed,?\s+but\s+", re.IGNORECASE)


class License(Sourced):
    name: str
    url: str | None = None
    commercial_use: CommercialUse | None = None
    condition: str | None = None

    def terms(self) -> str:
        """The license's commercial terms as one sentence, its condition quoted as the catalog states it:
        "Meta Llama 3 Community License: commercial use is allowed with conditions — products with …"."""
        what = {
            "yes": "commercial use is allowed",
            "no": "commercial use is not allowed",
            "conditional": "commercial use is allowed with conditions",
            None: "commercial use is not stated",
        }[self.commercial_use]
        condition = (self.condition or "").strip().rstrip(".")
        lead = _ALLOWED_BUT.match(condition) if self.commercial_use == "conditional" else None
        if lead and condition[lead.end() :]:  # "Commercial use allowed, but …" says it already
            return f"{self.name}: commercial use is allowed, but {condition[lead.end() :]}"
        return f"{self.name}: {what}" + (f" — {condition}" if condition else "")

    @model_validator(mode="after")
    def _condition_for_conditional(self) -> License:
        if self.commercial_use == "conditional" and not self.condition:
            raise ValueError("commercial_use 'conditional' needs a 'condition'")
        return self


class AccessInfo(Sourced):
    modes: list[Access] = Field(min_length=1)
    self_hostable: bool | None = None


class Price(Sourced):
    """One price entry, per 1M tokens. History is kept: older entries carry ``effective_to``.

    A long-context tier is an entry with ``prompt_tokens_above``: it applies to a request whose
    prompt is longer than that (Gemini 2.5 Pro above 200K, Claude Sonnet 4 above 200K...). Cache
    reads, cache writes and the batch API have their own prices where the developer lists them.
    """

    currency: Currency = "USD"
    input_per_m: NonNegFloat | None = None
    output_per_m: NonNegFloat | None = None
    cached_input_per_m: NonNegFloat | None = None  # cache hit / cache read
    cache_write_per_m: NonNegFloat | None = None  # writing the prompt cache (Anthropic: 5-minute TTL)
    batch_input_per_m: NonNegFloat | None = None  # asynchronous batch API
    batch_output_per_m: NonNegFloat | None = None
    prompt_tokens_above: Annotated[int, Field(ge=0)] | None = None
    effective_from: dt.date | None = None
    effective_to: dt.date | None = None
    tier: str | None = None  # a label, e.g. ">200K prompt" or the snapshot the price was for

    @model_validator(mode="after")
    def _dates(self) -> Price:
        if self.effective_from and self.effective_to and self.effective_to < self.effective_from:
            raise ValueError("effective_to is before effective_from")
        if self.input_per_m is None and self.output_per_m is None:
            raise ValueError("a price entry needs input_per_m or output_per_m")
        return self


def price_in_force(
    pricing: list[Price], on: dt.date | None = None, prompt_tokens: int | None = None, *, known_from_as_of: bool = False
) -> Price | None:
    """The entry in force on ``on`` (today by default) for a prompt of ``prompt_tokens``.

    Of the entries in force, a long-context tier (``prompt_tokens_above``) applies only to a
    longer prompt; the highest tier that applies wins, then the latest entry. With
    ``known_from_as_of`` an entry without ``effective_from`` counts only from the date it was read
    (a hosted provider's price seen in 2026 says nothing of what it charged in 2024).
    """
    when = on or dt.date.today()

    def start(p: Price) -> dt.date | None:
        return p.effective_from or (p.as_of if known_from_as_of else None)

    live = [
        p
        for p in pricing
        if ((s := start(p)) is None or s <= when)
        and (p.effective_to is None or p.effective_to > when)
        and (p.prompt_tokens_above is None or (prompt_tokens is not None and prompt_tokens > p.prompt_tokens_above))
    ]
    if not live:
        return None
    return max(live, key=lambda p: (p.prompt_tokens_above or -1, p.effective_from or dt.date.min))


class Languages(Sourced):
    names: list[str] = Field(default_factory=list)
    chinese: bool | None = None
    multilingual: bool | None = None


class Modalities(Sourced):
    input: list[str] = Field(default_factory=lambda: ["text"])
    output: list[str] = Field(default_factory=lambda: ["text"])


class FineTuning(Sourced):
    available: bool | None = None
    methods: list[str] = Field(default_factory=list)  # "api", "full", "lora", ...


class DateFact(Sourced):
    """A date that may be known to the month only ("2023-09")."""

    date: str | None = Field(default=None, pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$")


class BenchmarkScore(Sourced):
    """A score reported by someone other than llmatlas; ``shots`` and ``method`` say how."""

    benchmark: Benchmark
    value: float
    shots: int | None = Field(default=None, ge=0)
    metric: str | None = None  # "acc", "pass@1", "score/10", ...
    method: str | None = None  # "CoT", "maj@1", "chat", ...
    reported_by: str | None = None

    @model_validator(mode="after")
    def _range(self) -> BenchmarkScore:
        upper = BENCHMARK_UPPER.get(self.benchmark, 100.0)
        if not 0.0 <= self.value <= upper:
            raise ValueError(f"{self.benchmark} score must be within 0..{upper:g}")
        return self


class Quantization(Sourced):
    """A published build (GGUF, GPTQ, AWQ, the developer's native FP8/MXFP4 checkpoint...).

    ``parts`` splits the weights by storage type, in billions of parameters, when the build mixes
    types (gpt-oss: MoE experts in MXFP4, the rest in BF16); the memory estimator then sums the parts.
    """

    name: str  # "Q4_K_M", "int4-awq", "mxfp4", ...
    bits_per_weight: NonNegFloat | None = None
    file_bytes: int | None = Field(default=None, ge=0)
    url: str | None = None
    native: bool = False  # the format the developer released the weights in
    parts: dict[str, NonNegFloat] = Field(default_factory=dict)  # storage type -> billions of parameters


class Lifecycle(Sourced):
    """Whether the developer's hosted API for the model answers, and until when.

    Released weights never retire (they stay runnable); for an open-weight model this block is
    about the developer's own API endpoint. ``status`` is as of ``as_of``; ``announced`` is when
    the deprecation was announced and ``shutdown`` when the API stops (or stopped) answering.
    A missing block or ``status: null`` is undisclosed, never assumed active.
    """

    status: LifecycleStatus | None = None
    announced: dt.date | None = None
    shutdown: dt.date | None = None
    replacement: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9._-]*$")

    @model_validator(mode="after")
    def _dates(self) -> Lifecycle:
        if self.announced and self.shutdown and self.shutdown < self.announced:
            raise ValueError("shutdown is before announced")
        if self.status == "active" and self.shutdown is not None:
            raise ValueError("an active model with a shutdown date is 'deprecated'")
        return self


class Model(_Strict):
    """One model or one variant of a model (a size, a chat tune): the unit the CLI names."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    name: str
    developer: str = ""  # filled from the developer file
    family: str
    kind: Kind = "generative"
    variant_of: str | None = None
    description: str | None = None
    release: DateFact | None = None
    knowledge_cutoff: DateFact | None = None
    parameters: Parameters | None = None
    architecture: Architecture | None = None
    context: Context | None = None
    license: License | None = None
    access: AccessInfo | None = None
    pricing: list[Price] = Field(default_factory=list)
    modalities: Modalities | None = None
    languages: Languages | None = None
    fine_tuning: FineTuning | None = None
    benchmarks: list[BenchmarkScore] = Field(default_factory=list)
    quantizations: list[Quantization] = Field(default_factory=list)
    lifecycle: Lifecycle | None = None
    aliases: list[str] = Field(default_factory=list)
    origin: str | None = None  # file the entry was read from (set by the loader)

    def current_price(self, on: dt.date | None = None, prompt_tokens: int | None = None) -> Price | None:
        """The developer's own API price in force on ``on`` for a prompt of ``prompt_tokens``."""
        return price_in_force(self.pricing, on, prompt_tokens)

    def released_on(self) -> dt.date | None:
        """The release date (a month-only date counts from the month's first day)."""
        if not self.release or not self.release.date:
            return None
        parts = [int(x) for x in self.release.date.split("-")] + [1, 1]
        return dt.date(parts[0], parts[1], parts[2])

    @property
    def total_params_b(self) -> float | None:
        return self.parameters.total_b if self.parameters else None

    @property
    def active_params_b(self) -> float | None:
        if not self.parameters:
            return None
        return self.parameters.active_b or self.parameters.total_b

    @property
    def context_tokens(self) -> int | None:
        if self.context and self.context.tokens:
            return self.context.tokens
        return None

    def benchmark(self, name: str) -> BenchmarkScore | None:
        """The first reported score for ``name`` (files list the preferred, most standard one first)."""
        for b in self.benchmarks:
            if b.benchmark == name:
                return b
        return None


class OfferQuantization(Sourced):
    """The number format a provider serves the weights in, when it says (fp8, fp16, int4, ...)."""

    name: str = Field(min_length=1)


class Regions(Sourced):
    """Where a provider serves an offer (cloud regions or countries), as the provider states it."""

    names: list[str] = Field(min_length=1)


class OfferSpeed(Sourced):
    """Throughput and time to first token as the provider publishes them (reported, not measured)."""

    output_tokens_per_s: Annotated[float, Field(gt=0)] | None = None
    ttft_s: NonNegFloat | None = None

    @model_validator(mode="after")
    def _some(self) -> OfferSpeed:
        if self.output_tokens_per_s is None and self.ttft_s is None:
            raise ValueError("a speed block needs output_tokens_per_s or ttft_s")
        return self


class Offer(Sourced):
    """One way to call a model through an API: who serves it, under which id, at what price.

    The developer's own API is the *first-party* offer (built from the model's ``pricing`` and
    ``lifecycle``); hosted providers of open weights (Together, Groq, Bedrock, ...) are offers
    declared in ``catalog/data/offers/<provider>.yaml``, each with its own prices, limits,
    quantization, regions, lifecycle and published speed.
    """

    model: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    provider: str = ""  # filled from the file's provider when it declares one
    provider_model_id: str | None = None
    first_party: bool = False
    pricing: list[Price] = Field(default_factory=list)
    context: Context | None = None
    quantization: OfferQuantization | None = None
    regions: Regions | None = None
    lifecycle: Lifecycle | None = None
    speed: OfferSpeed | None = None
    origin: str | None = None  # file the offer was read from (set by the loader)

    def current_price(self, on: dt.date | None = None, prompt_tokens: int | None = None) -> Price | None:
        """The offer's price in force; a hosted price without ``effective_from`` counts from its ``as_of``."""
        return price_in_force(self.pricing, on, prompt_tokens, known_from_as_of=not self.first_party)

    @property
    def key(self) -> tuple[str, str, str]:
        """(model, provider, provider's model id): a later file with the same key replaces the offer."""
        return (self.model, self.provider, (self.provider_model_id or "").lower())


class Provider(_Strict):
    """A company that serves models through an API (a developer's own API counts too)."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    name: str
    url: str | None = None
    country: str | None = None
    openai_base_url: str | None = None  # OpenAI-compatible endpoint, for `eval --model openai:...?base_url=`
    api_key_env: str | None = Field(default=None, pattern=r"^[A-Z][A-Z0-9_]*$")  # default: <ID>_API_KEY

    @property
    def key_env(self) -> str:
        """The environment variable that holds the user's key for this provider."""
        return self.api_key_env or self.id.upper().replace("-", "_").replace(".", "_") + "_API_KEY"

    source: str | None = None
    note: str | None = None


class Developer(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    name: str
    country: str | None = None
    url: str | None = None


class ExchangeRate(Sourced):
    """Rate used to show CNY prices in USD; itself a sourced, dated fact."""

    currency: Currency
    usd_per_unit: float = Field(gt=0)


class CatalogFile(_Strict):
    """The layout of one YAML file under ``catalog/data`` or a user catalog directory."""

    developer: Developer
    references: list[Reference] = Field(default_factory=list)
    exchange_rates: list[ExchangeRate] = Field(default_factory=list)
    models: list[dict[str, Any]] = Field(default_factory=list)


class OfferFile(_Strict):
    """The layout of an offers file: one provider (or several, for a dataset overlay) and its offers."""

    provider: Provider | None = None
    providers: list[Provider] = Field(default_factory=list)
    references: list[Reference] = Field(default_factory=list)
    exchange_rates: list[ExchangeRate] = Field(default_factory=list)
    offers: list[dict[str, Any]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_provider_at_least(self) -> OfferFile:
        if self.provider is None and not self.providers:
            raise ValueError("an offers file needs 'provider' (or 'providers')")
        return self

    def all_providers(self) -> list[Provider]:
        return ([self.provider] if self.provider else []) + self.providers
