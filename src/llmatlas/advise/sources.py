"""Collects the footnotes of a recommendation: every number's source gets a stable id once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from llmatlas.advise.schema import Source, SourceKind
from llmatlas.catalog.catalog import Catalog
from llmatlas.catalog.schema import Model, Offer, Sourced
from llmatlas.estimate.hardware import GpuPrice, Hardware

DOCS = "docs/advisor.md"

# The estimators the advisor uses, described where the report can point at them.
ESTIMATES: dict[str, tuple[str, str]] = {
    "memory": (
        "llmatlas memory estimator: weights = params × bits/8, KV cache = 2 × layers × kv_heads × head_dim "
        "× tokens × batch × bytes, plus stated overhead",
        f"{DOCS}#memory",
    ),
    "speed": (
        "llmatlas speed estimator: decode ≤ bandwidth / bytes read per step, prefill ≥ FLOPs / peak; "
        "× serving efficiency (see assumptions)",
        f"{DOCS}#speed",
    ),
    "selfhost": (
        "llmatlas self-host cost: replicas sized for peak traffic × GPUs × $/GPU-hour × 730 h (break-even estimator)",
        f"{DOCS}#self-host-cost",
    ),
    "api-cost": (
        "llmatlas API cost: requests/month × (input, cached input, output tokens) × the price in force",
        f"{DOCS}#api-cost",
    ),
    "quality": (
        "llmatlas quality score: weighted mean over the required task categories of their benchmark scores (0–100)",
        f"{DOCS}#quality",
    ),
}


class SourceBook:
    """Hands out source ids and remembers what they point to."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.sources: dict[str, Source] = {}

    def _add(self, sid: str, kind: SourceKind, title: str, url: str | None, as_of: dt.date | None) -> str:
        if sid not in self.sources:
            self.sources[sid] = Source(id=sid, kind=kind, title=title, url=url, as_of=as_of)
        return sid

    def catalog_fact(self, model: Model | Offer, block: Sourced) -> str:
        """The id of a catalog block's source (a declared reference or a bare URL/document)."""
        ref = self.catalog.reference(model, block.source)
        if ref is not None:
            owner = model.developer if isinstance(model, Model) else model.provider
            title = ref.title
            if ref.dataset:
                title += f" [dataset: {ref.dataset}]"
            elif ref.secondary:
                title += " [third-party copy]"
            return self._add(f"ref:{owner}/{ref.id}", "catalog", title, ref.url, ref.as_of)
        url = block.source if block.source.startswith(("http://", "https://")) else None
        return self._add(f"src:{block.source}", "catalog", block.source, url, block.as_of)

    def estimate(self, name: str) -> str:
        """An estimator footnote: the formula itself, and the section of docs/advisor.md that explains it."""
        title, doc = ESTIMATES[name]
        return self._add(f"est:{name}", "estimate", f"{title} (llmatlas {doc})", None, None)

    def hardware(self, hw: Hardware) -> str:
        url = hw.source if hw.source.startswith(("http://", "https://")) else None
        return self._add(f"hw:{hw.id}", "hardware", f"{hw.name}: memory, bandwidth, peak FLOP/s", url, hw.as_of)

    def hardware_price(self, hw: Hardware, price: GpuPrice) -> str:
        """A cloud's on-demand price for the hardware: the provider's page, and the copy it was read from."""
        size = f", {price.gpus}-GPU instance" if price.gpus > 1 else ""
        title = f"{hw.name}: ${price.usd_per_hour:g}/GPU-hour on demand — {price.provider} {price.offer}{size}"
        if price.region:
            title += f", {price.region}"
        if price.seen_in:
            title += f" [third-party copy: {price.seen_in}]"
        url = price.source if price.source.startswith(("http://", "https://")) else None
        return self._add(f"hwprice:{hw.id}:{price.provider}:{price.offer}", "hardware", title, url, price.as_of)

    def run(self, run_id: str, title: str, when: dt.date | None) -> str:
        return self._add(f"run:{run_id}", "measurement", title, None, when)

    def requirements(self, path: str | Path | None) -> str:
        title = f"your requirements file ({path})" if path else "your requirements"
        return self._add("req", "requirements", title, None, None)
