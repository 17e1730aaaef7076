"""Read catalog YAML files into validated models, with file:line on every error.

Files are parsed with PyYAML's composer so each value keeps the line it came from; a pydantic
error's location is mapped back to that line. Entries may ``extends: other-id`` to inherit every
block of another entry (a chat tune shares its base model's architecture), and a block's ``source``
may name a reference declared at the top of the file, whose URL and date it then inherits.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from llmatlas.catalog.schema import (
    CatalogFile,
    Developer,
    ExchangeRate,
    Model,
    Offer,
    OfferFile,
    Provider,
    Reference,
    Sourced,
)
from llmatlas.core.errors import InputError
from llmatlas.core.yamlparse import Located, YamlPath, dotted, parse_yaml


@dataclass
class LoadedFile:
    """One parsed file before its models are merged into a catalog."""

    path: str
    developer: Developer
    references: dict[str, Reference]
    exchange_rates: list[ExchangeRate]
    models: list[Model]


@dataclass
class LoadedOffers:
    """One parsed offers file: the providers it declares and their offers (model ids not yet checked)."""

    path: str
    providers: list[Provider]
    references: dict[str, Reference]
    exchange_rates: list[ExchangeRate]
    offers: list[Offer]
    lines: dict[int, int | None] = field(default_factory=dict)  # offer index -> line of its 'model'


def _first_error(exc: ValidationError, located: Located, prefix: YamlPath, source: str) -> InputError:
    err = exc.errors()[0]
    loc = tuple(p for p in err["loc"] if isinstance(p, str | int))
    full = (*prefix, *loc)
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown field (check the spelling; see docs/catalog.md)"
    extra = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return InputError(msg + extra, path=source, line=located.line(full), field=dotted(full))


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` wins; blocks (dicts) merge key by key, lists are replaced whole."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


_INHERIT_SKIP = {"id", "name", "aliases", "description", "extends", "variant_of"}


def _resolve_extends(
    raw: list[dict[str, Any]], located: Located, source: str, external: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    by_id = {m.get("id"): m for m in raw if isinstance(m, dict)}
    done: dict[str, dict[str, Any]] = {}

    def resolve(i: int, entry: dict[str, Any], stack: tuple[str, ...]) -> dict[str, Any]:
        parent_id = entry.get("extends")
        if parent_id is None:
            return entry
        if not isinstance(parent_id, str):
            raise InputError(
                "'extends' must name one model id",
                path=source,
                line=located.line(("models", i, "extends")),
                field=f"models[{i}].extends",
            )
        mid = str(entry.get("id"))
        if parent_id in stack:
            raise InputError(
                "circular 'extends'",
                path=source,
                line=located.line(("models", i, "extends")),
                field="extends",
            )
        if parent_id == mid and parent_id in external:
            parent = external[parent_id]  # a user file patching the built-in entry of the same id
        elif parent_id in done:
            parent = done[parent_id]
        elif parent_id in by_id:
            j = raw.index(by_id[parent_id])
            parent = resolve(j, by_id[parent_id], (*stack, mid))
        elif parent_id in external:
            parent = external[parent_id]
        else:
            raise InputError(
                f"'extends' names unknown model '{parent_id}'",
                path=source,
                line=located.line(("models", i, "extends")),
                field=f"models[{i}].extends",
            )
        inherited = {k: v for k, v in parent.items() if k not in _INHERIT_SKIP}
        merged = _deep_merge(inherited, {k: v for k, v in entry.items() if k != "extends"})
        merged.setdefault("variant_of", parent_id)
        return merged

    out = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise InputError(
                "each model must be a mapping",
                path=source,
                line=located.line(("models", i)),
                field=f"models[{i}]",
            )
        merged = resolve(i, entry, ())
        done[str(entry.get("id"))] = merged
        out.append(merged)
    return out


def _resolve_sources(obj: Any, refs: dict[str, Reference]) -> Any:
    """Fill ``as_of`` of every block whose ``source`` names a reference; leave URLs as they are."""
    if isinstance(obj, dict):
        out = {k: _resolve_sources(v, refs) for k, v in obj.items()}
        src = out.get("source")
        if isinstance(src, str) and src in refs and out.get("as_of") is None:
            out["as_of"] = refs[src].as_of
        return out
    if isinstance(obj, list):
        return [_resolve_sources(v, refs) for v in obj]
    return obj


def _check_sources(
    model: BaseModel, refs: dict[str, Reference], located: Located, i: int, source: str, key: str = "models"
) -> None:
    """Every block needs a date and a source that is a reference id, a URL or a document path."""
    blocks = list(iter_blocks(model))
    if isinstance(model, Sourced):
        blocks.insert(0, ("", model))
    for name, block in blocks:
        src = block.source
        known = src in refs or "://" in src or src.startswith(("doi:", "arXiv:", "arxiv:", "file:", "/"))
        where: YamlPath = (key, i, *name.split(".")) if name else (key, i, "source")
        dotted = f"{key}[{i}]." + (f"{name}." if name else "")
        if not known:
            raise InputError(
                f"source '{src}' is neither a declared reference id nor a URL/document",
                path=source,
                line=located.line(where),
                field=dotted + "source",
            )
        if block.as_of is None:
            raise InputError(
                "missing 'as_of' (give it, or cite a reference that has one)",
                path=source,
                line=located.line(where),
                field=dotted + "as_of",
            )


def iter_blocks(model: BaseModel) -> Iterator[tuple[str, Sourced]]:
    """Every sourced block of a model (or offer), named like 'architecture' or 'benchmarks.2'."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, Sourced):
            yield name, value
        elif isinstance(value, list):
            for j, item in enumerate(value):
                if isinstance(item, Sourced):
                    yield f"{name}.{j}", item


def _read(path: str | Path, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {what}: {exc}", path=path) from None


def load_file(path: str | Path, external: dict[str, dict[str, Any]] | None = None) -> LoadedFile:
    """Load and validate one catalog file; raises InputError naming file, line and field."""
    return load_text(_read(path, "catalog file"), str(path), external)


def load_text(text: str, source: str, external: dict[str, dict[str, Any]] | None = None) -> LoadedFile:
    located = parse_yaml(text, source)
    if not isinstance(located.data, dict):
        raise InputError("a catalog file must be a mapping with 'developer' and 'models'", path=source, line=1)
    return _load_models(located, source, external)


def is_offers_file(data: Any) -> bool:
    """An offers file names a provider (or providers) and no developer."""
    return isinstance(data, dict) and "developer" not in data and ("provider" in data or "providers" in data)


def load_any(path: str | Path, external: dict[str, dict[str, Any]] | None = None) -> LoadedFile | LoadedOffers:
    """A user directory mixes model files and offers files: tell them apart by their top-level keys."""
    located = parse_yaml(_read(path, "catalog file"), str(path))
    if is_offers_file(located.data):
        return _load_offers(located, str(path))
    if not isinstance(located.data, dict):
        raise InputError("a catalog file must be a mapping with 'developer' and 'models'", path=str(path), line=1)
    return _load_models(located, str(path), external)


def load_offers_file(path: str | Path) -> LoadedOffers:
    """Load and validate one offers file (``catalog/data/offers/<provider>.yaml``)."""
    return load_offers_text(_read(path, "offers file"), str(path))


def load_offers_text(text: str, source: str) -> LoadedOffers:
    located = parse_yaml(text, source)
    if not is_offers_file(located.data):
        raise InputError("an offers file must be a mapping with 'provider' and 'offers'", path=source, line=1)
    return _load_offers(located, source)


def _load_offers(located: Located, source: str) -> LoadedOffers:
    try:
        of = OfferFile.model_validate(located.data)
    except ValidationError as exc:
        raise _first_error(exc, located, (), source) from None
    refs = {r.id: r for r in of.references}
    providers = of.all_providers()
    ids = {p.id for p in providers}
    offers: list[Offer] = []
    lines: dict[int, int | None] = {}
    for i, entry in enumerate(of.offers):
        resolved = _resolve_sources(entry, refs)
        if len(providers) == 1:
            resolved.setdefault("provider", providers[0].id)
        resolved["origin"] = source
        try:
            offer = Offer.model_validate(resolved)
        except ValidationError as exc:
            raise _first_error(exc, located, ("offers", i), source) from None
        if offer.provider not in ids:
            declared = ", ".join(sorted(ids))
            raise InputError(
                f"provider '{offer.provider or '(none)'}' is not declared in this file (declared: {declared})",
                path=source,
                line=located.line(("offers", i, "provider")),
                field=f"offers[{i}].provider",
            )
        _check_sources(offer, refs, located, i, source, key="offers")
        lines[i] = located.line(("offers", i, "model"))
        offers.append(offer)
    rates = [ExchangeRate.model_validate(_resolve_sources(r.model_dump(), refs)) for r in of.exchange_rates]
    return LoadedOffers(source, providers, refs, rates, offers, lines)


def _load_models(located: Located, source: str, external: dict[str, dict[str, Any]] | None) -> LoadedFile:
    try:
        cat = CatalogFile.model_validate(located.data)
    except ValidationError as exc:
        raise _first_error(exc, located, (), source) from None
    refs = {r.id: r for r in cat.references}
    raw = _resolve_extends(cat.models, located, source, external or {})
    models: list[Model] = []
    for i, entry in enumerate(raw):
        resolved = _resolve_sources(entry, refs)
        resolved.setdefault("developer", cat.developer.id)  # a dataset overlay names each model's developer
        resolved["origin"] = source
        try:
            model = Model.model_validate(resolved)
        except ValidationError as exc:
            raise _first_error(exc, located, ("models", i), source) from None
        _check_sources(model, refs, located, i, source)
        models.append(model)
    rates = [ExchangeRate.model_validate(_resolve_sources(r.model_dump(), refs)) for r in cat.exchange_rates]
    return LoadedFile(source, cat.developer, refs, rates, models)


def builtin_files() -> list[Path]:
    """The YAML files shipped in the package, one per developer."""
    root = resources.files("llmatlas.catalog") / "data"
    return sorted(Path(str(p)) for p in root.iterdir() if p.name.endswith((".yaml", ".yml")))


def builtin_offer_files() -> list[Path]:
    """The offers files shipped in the package, one per provider (``data/offers/``)."""
    root = resources.files("llmatlas.catalog") / "data" / "offers"
    if not root.is_dir():
        return []
    return sorted(Path(str(p)) for p in root.iterdir() if p.name.endswith((".yaml", ".yml")))
