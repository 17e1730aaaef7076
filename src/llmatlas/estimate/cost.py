"""API cost of a workload: requests × (input, cached input, cache writes, output tokens) × the price in force.

The price is the one in force on the date for the request's prompt size (a long-context tier
applies above its threshold), at batch-API rates when asked and the developer lists them. An
unpriced model gets ``None`` totals and a reason: it is *not* free. CNY prices are shown in CNY and
converted to USD with a sourced, dated exchange rate from the catalog.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

from llmatlas.catalog.catalog import Catalog
from llmatlas.catalog.lifecycle import lifecycle_on
from llmatlas.catalog.offers import has_first_party_api, offers_for, provider_name
from llmatlas.catalog.schema import ExchangeRate, Model, Offer, Price
from llmatlas.core.errors import InputError


class CostEstimate(BaseModel):
    """One model's cost for the workload; ``*_usd`` are ``None`` when no price is known."""

    model: str
    provider: str | None = None  # who serves it: the developer for its own API, else the host
    provider_model_id: str | None = None
    first_party: bool = True
    quantization: str | None = None  # as the provider states it (hosted offers)
    requests: int
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    cache_write_tokens: int = 0
    batch_api: bool = False
    tier: str | None = None  # the price entry's label, e.g. ">200K prompt"
    lifecycle: str | None = None  # the API's state on the date when it is not plainly usable
    currency: str | None = None
    input_cost: float | None = None
    output_cost: float | None = None
    total: float | None = None
    input_cost_usd: float | None = None
    output_cost_usd: float | None = None
    total_usd: float | None = None
    blended_per_m_usd: float | None = None  # (3 × input + output) / 4, the usual display price
    price_source: str | None = None
    price_as_of: dt.date | None = None
    # "primary" (the provider's own page), "secondary" (a third-party copy) or "dataset" (a public dataset)
    price_evidence: str | None = None
    exchange_rate: ExchangeRate | None = None
    reason: str | None = None
    notes: list[str] = []


def blended_price(price: Price) -> float | None:
    """3:1 input:output blend per 1M tokens, in the price's own currency."""
    if price.input_per_m is None or price.output_per_m is None:
        return None
    return (3 * price.input_per_m + price.output_per_m) / 4


def _rate(value: float | None, fallback: float | None, what: str, notes: list[str]) -> float | None:
    """A special rate (cache read/write, batch) or, with a note, the plain one it replaces."""
    if value is not None:
        return value
    notes.append(f"no {what} price known: billed at the standard price")
    return fallback


def workload_cost(
    model: Model,
    input_tokens: int,
    output_tokens: int,
    requests: int = 1,
    cached_input_tokens: int = 0,
    on: dt.date | None = None,
    rate: ExchangeRate | None = None,
    *,
    cache_write_tokens: int = 0,
    batch_api: bool = False,
    offer: Offer | None = None,
) -> CostEstimate:
    """Cost of ``requests`` requests, each with these token counts, at ``offer``'s price
    (the developer's own API when ``offer`` is None or first party).

    ``cached_input_tokens`` (read from the prompt cache) and ``cache_write_tokens`` (written to
    it) are parts of ``input_tokens``; the prompt size that picks a long-context tier is the
    whole input.
    """
    if min(input_tokens, output_tokens, requests, cached_input_tokens, cache_write_tokens) < 0:
        raise ValueError("token counts and requests must be >= 0")
    if cached_input_tokens + cache_write_tokens > input_tokens:
        raise ValueError("cached and cache-write input tokens cannot exceed input tokens")
    base = CostEstimate(
        model=model.id,
        requests=requests,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cached_input_tokens=cached_input_tokens,
        cache_write_tokens=cache_write_tokens,
        batch_api=batch_api,
    )
    hosted = offer is not None and not offer.first_party
    if offer is not None:
        base.provider, base.provider_model_id, base.first_party = offer.provider, offer.provider_model_id, not hosted
        base.quantization = offer.quantization.name if offer.quantization else None
    elif has_first_party_api(model):
        base.provider = model.developer or None  # the developer's own API
    state = lifecycle_on(model, on, offer=offer)
    if not state.usable:
        when = "today" if on is None else f"on {on}"
        hint = " (its price history stays available for a date before the shutdown)" if state.retired else ""
        return base.model_copy(
            update={"reason": f"{state.text()}: no API price {when}{hint}", "lifecycle": state.text()}
        )
    pricing = offer.pricing if offer is not None else model.pricing
    price = (offer or model).current_price(on, prompt_tokens=input_tokens)
    if price is None:
        if pricing:
            why = "no price in force on that date" + (
                " (the provider's price is known from its as_of date)" if hosted else ""
            )
        elif hosted or (model.access and "api" in model.access.modes):
            why = "API price undisclosed in the catalog"
        else:
            why = "no known API offer (self-host: see `llmatlas fit`)"
        return base.model_copy(update={"reason": why})
    if price.input_per_m is None and input_tokens:
        return base.model_copy(update={"reason": "input price undisclosed"})
    if price.output_per_m is None and output_tokens:
        return base.model_copy(update={"reason": "output price undisclosed"})
    notes: list[str] = []
    if price.input_per_m == 0 and price.output_per_m == 0:
        notes.append("listed free: usually a rate-limited free tier (limits undisclosed in the catalog)")
    if state.status == "deprecated":
        base.lifecycle = state.text()
        notes.append(f"{'offer' if hosted else 'API'} {state.text()}")
    inp, outp = price.input_per_m or 0.0, price.output_per_m or 0.0
    if batch_api:
        if price.batch_input_per_m is None and price.batch_output_per_m is None:
            return base.model_copy(update={"reason": "no batch-API price known for this model"})
        inp = _rate(price.batch_input_per_m, inp, "batch input", notes) or 0.0
        outp = _rate(price.batch_output_per_m, outp, "batch output", notes) or 0.0
    cached_rate = _rate(price.cached_input_per_m, inp, "cached-input", notes) if cached_input_tokens else 0.0
    write_rate = _rate(price.cache_write_per_m, inp, "cache-write", notes) if cache_write_tokens else 0.0
    fresh = input_tokens - cached_input_tokens - cache_write_tokens
    in_cost = (
        requests
        * (fresh * inp + cached_input_tokens * (cached_rate or 0.0) + cache_write_tokens * (write_rate or 0.0))
        / 1e6
    )
    out_cost = requests * output_tokens * outp / 1e6
    base.currency, base.input_cost, base.output_cost, base.total = price.currency, in_cost, out_cost, in_cost + out_cost
    base.tier, base.notes = price.tier, notes
    base.price_source, base.price_as_of = price.source, price.as_of
    if price.prompt_tokens_above is not None:
        notes.append(f"long-context price: prompt above {price.prompt_tokens_above:,} tokens")
    fx = 1.0
    if price.currency != "USD":
        if rate is None:
            base.reason = f"no {price.currency}→USD rate"
            return base
        fx = rate.usd_per_unit
        base.exchange_rate = rate
        notes.append(f"converted from {price.currency} at {rate.usd_per_unit} USD/{price.currency} ({rate.as_of})")
    blended = blended_price(price)
    base.input_cost_usd, base.output_cost_usd, base.total_usd = in_cost * fx, out_cost * fx, (in_cost + out_cost) * fx
    base.blended_per_m_usd = blended * fx if blended is not None else None
    return base


def offer_costs(
    catalog: Catalog,
    model: Model,
    input_tokens: int,
    output_tokens: int,
    requests: int = 1,
    cached_input_tokens: int = 0,
    on: dt.date | None = None,
    *,
    cache_write_tokens: int = 0,
    batch_api: bool = False,
    provider: str | None = None,
) -> list[CostEstimate]:
    """The workload's cost at every offer of ``model`` (or ``provider``'s), cheapest first.

    Unpriced offers come last with their reason; a model with no offer at all gets one row that
    says so. Each price's source is given as the URL it cites.
    """
    offers = offers_for(catalog, model, provider)
    if not offers and provider is not None:
        known = ", ".join(sorted({provider_name(catalog, o) for o in offers_for(catalog, model)})) or "none"
        raise InputError(f"no offer of {model.id} by '{provider}' in the catalog (offers: {known})", field="provider")
    choices: list[Offer | None] = list(offers) or [None]
    rows = [
        offer_cost(
            catalog,
            model,
            offer,
            input_tokens,
            output_tokens,
            requests,
            cached_input_tokens,
            on,
            cache_write_tokens=cache_write_tokens,
            batch_api=batch_api,
        )
        for offer in choices
    ]
    rows.sort(key=lambda r: (r.total_usd is None, r.total_usd or 0.0))
    return rows


def offer_cost(
    catalog: Catalog,
    model: Model,
    offer: Offer | None,
    input_tokens: int,
    output_tokens: int,
    requests: int = 1,
    cached_input_tokens: int = 0,
    on: dt.date | None = None,
    *,
    cache_write_tokens: int = 0,
    batch_api: bool = False,
) -> CostEstimate:
    """One offer's cost (``None``: the developer's own API) with the catalog's exchange rate for the
    price's currency on that date, and the price's source given as the URL it cites and its kind
    (primary, secondary, dataset). The one place price, rate and workload meet."""
    price = (offer or model).current_price(on, prompt_tokens=input_tokens)
    rate = catalog.usd_per(price.currency, on) if price else None
    est = workload_cost(
        model,
        input_tokens,
        output_tokens,
        requests,
        cached_input_tokens,
        on,
        rate,
        cache_write_tokens=cache_write_tokens,
        batch_api=batch_api,
        offer=offer,
    )
    if est.price_source:
        owner = offer if offer is not None and not offer.first_party else model
        est.price_evidence = catalog.source_kind(owner, est.price_source)
        est.price_source = catalog.source_url(owner, est.price_source)
    return est
