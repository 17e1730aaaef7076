"""Readers of the four datasets' wire formats, each into :class:`Snapshot` rows.

* genai-prices: the pinned Python package's data (``genai_prices.data.providers``); prices per
  1M tokens as ``Decimal`` or tiered (the base tier is the standard price).
* LiteLLM: ``model_prices_and_context_window.json``, a map of ``provider/model`` keys to USD *per
  token* costs (``sample_spec`` documents the shape and is skipped). Its Python package is never
  imported: it fetches at import time and had compromised releases.
* models.dev: ``api.json``, provider id → ``{models: {id → {cost: {input, output, cache_read,
  cache_write} per 1M, limit: {context, output}, open_weights, status}}}``.
* OpenRouter: ``GET /api/v1/models`` → ``{"data": [{id, hugging_face_id, name, context_length,
  pricing: {prompt, completion, input_cache_read, input_cache_write} as decimal strings per token,
  top_provider: {max_completion_tokens}, expiration_date}]}``.

Every reader validates the document and raises one :class:`InputError` that names the dataset and
the place (``data[12].pricing.prompt``) where it is malformed: nothing is half-read.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llmatlas.core.errors import InputError
from llmatlas.market.records import DatasetEntry, Snapshot

PER_TOKEN_TO_PER_M = 1_000_000


def parse_json(raw: bytes | str | dict[str, Any], dataset: str, origin: str) -> Any:
    """JSON or one clear error: a truncated download says where it stops (parsed data passes)."""
    if isinstance(raw, dict):
        return raw
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise InputError(
            f"{dataset}: not valid JSON{where}: {exc.msg if isinstance(exc, json.JSONDecodeError) else exc} "
            "(truncated download or not this dataset's format)",
            path=origin,
        ) from None


def _invalid(dataset: str, origin: str, exc: ValidationError, prefix: str = "") -> InputError:
    err = exc.errors()[0]
    loc = prefix + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
    return InputError(f"{dataset}: malformed entry at {loc.lstrip('.')}: {err['msg']}", path=origin)


def _money(value: Any) -> float | None:
    """A price as the dataset writes it (number, decimal string, Decimal); negative or NaN is no price."""
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) and v >= 0 else None


def _per_m(per_token: Any) -> float | None:
    v = _money(per_token)
    return None if v is None else round(v * PER_TOKEN_TO_PER_M, 6)


# --------------------------------------------------------------------------- genai-prices


def read_genai_prices(on: dt.date | None = None) -> Snapshot:
    """The installed, pinned ``genai-prices`` package (extra ``datasets``)."""
    try:
        import genai_prices
        from genai_prices import data
        from genai_prices.types import TieredPrices
    except ImportError:
        raise InputError(
            "genai-prices is not installed: pip install 'llmatlas[datasets]' (it pins the version the tests check)"
        ) from None
    when = on or dt.date.today()
    stamp = dt.datetime.combine(when, dt.time(12, tzinfo=dt.UTC))

    def num(v: Any) -> float | None:
        if isinstance(v, TieredPrices):
            v = v.base
        return float(v) if isinstance(v, Decimal | int | float) else None

    entries: list[DatasetEntry] = []
    skipped = 0
    for prov in data.providers:
        url = prov.pricing_urls[0] if prov.pricing_urls else None
        for m in prov.models:
            price = m.get_prices(stamp)
            inp, out = num(getattr(price, "input_mtok", None)), num(getattr(price, "output_mtok", None))
            if inp is None and out is None:
                skipped += 1  # priced per character, image or request: not a token price
                continue
            entry = DatasetEntry(
                dataset="genai-prices",
                provider=prov.id,
                model_ref=m.id,
                name=m.name,
                input_per_m=inp,
                output_per_m=out,
                cached_input_per_m=num(getattr(price, "cache_read_mtok", None)),
                cache_write_per_m=num(getattr(price, "cache_write_mtok", None)),
                context_tokens=m.context_window,
                deprecated=m.deprecated,
                url=url,
            )
            entry._matcher = _genai_matcher(m)
            entries.append(entry)
    return Snapshot(
        dataset="genai-prices",
        version=genai_prices.__version__,
        read_on=when,
        origin="python package genai-prices",
        entries=entries,
        skipped=skipped,
    )


def _genai_matcher(model: Any) -> Callable[[str], bool]:
    def match(name: str) -> bool:
        try:
            return bool(model.is_match(name))
        except Exception:
            return False

    return match


# --------------------------------------------------------------------------- LiteLLM


class _LiteLLMRow(BaseModel):
    model_config = ConfigDict(extra="allow")

    litellm_provider: str | None = None
    mode: str | None = None
    input_cost_per_token: float | None = None
    output_cost_per_token: float | None = None
    cache_read_input_token_cost: float | None = None
    cache_creation_input_token_cost: float | None = None
    max_input_tokens: float | None = None
    max_output_tokens: float | None = None
    max_tokens: float | None = None
    deprecation_date: str | None = None


def read_litellm(raw: bytes | str | dict[str, Any], origin: str, version: str) -> Snapshot:
    doc = parse_json(raw, "litellm", origin)
    if not isinstance(doc, dict):
        raise InputError("litellm: the price map must be a JSON object of model keys", path=origin)
    entries: list[DatasetEntry] = []
    skipped = 0
    for key, value in doc.items():
        if key == "sample_spec":
            continue
        if not isinstance(value, dict):
            raise InputError(f"litellm: malformed entry at {key}: not an object", path=origin)
        try:
            row = _LiteLLMRow.model_validate(value)
        except ValidationError as exc:
            raise _invalid("litellm", origin, exc, key) from None
        if row.mode not in (None, "chat", "completion", "responses") or row.litellm_provider is None:
            skipped += 1
            continue
        prov = row.litellm_provider
        ref = key[len(prov) + 1 :] if key.startswith(prov + "/") else key
        deprecation = None
        if row.deprecation_date:
            try:
                deprecation = dt.date.fromisoformat(row.deprecation_date[:10])
            except ValueError:
                deprecation = None
        entries.append(
            DatasetEntry(
                dataset="litellm",
                provider=prov,
                model_ref=ref,
                input_per_m=_per_m(row.input_cost_per_token),
                output_per_m=_per_m(row.output_cost_per_token),
                cached_input_per_m=_per_m(row.cache_read_input_token_cost),
                cache_write_per_m=_per_m(row.cache_creation_input_token_cost),
                context_tokens=int(row.max_input_tokens) if row.max_input_tokens else None,
                max_output_tokens=int(row.max_output_tokens) if row.max_output_tokens else None,
                deprecation_date=deprecation,
                deprecated=True if deprecation and deprecation <= dt.date.today() else None,
            )
        )
    return Snapshot(
        dataset="litellm", version=version, read_on=dt.date.today(), origin=origin, entries=entries, skipped=skipped
    )


# --------------------------------------------------------------------------- models.dev


class _MDCost(BaseModel):
    model_config = ConfigDict(extra="allow")
    input: float | None = None
    output: float | None = None
    cache_read: float | None = None
    cache_write: float | None = None


class _MDLimit(BaseModel):
    model_config = ConfigDict(extra="allow")
    context: float | None = None
    output: float | None = None


class _MDModel(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    name: str | None = None
    open_weights: bool | None = None
    status: str | None = None
    cost: _MDCost | None = None
    limit: _MDLimit | None = None


class _MDProvider(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    name: str | None = None
    doc: str | None = None
    models: dict[str, _MDModel] = Field(default_factory=dict)


def read_models_dev(raw: bytes | str | dict[str, Any], origin: str, version: str) -> Snapshot:
    doc = parse_json(raw, "models.dev", origin)
    if not isinstance(doc, dict):
        raise InputError("models.dev: api.json must be a JSON object of providers", path=origin)
    entries: list[DatasetEntry] = []
    skipped = 0
    for pid, value in doc.items():
        try:
            prov = _MDProvider.model_validate(value)
        except ValidationError as exc:
            raise _invalid("models.dev", origin, exc, pid) from None
        for m in prov.models.values():
            if m.cost is None or (m.cost.input is None and m.cost.output is None):
                skipped += 1
                continue
            entries.append(
                DatasetEntry(
                    dataset="models.dev",
                    provider=pid,
                    model_ref=m.id,
                    name=m.name,
                    input_per_m=_money(m.cost.input),
                    output_per_m=_money(m.cost.output),
                    cached_input_per_m=_money(m.cost.cache_read),
                    cache_write_per_m=_money(m.cost.cache_write),
                    context_tokens=int(m.limit.context) if m.limit and m.limit.context else None,
                    max_output_tokens=int(m.limit.output) if m.limit and m.limit.output else None,
                    deprecated=True if m.status == "deprecated" else None,
                    open_weights=m.open_weights,
                    url=prov.doc,
                )
            )
    return Snapshot(
        dataset="models.dev", version=version, read_on=dt.date.today(), origin=origin, entries=entries, skipped=skipped
    )


# --------------------------------------------------------------------------- OpenRouter


class _ORPricing(BaseModel):
    model_config = ConfigDict(extra="allow")
    prompt: str | float
    completion: str | float
    input_cache_read: str | float | None = None
    input_cache_write: str | float | None = None


class _ORTop(BaseModel):
    model_config = ConfigDict(extra="allow")
    context_length: int | None = None
    max_completion_tokens: int | None = None


class _ORModel(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str = Field(min_length=1)
    name: str | None = None
    hugging_face_id: str | None = None
    context_length: int | None = None
    pricing: _ORPricing
    top_provider: _ORTop | None = None
    expiration_date: str | None = None


class _ORList(BaseModel):
    model_config = ConfigDict(extra="allow")
    data: list[_ORModel]


def read_openrouter(raw: bytes | str | dict[str, Any], origin: str, version: str) -> Snapshot:
    doc = parse_json(raw, "openrouter", origin)
    try:
        listing = _ORList.model_validate(doc)
    except ValidationError as exc:
        raise _invalid("openrouter", origin, exc) from None
    entries: list[DatasetEntry] = []
    skipped = 0
    for m in listing.data:
        inp, out = _per_m(m.pricing.prompt), _per_m(m.pricing.completion)
        if inp is None or out is None or m.id.endswith(":free") or "/" not in m.id:
            skipped += 1  # routers price "-1"; ":free" variants are rate-limited promotions
            continue
        expiry = None
        if m.expiration_date:
            try:
                expiry = dt.date.fromisoformat(m.expiration_date[:10])
            except ValueError:
                expiry = None
        entries.append(
            DatasetEntry(
                dataset="openrouter",
                provider="openrouter",
                model_ref=m.id,
                name=m.name,
                input_per_m=inp,
                output_per_m=out,
                cached_input_per_m=_per_m(m.pricing.input_cache_read),
                cache_write_per_m=_per_m(m.pricing.input_cache_write),
                context_tokens=m.context_length,
                max_output_tokens=m.top_provider.max_completion_tokens if m.top_provider else None,
                deprecation_date=expiry,
                hugging_face_id=m.hugging_face_id or None,
                author=m.id.split("/", 1)[0],
                url=f"https://openrouter.ai/{m.id}",
            )
        )
    return Snapshot(
        dataset="openrouter", version=version, read_on=dt.date.today(), origin=origin, entries=entries, skipped=skipped
    )
