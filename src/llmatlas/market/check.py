"""`llmatlas catalog check`: where a dataset agrees with the catalog, where it disagrees (both
values, both sources, both dates), and what it has that the catalog lacks.

Offers are matched by provider (the dataset's provider id mapped to the catalog's, see
``records.PROVIDER_IDS``) and the provider's model id, or the dataset's own matching rule
(genai-prices' clauses). A disagreement the curators have looked into is *explained* in
``catalog/data/crosscheck/explained.yaml`` (e.g. "dataset still lists the 2024-03 price") and no
longer fails the check; an explanation is tied to the dataset's value, so a changed value is
unexplained again.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llmatlas.catalog.catalog import Catalog
from llmatlas.catalog.lifecycle import lifecycle_on
from llmatlas.catalog.offers import offers_for
from llmatlas.catalog.schema import Model, Offer, Reference
from llmatlas.core.errors import InputError
from llmatlas.core.yamlparse import parse_yaml
from llmatlas.market.records import DatasetEntry, Snapshot

CHECK_SCHEMA_VERSION = 1
PRICE_FIELDS = ("input_per_m", "output_per_m", "cached_input_per_m")
CONTEXT_TOLERANCE = 0.05  # 128,000 vs 131,072 or 1,000,000 vs 1,048,576: how providers round "128K", "1M"

Kind = Literal["agree", "disagree", "missing_offer", "missing_model", "no_price_here", "retired_here"]


class Finding(BaseModel):
    """One comparison (or one gap) between a dataset row and the catalog."""

    kind: Kind
    dataset: str
    provider: str  # the catalog's provider/developer id where mapped, else the dataset's
    model: str | None = None  # catalog id, when the row is a catalog model
    model_ref: str  # the dataset's model id
    field: str | None = None
    ours: float | None = None
    theirs: float | None = None
    our_source: str | None = None
    our_as_of: dt.date | None = None
    their_source: str | None = None
    their_as_of: dt.date | None = None
    explained: str | None = None
    note: str | None = None


class DatasetSummary(BaseModel):
    dataset: str
    version: str
    origin: str
    read_on: dt.date
    entries: int
    skipped: int


class CheckReport(BaseModel):
    """The result of a cross-check, for the terminal, ``--json`` and tests alike."""

    schema_version: int = CHECK_SCHEMA_VERSION
    on: dt.date
    datasets: list[DatasetSummary]
    counts: dict[str, dict[str, int]]  # dataset -> kind (+ "explained", "unexplained", "offers_matched")
    findings: list[Finding]
    unmapped_providers: dict[str, dict[str, int]] = Field(default_factory=dict)

    def unexplained(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == "disagree" and not f.explained]


class Explanation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset: str
    provider: str
    model_ref: str
    field: str
    dataset_value: float
    explanation: str = Field(min_length=10)
    source: str
    as_of: dt.date | None = None


class _ExplainedFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    references: list[Reference] = Field(default_factory=list)
    explained: list[Explanation] = Field(default_factory=list)


def explained_path() -> Path:
    return Path(str(resources.files("llmatlas.catalog") / "data" / "crosscheck" / "explained.yaml"))


def load_explanations(path: Path | None = None) -> list[Explanation]:
    p = path or explained_path()
    if not p.exists():
        return []
    located = parse_yaml(p.read_text(encoding="utf-8"), str(p))
    try:
        doc = _ExplainedFile.model_validate(located.data or {})
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(x for x in err["loc"] if isinstance(x, str | int))
        raise InputError(err["msg"], path=p, line=located.line(loc), field=".".join(map(str, loc))) from None
    refs = {r.id for r in doc.references}
    for e in doc.explained:
        if e.source not in refs and "://" not in e.source:
            raise InputError(f"source '{e.source}' is not a declared reference or URL", path=p)
    return doc.explained


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= max(0.001, 0.01 * max(abs(a), abs(b)))


def _norm(text: str) -> str:
    return re.sub(r"[\s_]+", "-", text.strip().lower())


class ModelIndex:
    """Names under which the catalog knows each model: ids, aliases, names and the model ids that
    hosted providers use for it. A name that points at two models is dropped, not guessed."""

    def __init__(self, catalog: Catalog) -> None:
        seen: dict[str, set[str]] = {}

        def add(key: str | None, mid: str) -> None:
            if key:
                seen.setdefault(_norm(key), set()).add(mid)

        for m in catalog:
            add(m.id, m.id)
            add(m.name, m.id)
            for a in m.aliases:
                add(a, m.id)
        for mid, offers in catalog.hosted.items():
            for o in offers:
                if o.provider_model_id:
                    add(o.provider_model_id, mid)
                    add(o.provider_model_id.rsplit("/", 1)[-1], mid)
        self._keys = {k: next(iter(v)) for k, v in seen.items() if len(v) == 1}

    def resolve(self, entry: DatasetEntry) -> str | None:
        """By the dataset's model id or Hugging Face id only: display names ("Mistral 7B Instruct")
        drop the version (v0.1 vs v0.2) and would pair different models."""
        names = [entry.hugging_face_id, entry.model_ref]
        names += [n.rsplit("/", 1)[-1] for n in (entry.hugging_face_id, entry.model_ref) if n and "/" in n]
        for n in names:
            if n and (hit := self._keys.get(_norm(n))):
                return hit
        return None


def _offer_names(model: Model, offer: Offer) -> list[str]:
    names = [offer.provider_model_id or model.id]
    if offer.first_party:
        names += [model.id, *model.aliases]
    return [n.lower() for n in names]


def check(
    snapshots: list[Snapshot],
    catalog: Catalog,
    *,
    on: dt.date | None = None,
    explanations: list[Explanation] | None = None,
) -> CheckReport:
    """Compare every dataset row of a provider the catalog knows with the catalog's offer."""
    when = on or dt.date.today()
    expl = explanations if explanations is not None else load_explanations()
    index = ModelIndex(catalog)
    by_provider: dict[str, list[tuple[Model, Offer]]] = {}
    for m in catalog:
        for o in offers_for(catalog, m):
            by_provider.setdefault(o.provider, []).append((m, o))
    findings: list[Finding] = []
    counts: dict[str, dict[str, int]] = {}
    unmapped: dict[str, dict[str, int]] = {}
    for snap in snapshots:
        tally: Counter[str] = Counter()
        matched: set[tuple[str, str, str]] = set()
        their_as_of = snap.read_on
        for entry in snap.entries:
            ours = snap.our_provider(entry)
            if ours is None:
                unmapped.setdefault(snap.dataset, Counter())[entry.provider] += 1
                continue
            pairs = by_provider.get(ours, [])
            hit = next(((m, o) for m, o in pairs if entry.model_ref.lower() in _offer_names(m, o)), None)
            if hit is None:
                hit = next(((m, o) for m, o in pairs if any(entry.matches(n) for n in _offer_names(m, o))), None)
            base = {
                "dataset": snap.dataset,
                "provider": ours,
                "model_ref": entry.model_ref,
                "their_as_of": their_as_of,
                "their_source": f"{snap.label} ({entry.url or snap.origin})",
            }
            if hit is None:
                mid = index.resolve(entry)
                kind: Kind = "missing_model" if mid is None else "missing_offer"
                findings.append(Finding(kind=kind, model=mid, theirs=entry.input_per_m, **base))
                tally[kind] += 1
                continue
            model, offer = hit
            if offer.key in matched:
                continue  # a second row (dated snapshot, alias) for an offer already compared
            matched.add(offer.key)
            tally["offers_matched"] += 1
            findings.extend(_compare(entry, model, offer, catalog, when, expl, base, tally))
        counts[snap.dataset] = dict(tally)
    return CheckReport(
        on=when,
        datasets=[
            DatasetSummary(
                dataset=s.dataset,
                version=s.version,
                origin=s.origin,
                read_on=s.read_on,
                entries=len(s.entries),
                skipped=s.skipped,
            )
            for s in snapshots
        ],
        counts=counts,
        findings=findings,
        unmapped_providers={k: dict(v) for k, v in unmapped.items()},
    )


def _compare(
    entry: DatasetEntry,
    model: Model,
    offer: Offer,
    catalog: Catalog,
    when: dt.date,
    expl: list[Explanation],
    base: dict[str, object],
    tally: Counter[str],
) -> list[Finding]:
    out: list[Finding] = []
    common = {**base, "model": model.id}
    state = lifecycle_on(model, when, offer=offer)
    if state.retired:
        tally["retired_here"] += 1
        return [Finding(kind="retired_here", note=f"catalog: {state.text()}; the dataset still lists it", **common)]
    price = offer.current_price(when)
    owner = model if offer.first_party else offer
    if price is None:
        tally["no_price_here"] += 1
        return [Finding(kind="no_price_here", theirs=entry.input_per_m, **common)]
    src = catalog.source_url(owner, price.source)
    for field in PRICE_FIELDS:
        ours, theirs = getattr(price, field), getattr(entry, field)
        if ours is None or theirs is None:
            continue
        if price.currency != "USD":
            continue  # a CNY price is not compared with a USD dataset
        out.append(_finding(field, float(ours), float(theirs), src, price.as_of, common, expl, tally, _close))
    ctx = (
        offer.context.tokens
        if offer.context and offer.context.tokens
        else (model.context_tokens if offer.first_party else None)
    )
    if ctx is not None and entry.context_tokens:
        block = offer.context if offer.context else model.context
        csrc = catalog.source_url(owner, block.source) if block else None
        out.append(
            _finding(
                "context_tokens",
                float(ctx),
                float(entry.context_tokens),
                csrc,
                block.as_of if block else None,
                common,
                expl,
                tally,
                lambda a, b: abs(a - b) <= CONTEXT_TOLERANCE * max(a, b),
            )
        )
    return out


def _finding(
    field: str,
    ours: float,
    theirs: float,
    src: str | None,
    as_of: dt.date | None,
    common: dict[str, object],
    expl: list[Explanation],
    tally: Counter[str],
    same: Callable[[float, float], bool],
) -> Finding:
    agree = same(ours, theirs)
    why = None
    if not agree:
        why = next(
            (
                e.explanation
                for e in expl
                if e.dataset == common["dataset"]
                and e.provider == common["provider"]
                and e.model_ref.lower() == str(common["model_ref"]).lower()
                and e.field == field
                and _close(e.dataset_value, theirs)
            ),
            None,
        )
        tally["disagree"] += 1
        tally["explained" if why else "unexplained"] += 1
    else:
        tally["agree"] += 1
    return Finding(
        kind="agree" if agree else "disagree",
        field=field,
        ours=ours,
        theirs=theirs,
        our_source=src,
        our_as_of=as_of,
        explained=why,
        **common,
    )
