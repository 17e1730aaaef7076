"""`llmatlas catalog sync --from SOURCE`: propose what the catalog lacks, from a dataset, into
the user catalog — labelled, never overriding.

Two overlay files are (re)written in the user catalog directory, each whole and atomically
(temporary file + rename), and only after the dataset was read and validated completely:

* ``sync-<dataset>-offers.yaml``: offers the dataset lists for catalog models at providers the
  catalog has no offer from;
* ``sync-<dataset>-models.yaml``: models the catalog lacks (with their offer or, at a developer's
  own API, their price), only with ``--models``.

Every fact cites one reference marked ``dataset: "<name> <version>"`` and ``secondary: true``,
so the CLI, reports and web show it as dataset evidence. Curated entries always win: a row that
matches a curated offer is compared (conflicts are listed) and never written.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field

from llmatlas.catalog.catalog import Catalog
from llmatlas.catalog.loader import load_offers_text, load_text
from llmatlas.market.check import CheckReport, Finding, check
from llmatlas.market.records import DatasetEntry, Snapshot

REF_ID = "dataset"
_ID = re.compile(r"[^a-z0-9._-]+")


class SyncResult(BaseModel):
    """What a sync wrote (or would write with ``--dry-run``) and what it left alone."""

    dataset: str
    version: str
    offers_file: str | None = None
    models_file: str | None = None
    offers: int = 0
    models: int = 0
    conflicts: list[Finding] = Field(default_factory=list)  # curated values that differ: never applied
    skipped_models: int = 0  # models the catalog lacks, left out without --models
    dry_run: bool = False


def overlay_paths(directory: Path, dataset: str) -> tuple[Path, Path]:
    slug = dataset.replace(".", "-")
    return directory / f"sync-{slug}-offers.yaml", directory / f"sync-{slug}-models.yaml"


def _slug(text: str) -> str:
    s = _ID.sub("-", text.strip().lower()).strip("-.")
    return s if s and s[0].isalnum() else f"m-{s}"


def _price(e: DatasetEntry) -> dict[str, Any]:
    out: dict[str, Any] = {"source": REF_ID}
    for k in ("input_per_m", "output_per_m", "cached_input_per_m", "cache_write_per_m"):
        v = getattr(e, k)
        if v is not None:
            out[k] = v
    return out


def _context(e: DatasetEntry) -> dict[str, Any] | None:
    if not e.context_tokens and not e.max_output_tokens:
        return None
    ctx: dict[str, Any] = {"source": REF_ID}
    if e.context_tokens:
        ctx["tokens"] = e.context_tokens
    if e.max_output_tokens:
        ctx["max_output_tokens"] = e.max_output_tokens
    return ctx


def _lifecycle(e: DatasetEntry, on: dt.date) -> dict[str, Any] | None:
    if e.deprecation_date:
        status = "retired" if e.deprecation_date <= on else "deprecated"
        return {"status": status, "shutdown": e.deprecation_date.isoformat(), "source": REF_ID}
    if e.deprecated:
        return {"status": "deprecated", "source": REF_ID}
    return None


def _reference(snap: Snapshot) -> dict[str, Any]:
    return {
        "id": REF_ID,
        "title": f"{snap.dataset} {snap.version} ({snap.origin}), proposed by `llmatlas catalog sync`",
        "url": snap.origin if snap.origin.startswith("http") else None,
        "as_of": snap.read_on.isoformat(),
        "secondary": True,
        "dataset": snap.label,
    }


def propose(
    snap: Snapshot, catalog: Catalog, *, with_models: bool = False, report: CheckReport | None = None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None, SyncResult]:
    """The two overlay documents (None when empty) and a summary, from a cross-check of ``snap``."""
    rep = report or check([snap], catalog)
    # findings name the catalog's provider id (only mapped providers have findings); the first row wins
    rows: dict[tuple[str, str], DatasetEntry] = {}
    for row in snap.entries:
        if (ours := snap.our_provider(row)) is not None:
            rows.setdefault((ours, row.model_ref), row)
    result = SyncResult(dataset=snap.dataset, version=snap.version)
    result.conflicts = [f for f in rep.findings if f.kind == "disagree"]
    providers: dict[str, dict[str, Any]] = {}
    offers: list[dict[str, Any]] = []
    models: list[dict[str, Any]] = []
    taken: set[str] = set(catalog.models)
    developers = set(catalog.developers)
    for f in rep.findings:
        if f.kind not in ("missing_offer", "missing_model"):
            continue
        e = rows.get((f.provider, f.model_ref))
        if e is None:
            continue
        provider = f.provider
        first_party = provider in developers and provider not in catalog.providers
        model_id = f.model
        if model_id is None:
            if not with_models:
                result.skipped_models += 1
                continue
            model_id = _slug(e.model_ref.rsplit("/", 1)[-1])
            if model_id in taken:
                continue
            taken.add(model_id)
            entry: dict[str, Any] = {
                "id": model_id,
                "name": e.name or model_id,
                "family": model_id,
                "developer": provider if first_party else _slug(e.author or provider),
                "description": f"Proposed from {snap.label}: not reviewed against the developer's pages.",
                "access": {"modes": ["api", "open_weights"] if e.open_weights else ["api"], "source": REF_ID},
            }
            if ctx := _context(e):
                entry["context"] = ctx
            if first_party:  # a developer's own API: the price belongs to the model itself
                entry["pricing"] = [_price(e)]
                if lc := _lifecycle(e, snap.read_on):
                    entry["lifecycle"] = lc
            models.append(entry)
            if first_party:
                continue
        elif first_party:
            continue  # a developer's own API price for a curated model: listed by `check`, not patched
        if provider not in catalog.providers and provider not in providers:
            providers[provider] = {"id": provider, "name": e.provider, "source": REF_ID}
        offer: dict[str, Any] = {
            "model": model_id,
            "provider": provider,
            "provider_model_id": e.model_ref,
            "source": REF_ID,
            "pricing": [_price(e)],
        }
        if ctx := _context(e):
            offer["context"] = ctx
        if lc := _lifecycle(e, snap.read_on):
            offer["lifecycle"] = lc
        offers.append(offer)
    ref = _reference(snap)
    head = f"Proposed by `llmatlas catalog sync --from {snap.dataset}` on {dt.date.today()}: {snap.label}"
    offers_doc = None
    if offers:
        declared = list(providers.values())
        # an offers file must declare its providers; the catalog's own stay as curated (first wins)
        for pid in sorted({o["provider"] for o in offers} - set(providers)):
            prov = catalog.providers[pid]
            declared.append({"id": pid, "name": prov.name})
        offers_doc = {"_comment": head, "providers": declared, "references": [ref], "offers": offers}
    models_doc = None
    if models:
        models_doc = {
            "_comment": head,
            "developer": {"id": f"{_slug(snap.dataset)}-proposals", "name": f"Proposed from {snap.dataset}"},
            "references": [ref],
            "models": models,
        }
    result.offers, result.models = len(offers), len(models)
    return offers_doc, models_doc, result


def _dump(doc: dict[str, Any]) -> str:
    comment = doc.pop("_comment")
    body = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=110)
    return f"# {comment}\n# Dataset facts, labelled as such; edit or delete freely. Curated files always win.\n{body}"


def write_overlay(
    snap: Snapshot,
    catalog: Catalog,
    directory: Path,
    *,
    with_models: bool = False,
    dry_run: bool = False,
) -> SyncResult:
    """Validate the proposals as the loader will read them, then replace the overlay files."""
    offers_doc, models_doc, result = propose(snap, catalog, with_models=with_models)
    offers_path, models_path = overlay_paths(directory, snap.dataset)
    texts: dict[Path, str | None] = {
        offers_path: _dump(offers_doc) if offers_doc else None,
        models_path: _dump(models_doc) if models_doc else None,
    }
    # the loader's own validation first: a proposal that would not load is never written
    for path, text in texts.items():
        if text is None:
            continue
        if path == models_path:
            load_text(text, str(path))
        else:
            load_offers_text(text, str(path))
    result.dry_run = dry_run
    result.offers_file = str(offers_path) if texts[offers_path] else None
    result.models_file = str(models_path) if texts[models_path] else None
    if dry_run:
        return result
    directory.mkdir(parents=True, exist_ok=True)
    for path, text in texts.items():
        if text is None:
            path.unlink(missing_ok=True)
            continue
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return result
