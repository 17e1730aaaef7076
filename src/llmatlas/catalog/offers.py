"""The offers of a model: the developer's own API (from the model's pricing and lifecycle) and the
hosted providers that serve its open weights, each priced, limited and dated on its own.

Every command that prices a model goes through :func:`offers_for`, so a model with no known offer
says so (never "$0"), and a retired offer is recognised by the same :func:`lifecycle_on` rule as a
retired model.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from llmatlas.catalog.catalog import Catalog
from llmatlas.catalog.lifecycle import lifecycle_on
from llmatlas.catalog.schema import Model, Offer
from llmatlas.core.errors import UnknownModelError


def has_first_party_api(model: Model) -> bool:
    return bool(model.access and "api" in model.access.modes) or bool(model.pricing)


def first_party_offer(model: Model) -> Offer | None:
    """The developer's own API as an offer, or None when the developer offers none."""
    if not has_first_party_api(model):
        return None
    anchor = model.pricing[0] if model.pricing else (model.access or model.lifecycle)
    return Offer(
        model=model.id,
        provider=model.developer,
        provider_model_id=model.id,
        first_party=True,
        pricing=model.pricing,
        context=model.context,
        lifecycle=model.lifecycle,
        source=anchor.source if anchor else "catalog",
        as_of=anchor.as_of if anchor else None,
        origin=model.origin,
    )


def offers_for(catalog: Catalog, model: Model, provider: str | None = None) -> list[Offer]:
    """Every offer of ``model`` (first party first), optionally only ``provider``'s."""
    out: list[Offer] = []
    own = first_party_offer(model)
    if own is not None:
        out.append(own)
    out.extend(catalog.hosted.get(model.id, []))
    if provider is not None:
        key = provider.strip().lower()
        out = [o for o in out if key in (o.provider, provider_name(catalog, o).lower())]
    return out


def display_name(catalog: Catalog, provider: str, first_party: bool) -> str:
    """'Together AI' for a hosting provider's id, the developer's name for its own API."""
    known = catalog.developers.get(provider) if first_party else catalog.providers.get(provider)
    return known.name if known else provider


def provider_name(catalog: Catalog, offer: Offer) -> str:
    """'Together AI', or the developer's name for a first-party offer."""
    return display_name(catalog, offer.provider, offer.first_party)


def offer_label(catalog: Catalog, offer: Offer) -> str:
    """How a deployment names an offer: 'API' for the developer's own, 'API via Groq (fp8)' otherwise."""
    if offer.first_party:
        return "API"
    quant = f", {offer.quantization.name}" if offer.quantization else ""
    return f"API via {provider_name(catalog, offer)}{quant}"


def _host(url: str) -> str:
    """``host[:port]`` of a URL, as results record it (backends' ``public_host``)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return f"{host}:{parts.port}" if parts.port else host


def find_offer(catalog: Catalog, target: str, host: str | None = None) -> tuple[Model, Offer] | None:
    """The catalog model and offer behind a model name called at ``host``: a hosted provider's model
    id at that provider's endpoint, else a catalog id (or alias) at the developer's own API."""
    want = target.strip().lower()
    if host:
        for mid, offers in catalog.hosted.items():
            for o in offers:
                prov = catalog.providers.get(o.provider)
                base = prov.openai_base_url if prov else None
                if base and (o.provider_model_id or "").lower() == want and _host(base) == host.lower():
                    return catalog.models[mid], o
    try:
        model = catalog.get(target)
    except UnknownModelError:
        return None
    own = first_party_offer(model)
    return (model, own) if own is not None else None


def offer_for_spec(catalog: Catalog, spec: str) -> tuple[Model, Offer] | None:
    """The catalog model and offer an ``openai:``/``anthropic:`` spec calls, if the catalog knows it.

    ``openai:meta-llama/Llama-3.3-70B-Instruct-Turbo?base_url=https://api.together.xyz/v1`` is
    Together's offer of Llama 3.3 70B; ``openai:gpt-4o`` (no base URL) is OpenAI's own.
    """
    head, _, query = spec.partition("?")
    backend, _, target = head.partition(":")
    if backend not in ("openai", "anthropic") or not target:
        return None
    base = dict(parse_qsl(query)).get("base_url") if query else None
    return find_offer(catalog, target, _host(base) if base else None)


def offer_spec(catalog: Catalog, offer: Offer) -> str | None:
    """The ``openai:`` spec that calls a hosted offer (its provider's OpenAI-compatible endpoint and
    key variable), or None when the provider documents no such endpoint."""
    prov = catalog.providers.get(offer.provider)
    if offer.first_party or prov is None or not prov.openai_base_url or not offer.provider_model_id:
        return None
    return f"openai:{offer.provider_model_id}?base_url={prov.openai_base_url}&api_key_env={prov.key_env}"


def offer_summary(catalog: Catalog, model: Model, offer: Offer, on: dt.date | None = None) -> dict[str, Any]:
    """One offer as plain data for JSON, the web and `show`: who, price in force, limits, state, source."""
    state = lifecycle_on(model, on, offer=offer)
    price = offer.current_price(on)
    ctx = (
        offer.context.tokens
        if offer.context and offer.context.tokens
        else (model.context_tokens if offer.first_party else None)
    )
    return {
        "provider": offer.provider,
        "provider_name": provider_name(catalog, offer),
        "provider_model_id": offer.provider_model_id,
        "first_party": offer.first_party,
        "label": offer_label(catalog, offer),
        "currency": price.currency if price else None,
        "input_per_m": price.input_per_m if price else None,
        "output_per_m": price.output_per_m if price else None,
        "cached_input_per_m": price.cached_input_per_m if price else None,
        "batch_input_per_m": price.batch_input_per_m if price else None,
        "batch_output_per_m": price.batch_output_per_m if price else None,
        "price_as_of": price.as_of.isoformat() if price and price.as_of else None,
        "price_source": catalog.source_url(offer, price.source) if price else None,
        "price_evidence": catalog.source_kind(offer, price.source) if price else None,
        "context_tokens": ctx,
        "max_output_tokens": offer.context.max_output_tokens if offer.context else None,
        "quantization": offer.quantization.name if offer.quantization else None,
        "regions": offer.regions.names if offer.regions else None,
        "status": state.status,
        "status_text": state.text(),
        "output_tokens_per_s": offer.speed.output_tokens_per_s if offer.speed else None,
        "ttft_s": offer.speed.ttft_s if offer.speed else None,
        "speed_source": catalog.source_url(offer, offer.speed.source) if offer.speed else None,
        "source": catalog.source_url(offer, offer.source),
        "evidence": catalog.source_kind(offer, offer.source),
        "as_of": offer.as_of.isoformat() if offer.as_of else None,
    }
