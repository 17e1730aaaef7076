"""API cost of a workload: requests × (input, cached input, output tokens) × the price in force.

An unpriced model gets ``None`` totals and a reason: it is *not* free. CNY prices are shown in
CNY and converted to USD with a sourced, dated exchange rate from the catalog.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

from llmatlas.catalog.schema import ExchangeRate, Model, Price


class CostEstimate(BaseModel):
    """One model's cost for the workload; ``*_usd`` are ``None`` when no price is known."""

    model: str
    requests: int
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
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
    exchange_rate: ExchangeRate | None = None
    reason: str | None = None
    notes: list[str] = []


def blended_price(price: Price) -> float | None:
    """3:1 input:output blend per 1M tokens, in the price's own currency."""
    if price.input_per_m is None or price.output_per_m is None:
        return None
    return (3 * price.input_per_m + price.output_per_m) / 4


def _unpriced(model: Model, requests: int, inp: int, out: int, cached: int, reason: str) -> CostEstimate:
    return CostEstimate(
        model=model.id,
        requests=requests,
        input_tokens=inp,
        output_tokens=out,
        cached_input_tokens=cached,
        reason=reason,
    )


def workload_cost(
    model: Model,
    input_tokens: int,
    output_tokens: int,
    requests: int = 1,
    cached_input_tokens: int = 0,
    on: dt.date | None = None,
    rate: ExchangeRate | None = None,
) -> CostEstimate:
    """Cost of ``requests`` requests, each with these token counts (cached tokens are part of input)."""
    if min(input_tokens, output_tokens, requests, cached_input_tokens) < 0:
        raise ValueError("token counts and requests must be >= 0")
    if cached_input_tokens > input_tokens:
        raise ValueError("cached input tokens cannot exceed input tokens")
    price = model.current_price(on)
    if price is None:
        if model.pricing:
            why = "no price in force on that date"
        elif model.access and "api" in model.access.modes:
            why = "API price undisclosed in the catalog"
        else:
            why = "not offered as a priced API (self-host: see `llmatlas fit`)"
        return _unpriced(model, requests, input_tokens, output_tokens, cached_input_tokens, why)
    notes: list[str] = []
    fresh = input_tokens - cached_input_tokens
    cached_rate = price.cached_input_per_m
    if cached_input_tokens and cached_rate is None:
        cached_rate = price.input_per_m
        notes.append("no cached-input price known: cached tokens billed at the input price")
    if price.input_per_m is None and input_tokens:
        return _unpriced(model, requests, input_tokens, output_tokens, cached_input_tokens, "input price undisclosed")
    if price.output_per_m is None and output_tokens:
        return _unpriced(model, requests, input_tokens, output_tokens, cached_input_tokens, "output price undisclosed")
    in_cost = requests * (fresh * (price.input_per_m or 0.0) + cached_input_tokens * (cached_rate or 0.0)) / 1e6
    out_cost = requests * output_tokens * (price.output_per_m or 0.0) / 1e6
    fx = 1.0
    if price.currency != "USD":
        if rate is None:
            est = _unpriced(
                model,
                requests,
                input_tokens,
                output_tokens,
                cached_input_tokens,
                f"no {price.currency}→USD rate",
            )
            est.currency, est.input_cost, est.output_cost = price.currency, in_cost, out_cost
            est.total = in_cost + out_cost
            return est
        fx = rate.usd_per_unit
        notes.append(f"converted from {price.currency} at {rate.usd_per_unit} USD/{price.currency} ({rate.as_of})")
    blended = blended_price(price)
    return CostEstimate(
        model=model.id,
        requests=requests,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cached_input_tokens=cached_input_tokens,
        currency=price.currency,
        input_cost=in_cost,
        output_cost=out_cost,
        total=in_cost + out_cost,
        input_cost_usd=in_cost * fx,
        output_cost_usd=out_cost * fx,
        total_usd=(in_cost + out_cost) * fx,
        blended_per_m_usd=blended * fx if blended is not None else None,
        price_source=price.source,
        price_as_of=price.as_of,
        exchange_rate=rate if price.currency != "USD" else None,
        notes=notes,
    )
