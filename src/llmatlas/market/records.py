"""One record shape for every dataset, and the map from their provider ids to the catalog's.

Each reader turns its wire format into :class:`DatasetEntry` rows (prices per 1M tokens in USD,
limits in tokens); unknown values stay ``None``. A malformed file is one :class:`InputError`
naming the dataset and where in the document it broke, before anything is written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, PrivateAttr

DATASETS = ("genai-prices", "litellm", "models.dev", "openrouter")

# Dataset provider id -> the catalog's provider id (hosted offers) or developer id (a developer's
# own API). Providers absent here are reported as "not in the catalog", never guessed.
PROVIDER_IDS: dict[str, dict[str, str]] = {
    "genai-prices": {
        "anthropic": "anthropic",
        "openai": "openai",
        "google": "google",
        "deepseek": "deepseek",
        "mistral": "mistral",
        "x-ai": "xai",
        "cohere": "cohere",
        "moonshotai": "moonshot",
        "minimax": "minimax",
        "zhipuai": "zhipu",
        "together": "together",
        "fireworks": "fireworks",
        "groq": "groq",
        "cerebras": "cerebras",
        "aws": "amazon-bedrock",
        "azure": "azure",
        "novita": "novita",
        "openrouter": "openrouter",
    },
    "litellm": {
        "anthropic": "anthropic",
        "openai": "openai",
        "gemini": "google",
        "deepseek": "deepseek",
        "mistral": "mistral",
        "xai": "xai",
        "cohere_chat": "cohere",
        "moonshot": "moonshot",
        "together_ai": "together",
        "fireworks_ai": "fireworks",
        "groq": "groq",
        "cerebras": "cerebras",
        "deepinfra": "deepinfra",
        "bedrock": "amazon-bedrock",
        "bedrock_converse": "amazon-bedrock",
        "azure_ai": "azure",
        "vertex_ai-llama_models": "google-vertex",
        "vertex_ai-deepseek_models": "google-vertex",
        "vertex_ai-openai_models": "google-vertex",
        "vertex_ai-qwen_models": "google-vertex",
        "dashscope": "alibaba-cloud",
        "novita": "novita",
        "openrouter": "openrouter",
    },
    "models.dev": {
        "anthropic": "anthropic",
        "openai": "openai",
        "google": "google",
        "deepseek": "deepseek",
        "mistral": "mistral",
        "xai": "xai",
        "cohere": "cohere",
        "moonshotai": "moonshot",
        "zhipuai": "zhipu",
        "togetherai": "together",
        "fireworks-ai": "fireworks",
        "groq": "groq",
        "cerebras": "cerebras",
        "deepinfra": "deepinfra",
        "amazon-bedrock": "amazon-bedrock",
        "google-vertex": "google-vertex",
        "azure": "azure",
        "alibaba": "alibaba-cloud",
        "siliconflow": "siliconflow",
        "novita-ai": "novita",
        "openrouter": "openrouter",
    },
    "openrouter": {"openrouter": "openrouter"},
}


class DatasetEntry(BaseModel):
    """One provider-model row of a dataset, in the catalog's units."""

    model_config = ConfigDict(frozen=False)

    dataset: str
    provider: str  # the dataset's own provider id
    model_ref: str  # the dataset's model id at that provider
    name: str | None = None
    input_per_m: float | None = None
    output_per_m: float | None = None
    cached_input_per_m: float | None = None
    cache_write_per_m: float | None = None
    context_tokens: int | None = None
    max_output_tokens: int | None = None
    deprecated: bool | None = None
    deprecation_date: dt.date | None = None
    open_weights: bool | None = None
    hugging_face_id: str | None = None
    author: str | None = None  # the model's developer where the dataset says (OpenRouter's id prefix)
    url: str | None = None  # the dataset's link for this provider or model
    _matcher: Callable[[str], bool] | None = PrivateAttr(default=None)

    def matches(self, name: str) -> bool:
        """Whether the catalog's name for a model is this row (exact id, or the dataset's own rule)."""
        n = name.strip().lower()
        if n == self.model_ref.lower():
            return True
        return bool(self._matcher and self._matcher(n))


class Snapshot(BaseModel):
    """A whole dataset as read: where from, which version, when, and its rows."""

    dataset: str
    version: str  # package version, commit, or the read date of a fetched/online copy
    read_on: dt.date
    origin: str  # a file path, a URL, or "python package genai-prices"
    entries: list[DatasetEntry]
    skipped: int = 0  # rows that price nothing per token (images, audio) or are placeholders

    def our_provider(self, entry: DatasetEntry) -> str | None:
        return PROVIDER_IDS.get(self.dataset, {}).get(entry.provider)

    @property
    def label(self) -> str:
        return f"{self.dataset} {self.version}"
