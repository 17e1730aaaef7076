"""What each generated output cost and how fast it came, and a run's performance summary.

Cost comes from the catalog price of the model (``--catalog-id`` or the model's own name); a model
without a price gets ``cost_usd = None`` and a note, never 0. Speed per output comes from the
backend's own timings (latency, time to first token, output tokens).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from llmatlas.backends.base import Generation
from llmatlas.core.errors import LlmatlasError
from llmatlas.engine.results import Distribution, Output, Performance, SampleRecord

if TYPE_CHECKING:
    from llmatlas.catalog.catalog import Catalog
    from llmatlas.catalog.schema import Model, Offer


LOCAL_BACKENDS = frozenset({"llama", "hf", "mock"})


class Pricer:
    """Prices outputs with the catalog model matching the run's model, or says why it cannot.

    A hosted provider's model id called at that provider's endpoint (``host``) is priced at that
    provider's offer; a catalog id, at the developer's own API.
    """

    def __init__(
        self,
        name: str | None,
        backend: str | None = None,
        explicit: bool = False,
        catalog: Catalog | None = None,
        catalog_dirs: Sequence[str | Path] = (),
        host: str | None = None,
        offer: tuple[Model, Offer] | None = None,
    ) -> None:
        """``catalog``: the one already loaded, if any (the web app prices every playground answer),
        else the catalog with ``catalog_dirs`` is loaded here, only when a price is needed;
        ``offer``: the model and offer the caller already resolved from a spec."""
        self.model: Model | None = None
        self.offer: Offer | None = None
        self.note: str | None = None
        if backend in LOCAL_BACKENDS and not explicit:
            self.note = f"local model ({backend} backend): no per-token price; self-hosting cost: `llmatlas breakeven`"
            return
        if not name:
            self.note = "no catalog model given (--catalog-id)"
            return
        from llmatlas.catalog.catalog import load_catalog
        from llmatlas.catalog.offers import find_offer

        cat = catalog or load_catalog(catalog_dirs)
        found = offer if offer is not None else (None if explicit else find_offer(cat, name, host))
        if found is not None and not found[1].first_party:
            self.model, self.offer = found
            if self.offer.current_price() is None:
                self.note = f"{self.model.id} via {self.offer.provider}: no price in force in the catalog"
                self.model = self.offer = None
            return
        try:
            self.model = cat.get(name)
        except LlmatlasError:
            self.note = f"'{name}' is not in the catalog; pass --catalog-id to price this run"
            return
        if self.model.current_price() is None:
            self.note = f"{self.model.id} has no API price in the catalog (self-hosted cost: `llmatlas cost`)"
            self.model = None

    def cost(self, input_tokens: int | None, output_tokens: int | None) -> float | None:
        if self.model is None or input_tokens is None or output_tokens is None:
            return None
        from llmatlas.estimate.cost import workload_cost

        return workload_cost(self.model, input_tokens, output_tokens, offer=self.offer).total_usd


def to_output(g: Generation, turn: int, pricer: Pricer) -> Output:
    rate = None
    if g.output_tokens and g.latency_s:
        decode = g.latency_s - (g.ttft_s or 0.0)
        rate = g.output_tokens / decode if decode > 0 else None
    return Output(
        text=g.text,
        turn=turn,
        input_tokens=g.input_tokens,
        output_tokens=g.output_tokens,
        latency_s=g.latency_s,
        ttft_s=g.ttft_s,
        output_tokens_per_s=rate,
        cost_usd=None if g.error else pricer.cost(g.input_tokens, g.output_tokens),
        error=g.error,
        extra=g.extra,
    )


def distribution(values: Sequence[float | None]) -> Distribution | None:
    xs = np.asarray([v for v in values if v is not None], dtype=np.float64)
    if len(xs) == 0:
        return None
    return Distribution(
        n=len(xs), mean=float(xs.mean()), p50=float(np.percentile(xs, 50)), p95=float(np.percentile(xs, 95))
    )


def performance(records: Sequence[SampleRecord], pricer: Pricer) -> Performance:
    outs = [o for r in records for o in r.outputs]
    ok = [o for o in outs if o.error is None]
    has_tokens = bool(ok) and all(o.input_tokens is not None and o.output_tokens is not None for o in ok)
    costs = [o.cost_usd for o in ok]
    priced = bool(ok) and all(c is not None for c in costs)
    return Performance(
        latency_s=distribution([o.latency_s for o in ok]),
        ttft_s=distribution([o.ttft_s for o in ok]),
        output_tokens_per_s=distribution([o.output_tokens_per_s for o in ok]),
        input_tokens=sum(o.input_tokens or 0 for o in ok) if has_tokens else None,
        output_tokens=sum(o.output_tokens or 0 for o in ok) if has_tokens else None,
        token_counts="usage" if has_tokens else "missing",
        cost_usd=sum(c or 0.0 for c in costs) if priced else None,
        cost_note=None if priced else (pricer.note or "some outputs lack token counts"),
        errors=len(outs) - len(ok),
    )
