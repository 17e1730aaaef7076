"""Hard filters: requirements a model must meet, each failure explained with the facts behind it.

A filter returns ``None`` when the model passes, or an :class:`Exclusion`. Legal and data-location
requirements are strict about unknowns (an undisclosed license is not a commercial license);
languages are strict only about what is known to be missing — undocumented support is scored as
unknown in the ranking instead.
"""

from __future__ import annotations

from collections.abc import Callable

from llmatlas.advise.requirements import Requirements
from llmatlas.advise.schema import Exclusion
from llmatlas.advise.sources import SourceBook
from llmatlas.catalog.catalog import Catalog
from llmatlas.catalog.lifecycle import lifecycle_on
from llmatlas.catalog.offers import offer_label, offers_for, provider_name
from llmatlas.catalog.schema import Model, Offer

LANGUAGE_SYNONYMS = {
    "chinese": {"chinese", "zh", "mandarin", "中文", "simplified chinese", "traditional chinese"},
    "english": {"english", "en"},
}

Filter = Callable[[Model, Requirements, SourceBook], Exclusion | None]


# What each hard filter is called where people read it (reports, the summary, the web).
FILTER_NAMES: dict[str, str] = {
    "scope": "Out of scope",
    "lifecycle": "Retired or deprecated",
    "kind": "Model kind",
    "license": "License",
    "on_premises": "On-premises (open weights)",
    "hardware": "Hardware",
    "fine_tuning": "Fine-tuning",
    "context": "Context length",
    "languages": "Languages",
    "budget": "Budget",
    "hosting": "Hosting",
    "latency": "Latency",
    "models": "Not in the requested list",
    "exclude": "Excluded by you",
}


def filter_name(name: str) -> str:
    """A filter's name in words (``on_premises`` → "On-premises (open weights)")."""
    return FILTER_NAMES.get(name, name.replace("_", " ").capitalize())


def exclusion(model: Model, name: str, reason: str, sources: list[str] | None = None) -> Exclusion:
    return Exclusion(model=model.id, name=model.name, filter=name, reason=reason, sources=sources or [])


def open_weights(model: Model) -> bool:
    return bool(model.access and "open_weights" in model.access.modes and model.access.self_hostable is not False)


def has_api(model: Model) -> bool:
    return bool(model.access and "api" in model.access.modes)


def scope(model: Model, req: Requirements, book: SourceBook) -> Exclusion | None:
    if model.id in req.exclude or any(a in req.exclude for a in model.aliases):
        return exclusion(model, "scope", "excluded by the requirements file ('exclude')", [book.requirements(None)])
    if req.models is not None and model.id not in req.models and not set(model.aliases) & set(req.models):
        return exclusion(model, "scope", "not in the requirements file's 'models' list", [book.requirements(None)])
    return None


def region_matches(wanted: list[str], regions: list[str]) -> bool:
    """'eu' matches 'eu-central-1', 'EU' and 'eu (frankfurt)'; 'us-east-1' matches only itself."""
    have = [r.strip().lower() for r in regions]
    for w in (x.strip().lower() for x in wanted):
        if any(r == w or r.startswith((f"{w}-", f"{w} ", f"{w}(")) for r in have):
            return True
    return False


def offer_problem(model: Model, offer: Offer, req: Requirements, catalog: Catalog) -> str | None:
    """Why an API offer cannot serve the requirements (None when it can): lifecycle on the decision
    date, provider allowed, data region, the provider's number format, context limit."""
    state = lifecycle_on(model, req.on, offer=offer)
    if not state.usable:
        return state.text()
    price = offer.current_price(req.on, prompt_tokens=req.workload.input_tokens)
    if price is not None and price.input_per_m == 0 and price.output_per_m == 0:
        return "listed free: a rate-limited free tier, not a priced production offer"
    hosting = req.hosting
    if hosting.providers is not None:
        allowed = {p.strip().lower() for p in hosting.providers}
        if offer.provider not in allowed and provider_name(catalog, offer).lower() not in allowed:
            listed = ", ".join(hosting.providers)
            return f"provider {provider_name(catalog, offer)} not in the accepted providers ({listed})"
    if req.data_regions:
        if offer.regions is None:
            return f"serving region undisclosed; data must stay in {', '.join(req.data_regions)}"
        if not region_matches(req.data_regions, offer.regions.names):
            return f"served in {', '.join(offer.regions.names)}; data must stay in {', '.join(req.data_regions)}"
    if hosting.offer_quantizations is not None and not offer.first_party:
        accepted = {q.strip().lower() for q in hosting.offer_quantizations}
        if offer.quantization is None:
            return f"number format undisclosed; accepted: {', '.join(hosting.offer_quantizations)}"
        if offer.quantization.name.lower() not in accepted:
            return f"served at {offer.quantization.name}; accepted: {', '.join(hosting.offer_quantizations)}"
    need = max(req.min_context or 0, req.workload.input_tokens + req.workload.output_tokens)
    ctx = offer.context.tokens if offer.context else None
    if ctx is not None and ctx < need:
        return f"the provider accepts {ctx:,} tokens < {need:,} needed"
    return None


def api_offers(model: Model, req: Requirements, catalog: Catalog) -> tuple[list[Offer], list[str]]:
    """The offers that can serve the requirements, and why each other one cannot."""
    good: list[Offer] = []
    why: list[str] = []
    for offer in offers_for(catalog, model):
        problem = offer_problem(model, offer, req, catalog)
        if problem is None:
            good.append(offer)
        else:
            why.append(f"{offer_label(catalog, offer)}: {problem}")
    return good, why


def lifecycle(model: Model, req: Requirements, book: SourceBook) -> Exclusion | None:
    """Not released by the decision date, or only reachable through an API retired by then.

    Released weights never retire: an open-weight model whose hosted API was shut down stays a
    self-hosting candidate (its API deployment is dropped in the advisor instead).
    """
    state = lifecycle_on(model, req.on)
    if state.status == "unreleased":
        when = model.release.date if model.release else "later"
        src = [book.catalog_fact(model, model.release)] if model.release else []
        return exclusion(model, "lifecycle", f"released {when}, after the decision date {req.on}", src)
    if state.retired and not open_weights(model):
        src = [book.catalog_fact(model, model.lifecycle)] if model.lifecycle else []
        return exclusion(model, "lifecycle", f"{state.text()} (API no longer answers on {req.on})", src)
    return None


def kind(model: Model, req: Requirements, book: SourceBook) -> Exclusion | None:
    if model.kind not in req.kinds:
        why = {
            "encoder": "an encoder (classifies and embeds, does not generate text)",
            "embedding": "an embedding model (returns vectors, not text)",
            "generative": "a generative model",
        }[model.kind]
        return exclusion(model, "kind", f"{why}; the requirements ask for {', '.join(req.kinds)}")
    return None


def license_(model: Model, req: Requirements, book: SourceBook) -> Exclusion | None:
    if not req.commercial_use:
        return None
    lic = model.license
    if lic is None or lic.commercial_use is None:
        src = [book.catalog_fact(model, lic)] if lic else []
        name = f"license {lic.name}: " if lic else ""
        return exclusion(model, "license", f"{name}commercial use undisclosed; commercial use is required", src)
    src = [book.catalog_fact(model, lic)]
    if lic.commercial_use == "no":
        return exclusion(model, "license", f"license {lic.name} does not allow commercial use", src)
    if lic.commercial_use == "conditional" and not req.allow_conditional_license:
        return exclusion(model, "license", f"license {lic.terms()}; unconditional commercial use is required", src)
    return None


def on_premises(model: Model, req: Requirements, book: SourceBook) -> Exclusion | None:
    if not req.on_premises:
        return None
    src = [book.catalog_fact(model, model.access)] if model.access else []
    if model.access is None:
        return exclusion(
            model, "on_premises", "access undisclosed: cannot confirm the weights can run on premises", src
        )
    if not open_weights(model):
        modes = ", ".join(model.access.modes)
        return exclusion(
            model, "on_premises", f"weights not released ({modes} only): data would leave your premises", src
        )
    return None


def hosting(model: Model, req: Requirements, book: SourceBook) -> Exclusion | None:
    mode = req.hosting.mode
    src = [book.catalog_fact(model, model.access)] if model.access else []
    offers = offers_for(book.catalog, model)
    if mode == "api" and not offers:
        return exclusion(model, "hosting", "no API offered; the requirements ask for an API", src)
    if mode == "api" and not any(lifecycle_on(model, req.on, offer=o).usable for o in offers):
        lc = [book.catalog_fact(model, model.lifecycle)] if model.lifecycle else src
        state = lifecycle_on(model, req.on).text() if has_api(model) else "every hosted offer retired"
        return exclusion(model, "lifecycle", f"API {state}; the requirements ask for an API", lc)
    if mode == "self-host" and not open_weights(model):
        return exclusion(model, "hosting", "weights not released: cannot be self-hosted", src)
    if mode == "either" and not offers and not open_weights(model):
        return exclusion(model, "hosting", "neither an API nor released weights (chat product only)", src)
    return None


def fine_tuning(model: Model, req: Requirements, book: SourceBook) -> Exclusion | None:
    if not req.fine_tuning:
        return None
    ft = model.fine_tuning
    src = [book.catalog_fact(model, ft)] if ft else []
    if ft is not None and ft.available is False:
        return exclusion(model, "fine_tuning", "the developer does not offer fine-tuning", src)
    if ft is not None and ft.available:
        return None
    if open_weights(model):
        return None  # released weights can be fine-tuned; the candidate carries a warning
    return exclusion(model, "fine_tuning", "no fine-tuning documented for this API model; fine-tuning is required", src)


def context(model: Model, req: Requirements, book: SourceBook) -> Exclusion | None:
    need = max(req.min_context or 0, req.workload.input_tokens + req.workload.output_tokens)
    ctx = model.context_tokens
    if ctx is None:
        return exclusion(model, "context", f"context length undisclosed; {need:,} tokens are needed")
    if ctx < need:
        what = "min_context" if req.min_context and req.min_context >= need else "input + output tokens per request"
        src = [book.catalog_fact(model, model.context)] if model.context else []
        return exclusion(model, "context", f"context {ctx:,} tokens < {need:,} needed ({what})", src)
    return None


def language_support(model: Model, language: str) -> float | None:
    """1 documented, 0.5 only "multilingual", 0 documented as missing, None unknown."""
    langs = model.languages
    if langs is None:
        return None
    key = language.strip().lower()
    want = next((names for names in LANGUAGE_SYNONYMS.values() if key in names), {key})
    names = {n.lower() for n in langs.names}
    if names & want:
        return 1.0
    if "chinese" in want and langs.chinese is not None:
        return 1.0 if langs.chinese else 0.0
    if langs.multilingual:
        return 0.5
    if names or langs.multilingual is False:
        return 0.0
    return None


def languages(model: Model, req: Requirements, book: SourceBook) -> Exclusion | None:
    missing = [lang for lang in req.languages if language_support(model, lang) == 0.0]
    if missing:
        langs = model.languages
        src = [book.catalog_fact(model, langs)] if langs else []
        listed = ", ".join(langs.names) if langs and langs.names else "not multilingual"
        return exclusion(model, "languages", f"{', '.join(missing)} not supported (documented: {listed})", src)
    return None


FILTERS: tuple[tuple[str, Filter], ...] = (
    ("scope", scope),
    ("lifecycle", lifecycle),
    ("kind", kind),
    ("license", license_),
    ("on_premises", on_premises),
    ("hosting", hosting),
    ("fine_tuning", fine_tuning),
    ("context", context),
    ("languages", languages),
)


def first_failure(model: Model, req: Requirements, book: SourceBook) -> Exclusion | None:
    """The first filter the model fails (filters run in the order a reader would check them)."""
    for _, check in FILTERS:
        out = check(model, req, book)
        if out is not None:
            return out
    return None
