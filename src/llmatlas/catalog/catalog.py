"""The merged catalog: built-in files, then the user directory, then ``--catalog DIR``.

A later file that defines an id already present *overrides* that entry whole (a user can fix a
price); it may also ``extends:`` a built-in id to change a few blocks only.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from llmatlas.catalog.loader import (
    LoadedFile,
    LoadedOffers,
    builtin_files,
    builtin_offer_files,
    load_any,
    load_file,
    load_offers_file,
)
from llmatlas.catalog.schema import Developer, ExchangeRate, Model, Offer, Provider, Reference
from llmatlas.core.errors import InputError, UnknownModelError
from llmatlas.core.paths import user_models_dir


@dataclass
class Catalog:
    models: dict[str, Model] = field(default_factory=dict)
    developers: dict[str, Developer] = field(default_factory=dict)
    references: dict[tuple[str, str], Reference] = field(default_factory=dict)  # (origin, id)
    exchange_rates: list[ExchangeRate] = field(default_factory=list)
    overridden: dict[str, str] = field(default_factory=dict)  # id -> origin it replaced
    providers: dict[str, Provider] = field(default_factory=dict)
    # hosted offers by model id (the developer's own API is derived from the model: see offers.py)
    hosted: dict[str, list[Offer]] = field(default_factory=dict)
    _aliases: dict[str, str] = field(default_factory=dict)

    def add(self, loaded: LoadedFile) -> None:
        self.developers.setdefault(loaded.developer.id, loaded.developer)
        for ref in loaded.references.values():
            self.references[(loaded.path, ref.id)] = ref
        self.exchange_rates.extend(loaded.exchange_rates)
        for m in loaded.models:
            if m.id in self.models and self.models[m.id].origin != loaded.path:
                self.overridden[m.id] = self.models[m.id].origin or "?"
            self.models[m.id] = m
            for alias in m.aliases:
                self._aliases[alias.lower()] = m.id

    def add_offers(self, loaded: LoadedOffers) -> None:
        """Attach a file's offers to their models; an unknown model id is an error at its line.

        A later file's offer with the same (model, provider, provider id) replaces the earlier one,
        so a user file can correct a price as it can a model.
        """
        for prov in loaded.providers:
            self.providers.setdefault(prov.id, prov)  # the curated (built-in) description wins
        for ref in loaded.references.values():
            self.references[(loaded.path, ref.id)] = ref
        self.exchange_rates.extend(loaded.exchange_rates)
        for i, offer in enumerate(loaded.offers):
            try:
                model = self.get(offer.model)
            except UnknownModelError as exc:
                raise InputError(
                    str(exc), path=loaded.path, line=loaded.lines.get(i), field=f"offers[{i}].model"
                ) from None
            if model.id != offer.model:
                offer = offer.model_copy(update={"model": model.id})
            bucket = self.hosted.setdefault(model.id, [])
            bucket[:] = [o for o in bucket if o.key != offer.key]
            bucket.append(offer)

    def __iter__(self) -> Iterator[Model]:
        return iter(self.models.values())

    def __len__(self) -> int:
        return len(self.models)

    def get(self, model_id: str) -> Model:
        """The model with this id or alias; an unknown id suggests near matches."""
        key = model_id.strip().lower()
        if key in self.models:
            return self.models[key]
        if key in self._aliases:
            return self.models[self._aliases[key]]
        names = list(self.models) + list(self._aliases)
        close = difflib.get_close_matches(key, names, n=3, cutoff=0.6)
        close += [n for n in names if key and key in n and n not in close]
        seen: list[str] = []
        for n in close:
            target = self._aliases.get(n, n)
            if target not in seen:
                seen.append(target)
        raise UnknownModelError(model_id, seen[:5])

    def reference(self, model: Model | Offer, source: str) -> Reference | None:
        """The declared reference a block cites, if ``source`` is a reference id."""
        return self.references.get((model.origin or "", source))

    def source_kind(self, obj: Model | Offer, source: str) -> str:
        """'primary' (the developer's or provider's own page), 'secondary' (a third-party copy) or
        'dataset' (a well-kept public dataset, proposed by `llmatlas catalog sync`)."""
        ref = self.reference(obj, source)
        if ref is not None and ref.dataset:
            return "dataset"
        if ref is not None and ref.secondary:
            return "secondary"
        return "primary"

    def source_url(self, model: Model | Offer, source: str) -> str:
        ref = self.reference(model, source)
        if ref is None:
            return source
        return ref.url or ref.title

    def dump(self, model: Model | Offer, *, titles: bool = False) -> dict[str, Any]:
        """The model as plain data, each ``source`` that names a reference replaced by its URL.

        With ``titles`` a ``source_title`` is added next to it (for JSON output); without, the
        result is a valid catalog entry that another file can ``extends:``.
        """

        def expand(obj: Any) -> Any:
            if isinstance(obj, dict):
                out = {k: expand(v) for k, v in obj.items()}
                src = out.get("source")
                ref = self.reference(model, src) if isinstance(src, str) else None
                if ref is not None:
                    out["source"] = ref.url or ref.title
                    if titles:
                        out["source_title"] = ref.title
                return out
            if isinstance(obj, list):
                return [expand(v) for v in obj]
            return obj

        result: dict[str, Any] = expand(model.model_dump(mode="json"))
        return result

    def usd_per(self, currency: str, on: dt.date | None = None) -> ExchangeRate | None:
        """The most recent exchange rate for ``currency`` known on ``on``."""
        if currency == "USD":
            return None
        when = on or dt.date.today()
        rates = [r for r in self.exchange_rates if r.currency == currency and (r.as_of or dt.date.min) <= when]
        return max(rates, key=lambda r: r.as_of or dt.date.min) if rates else None


def _yaml_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def load_catalog(
    extra_dirs: Sequence[str | Path] = (), *, include_user: bool = True, skip: Sequence[Path] = ()
) -> Catalog:
    """Built-in catalog plus user overrides; raises InputError (file, line, field) on bad files.

    ``skip`` leaves out given files (a sync compares a dataset with the catalog without its own
    earlier proposals)."""
    skipped = {p.resolve() for p in skip}
    cat = Catalog()
    loaded, offers = _builtin()
    for f in loaded:
        cat.add(f)
    for o in offers:
        cat.add_offers(o)
    dirs: list[Path] = [user_models_dir()] if include_user else []
    for d in extra_dirs:
        p = Path(d).expanduser()
        if not p.is_dir():
            raise InputError("catalog directory does not exist", path=p)
        dirs.append(p)
    for d in dirs:
        later: list[LoadedOffers] = []
        for path in _yaml_files(d):
            if path.resolve() in skipped:
                continue
            external = {m.id: _entry(cat.dump(m)) for m in cat}
            got = load_any(path, external)
            if isinstance(got, LoadedOffers):
                later.append(got)  # after the directory's models, which its offers may name
            else:
                cat.add(got)
        for o in later:
            cat.add_offers(o)
    return cat


def _entry(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in ("origin", "developer")}


@lru_cache(maxsize=1)
def _builtin() -> tuple[tuple[LoadedFile, ...], tuple[LoadedOffers, ...]]:
    return tuple(load_file(p) for p in builtin_files()), tuple(load_offers_file(p) for p in builtin_offer_files())
