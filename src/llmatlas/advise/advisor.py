"""Requirements → hard filters → deployment and cost → quality → ranking, frontier, sensitivity.

The one entry point is :func:`recommend`. It never drops a model silently: a model either becomes
a candidate with the evidence behind its rank, or an exclusion with the reason and the numbers.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from llmatlas.advise import deploy, filters, quality, rank
from llmatlas.advise.requirements import CRITERIA, Criterion, Requirements
from llmatlas.advise.schema import (
    Candidate,
    CriterionScore,
    Evidence,
    Exclusion,
    Fact,
    Measurement,
    Recommendation,
    SelfHostPlan,
    TaskQuality,
)
from llmatlas.advise.sources import SourceBook
from llmatlas.catalog.catalog import Catalog
from llmatlas.catalog.lifecycle import SOON_DAYS, lifecycle_on
from llmatlas.catalog.offers import offer_label
from llmatlas.catalog.schema import Model, Offer
from llmatlas.estimate.breakeven import HOURS_PER_MONTH
from llmatlas.estimate.speed import SERVING_EFFICIENCY


@dataclass
class _Draft:
    model: Model
    deployment: str
    deployment_text: str
    cost: Fact
    speed: Fact
    latency: Fact
    plan: SelfHostPlan | None = None
    offer: Offer | None = None
    alternatives: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    tasks: list[TaskQuality] = field(default_factory=list)


def _seconds(v: float) -> str:
    return f"{v * 1000:.0f} ms" if v < 1 else f"{v:.1f} s"


def _money(v: float | None) -> str:
    return "unknown" if v is None else f"${v:,.0f}"


def _api_latency(
    model: Model,
    offer: Offer,
    req: Requirements,
    speeds: dict[tuple[str, str], tuple[float, float, str, int]],
    book: SourceBook,
) -> tuple[Fact, Fact]:
    """Latency and tokens/s of an API offer: measured here if a run exists, else the provider's
    published figures, else unknown."""
    got = speeds.get((model.id, offer.provider))
    if got is None:
        return _published_speed(offer, req, book)
    ttft, tps, run_id, n = got
    src = [book.run(run_id, f"llmatlas run {run_id}: {model.id} via {offer.provider} ({n} outputs)", None)]
    latency = ttft + req.workload.output_tokens / tps if tps > 0 else None
    return (
        Fact(
            value=latency,
            text=_seconds(latency) if latency else "unknown",
            unit="s",
            evidence="measured" if latency else "unknown",
            sources=src,
            note=f"TTFT p50 {ttft:.2f} s + {req.workload.output_tokens} tokens at {tps:.0f} tok/s (p50)",
        ),
        Fact(value=tps, text=f"{tps:.0f} tok/s", unit="tok/s", evidence="measured", sources=src),
    )


def _published_speed(offer: Offer, req: Requirements, book: SourceBook) -> tuple[Fact, Fact]:
    """The provider's published throughput (and TTFT) as reported evidence; unknown without them."""
    sp = offer.speed
    if sp is None or sp.output_tokens_per_s is None:
        why = "no measurement of this API here and no published speed (run `llmatlas recommend --eval` with an API key)"
        return Fact(text="unknown", evidence="unknown", note=why), Fact(text="unknown", evidence="unknown", note=why)
    src = [book.catalog_fact(offer, sp)]
    tps = sp.output_tokens_per_s
    out = req.workload.output_tokens
    latency = (sp.ttft_s or 0.0) + out / tps
    how = (
        f"TTFT {sp.ttft_s:g} s + {out} tokens at {tps:g} tok/s (published by the provider)"
        if sp.ttft_s is not None
        else f"{out} tokens at {tps:g} tok/s (published by the provider; time to first token not published)"
    )
    return (
        Fact(value=latency, text=_seconds(latency), unit="s", evidence="reported", sources=src, note=how),
        Fact(value=tps, text=f"{tps:.0f} tok/s", unit="tok/s", evidence="reported", sources=src, note=sp.note),
    )


def _plan_speed(plan: SelfHostPlan, book: SourceBook) -> tuple[Fact, Fact]:
    src = [book.estimate("speed")]
    lat = (
        Fact(
            value=plan.latency_s,
            text=_seconds(plan.latency_s),
            unit="s",
            evidence="estimated",
            sources=src,
            note=f"prefill + output at batch {plan.batch}, {SERVING_EFFICIENCY:.0%} of the roofline bound",
        )
        if plan.latency_s is not None
        else Fact(text="unknown", evidence="unknown", note="hardware bandwidth/FLOPs unknown")
    )
    tps = (
        Fact(
            value=plan.decode_tokens_per_s,
            text=f"{plan.decode_tokens_per_s:.0f} tok/s",
            unit="tok/s",
            evidence="estimated",
            sources=src,
        )
        if plan.decode_tokens_per_s is not None
        else Fact(text="n/a" if plan.latency_s is not None else "unknown", evidence="unknown")
    )
    return lat, tps


def _deployment_text(plan: SelfHostPlan) -> str:
    gpus = plan.gpus_per_replica * plan.replicas
    rep = f" ({plan.replicas} replicas)" if plan.replicas > 1 else ""
    return f"self-host: {gpus} × {plan.hardware_name}{rep}, {plan.quant}"


def _options(
    model: Model,
    req: Requirements,
    catalog: Catalog,
    book: SourceBook,
    api_ref: float,
    speeds: dict[tuple[str, str], tuple[float, float, str, int]],
) -> tuple[list[_Draft], list[str]]:
    """The deployments a model could have under the requirements (each API offer: the developer's
    own and every hosted provider's; self-hosting), and why the others fail."""
    drafts: list[_Draft] = []
    why: list[str] = []
    mode = req.hosting.mode
    if mode != "self-host" and not req.on_premises:
        offers, refused = filters.api_offers(model, req, catalog)
        why.extend(refused)
        for offer in offers:
            cost = deploy.api_cost(model, req, catalog, book, offer)
            latency, tps = _api_latency(model, offer, req, speeds, book)
            drafts.append(_Draft(model, "api", offer_label(catalog, offer), cost, tps, latency, offer=offer))
    own = [d for d in drafts if d.cost.value]
    if own:  # self-hosting this model is compared with its own cheapest API offer (per request)
        api_ref = min(d.cost.value or math.inf for d in own) / req.workload.requests_per_month
    if filters.open_weights(model) and mode != "api":
        res = deploy.plan_selfhost(model, req, api_ref)
        if res.plan is None:
            why.append(f"self-host: {res.reason}")
        else:
            plan = res.plan
            if own and plan.breakeven_requests_per_month is not None:
                cheapest = min(own, key=lambda d: d.cost.value or math.inf)
                plan.breakeven_vs = f"{model.name} {cheapest.deployment_text}"
            latency, tps = _plan_speed(plan, book)
            cost = deploy.plan_fact(plan, book, res.rig)
            drafts.append(_Draft(model, "self-host", _deployment_text(plan), cost, tps, latency, plan=plan))
    return drafts, why


def _budget_ok(d: _Draft, req: Requirements) -> bool:
    budget = req.budget_usd_per_month
    return budget is None or (d.cost.value is not None and d.cost.value <= budget)


def _choose(drafts: list[_Draft], req: Requirements) -> tuple[_Draft | None, str | None]:
    """The cheaper deployment within budget (known costs first); or why none qualifies."""
    ok = [d for d in drafts if _budget_ok(d, req)]
    if ok:
        best = min(ok, key=lambda d: d.cost.value if d.cost.value is not None else math.inf)
        for other in drafts:
            if other is not best:
                best.alternatives.append(f"{other.deployment_text}: {other.cost.text or _money(other.cost.value)}")
        return best, None
    budget = req.budget_usd_per_month
    parts = []
    for d in drafts:
        if d.cost.value is None:
            parts.append(
                f"{d.deployment_text} cost unknown ({d.cost.note}); cannot check against the budget {_money(budget)}"
            )
        else:
            parts.append(f"{d.deployment_text} costs {_money(d.cost.value)}/month > budget {_money(budget)}")
    return None, "; ".join(parts)


def _latency_check(d: _Draft, req: Requirements) -> str | None:
    """A known latency or speed that misses the target excludes; an unknown one only warns."""
    lat = req.latency
    if lat is None:
        return None
    if lat.max_seconds is not None:
        if d.latency.value is None:
            d.warnings.append(f"latency target {lat.max_seconds:g} s not verified (latency unknown)")
        elif d.latency.value > lat.max_seconds:
            return f"{d.deployment_text}: ≈ {d.latency.value:.1f} s per request > target {lat.max_seconds:g} s"
    if lat.min_tokens_per_s is not None and d.model.kind == "generative":
        if d.speed.value is None:
            d.warnings.append(f"speed target {lat.min_tokens_per_s:g} tok/s not verified (speed unknown)")
        elif d.speed.value < lat.min_tokens_per_s:
            return f"{d.deployment_text}: ≈ {d.speed.value:.0f} tok/s < target {lat.min_tokens_per_s:g} tok/s"
    return None


def _context_fact(model: Model, book: SourceBook, offer: Offer | None = None) -> Fact:
    """The context the deployment accepts: a hosted provider's limit where it states one (it may
    serve less than the model's native window), else the model's."""
    if offer is not None and not offer.first_party and offer.context is not None and offer.context.tokens:
        block = offer.context
        kind = book.catalog.source_kind(offer, block.source)
        evidence: Evidence = "dataset" if kind == "dataset" else "reported"
        src = [book.catalog_fact(offer, block)]
        n = offer.context.tokens
        return Fact(value=float(n), text=f"{n:,} tokens", unit="tokens", evidence=evidence, sources=src)
    ctx = model.context_tokens
    if ctx is None:
        return Fact(text="unknown", evidence="unknown")
    src = [book.catalog_fact(model, model.context)] if model.context else []
    note = (
        "the model's own window: the provider's limit is undisclosed (providers often serve less)"
        if offer is not None and not offer.first_party
        else None
    )
    return Fact(value=float(ctx), text=f"{ctx:,} tokens", unit="tokens", evidence="reported", sources=src, note=note)


def _languages_fact(model: Model, req: Requirements, book: SourceBook) -> Fact:
    if not req.languages:
        return Fact(value=1.0, text="no requirement", evidence="reported")
    support = {lang: filters.language_support(model, lang) for lang in req.languages}
    known = [v for v in support.values() if v is not None]
    src = [book.catalog_fact(model, model.languages)] if model.languages else []
    words = {1.0: "documented", 0.5: "multilingual, not listed", 0.0: "missing"}
    text = ", ".join(f"{lang}: {words[v] if v is not None else 'unknown'}" for lang, v in support.items())
    if not known:
        return Fact(value=None, text=text, evidence="unknown", sources=src, note="languages undocumented")
    value = sum(v or 0.0 for v in support.values()) / len(support)
    return Fact(value=value, text=text, evidence="reported", sources=src)


def _lifecycle_warning(d: _Draft, req: Requirements) -> None:
    """An API whose shutdown is announced within a year, or whose lifecycle is undisclosed."""
    if d.deployment != "api":
        return
    state = lifecycle_on(d.model, req.on, offer=d.offer)
    if state.shutdown_soon(SOON_DAYS):
        repl = f"; replacement {state.replacement}" if state.replacement else ""
        d.warnings.append(
            f"API shutdown announced for {state.shutdown} ({state.days_left()} days after {req.on}){repl}"
        )
    elif state.status == "deprecated":
        d.warnings.append(f"API deprecated ({state.text()})")
    elif state.status is None:
        who = "API" if d.offer is None or d.offer.first_party else "offer"
        d.warnings.append(f"{who} lifecycle undisclosed in the catalog (no deprecation page entry found)")
    elif state.status == "preview":
        d.warnings.append("API in preview: may change or be withdrawn without the usual notice")


def _warnings(d: _Draft, req: Requirements) -> None:
    m = d.model
    _lifecycle_warning(d, req)
    lic = m.license
    if lic is not None and lic.commercial_use == "conditional":
        d.warnings.append(f"license {lic.terms()}")
    if req.fine_tuning and (m.fine_tuning is None or not m.fine_tuning.available) and filters.open_weights(m):
        d.warnings.append("fine-tuning: open weights, but no recipe documented in the catalog")
    if d.plan is not None:
        d.warnings.extend(n for n in d.plan.notes if "expect a small loss" in n or "owned hardware" in n)


def _explain(c: Criterion, fact: Fact, score: float, weight: float) -> str:
    label = fact.text or ("unknown" if fact.value is None else f"{fact.value:g}")
    base = f"{label} [{fact.evidence}]"
    if fact.value is None and c != "languages":
        base += " — unknown: scored as the worst candidate"
    elif c == "languages" and fact.evidence == "unknown":
        base += " — undocumented: scored 0"
    if fact.note:
        base += f"; {fact.note}"
    return f"{base}; score {score:.2f} × weight {weight:.2f}"


def _weights(req: Requirements) -> dict[Criterion, float]:
    w = req.weights.as_dict()
    if not req.languages:
        w["languages"] = 0.0  # nothing to judge
    return rank.normalize_weights(w)


def _summary(
    rec_cands: list[Candidate], excluded: list[Exclusion], req: Requirements, stable: bool, sens_top: list[str]
) -> list[str]:
    lines: list[str] = []
    if not rec_cands:
        counts = Counter(e.filter for e in excluded)
        lines.append(
            "No model meets every requirement. Exclusions by filter: "
            + ", ".join(f"{k} {v}" for k, v in counts.most_common())
            + ". Relax the strictest one (see the exclusions) and run again."
        )
        return lines
    top = rec_cands[0]
    lines.append(
        f"Recommended for {req.name}: {top.name} ({top.deployment_text}) — quality {top.quality.text}/100 "
        f"[{top.quality.evidence}], {top.monthly_cost.text} [{top.monthly_cost.evidence}], "
        f"latency {top.latency.text} [{top.latency.evidence}]."
    )
    if len(rec_cands) > 1:
        second = rec_cands[1]
        lines.append(
            f"Runner-up: {second.name} ({second.deployment_text}), total {second.total:.2f} vs {top.total:.2f}; "
            f"quality {second.quality.text}, {second.monthly_cost.text}."
        )
    cheapest = min(
        (c for c in rec_cands if c.pareto and c.monthly_cost.value is not None),
        key=lambda c: c.monthly_cost.value or 0.0,
        default=None,
    )
    if cheapest is not None and cheapest.model != top.model:
        lines.append(
            f"Cheapest on the quality/cost/speed frontier: {cheapest.name} at {cheapest.monthly_cost.text} "
            f"(quality {cheapest.quality.text})."
        )
    gaps = [
        f"{c.name} ({', '.join(t.task for t in c.tasks if t.filled)})"
        for c in rec_cands[: req.shortlist]
        if any(t.filled for t in c.tasks)
    ]
    if gaps:
        lines.append(
            "No score for some weighted tasks, counted at the catalog's lowest: "
            + "; ".join(gaps)
            + ". Measure them with `llmatlas recommend --eval` or `llmatlas eval`."
        )
    counts = Counter(e.filter for e in excluded if e.filter != "scope")
    if counts:
        lines.append(
            f"Excluded {sum(counts.values())} models — "
            + ", ".join(f"{filters.filter_name(k).lower()} {v}" for k, v in counts.most_common())
            + " — each with its reason below."
        )
    if stable:
        lines.append("The first choice holds when any weight moves by ±20%.")
    else:
        alt = ", ".join(sorted(set(sens_top)))
        lines.append(f"The first choice is sensitive to the weights: a ±20% change can make {alt} first.")
    return lines


def _assumptions(req: Requirements) -> list[str]:
    w = req.workload
    return [
        f"Monthly volume: {w.requests_per_day:,.0f} requests/day × 365/12 = {w.requests_per_month:,.0f} requests.",
        f"Decision date {req.on}: models released by then, APIs not retired by then (lifecycle from the "
        "developers' deprecation pages), the price in force that day for the workload's prompt size "
        "(USD; CNY converted at the catalog's sourced rate); shutdowns within a year are warned about.",
        f"Self-hosting: batches small enough that each reply streams at ≥ "
        f"{deploy.min_tokens_per_s(req):g} tok/s; {SERVING_EFFICIENCY:.0%} of the roofline bounds "
        "(decode: memory bandwidth; prefill: "
        f"peak FLOP/s), average GPU load {req.hosting.utilization:.0%}, {HOURS_PER_MONTH:g} hours a month; "
        "GPUs in a replica are tensor-parallel (memory, bandwidth and FLOP/s add up).",
        "Memory: weights + KV cache of one request at the needed context + 512 MiB runtime overhead per GPU; "
        f"up to {deploy.MAX_BATCH} concurrent sequences as the KV budget allows.",
        "Quality: per task category, its benchmarks calibrated onto one scale (a one-factor fit over the catalog's "
        "reported scores, models released by the decision date), 100 × Φ(θ); weighted mean over categories; a score "
        "measured here replaces the reported one; a category with no score counts at the lowest value in the catalog.",
        "Scores of different shots/methods are compared as published (see each score's shots and method).",
        "Criteria are scored 0–1 among candidates (log scale for cost, latency and context"
        + ("; cost as 1 − cost/budget" if req.budget_usd_per_month else "")
        + "); an unknown value scores 0 (as the worst candidate).",
    ]


def recommend(
    req: Requirements,
    catalog: Catalog,
    *,
    measurements: dict[tuple[str, str], Measurement] | None = None,
    api_speeds: dict[tuple[str, str], tuple[float, float, str, int]] | None = None,
    requirements_path: str | Path | None = None,
) -> Recommendation:
    """Rank the catalog's models for ``req``; measured scores (``llmatlas eval``) take precedence."""
    measured = measurements or {}
    speeds = api_speeds or {}
    book = SourceBook(catalog)
    book.requirements(requirements_path)
    excluded: list[Exclusion] = []
    passing: list[Model] = []
    for model in catalog:
        out = filters.first_failure(model, req, book)
        if out is None:
            passing.append(model)
        elif out.filter != "scope":
            excluded.append(out)
    # The cheapest API offer among the passing models is the yardstick for self-host break-even
    # volumes (a model with API offers of its own is compared with its cheapest one instead).
    api_costs = [
        c
        for m in passing
        for o in filters.api_offers(m, req, catalog)[0]
        if (c := deploy.per_request_usd(m, req, catalog, o)) is not None and c > 0
    ]
    api_ref = min(api_costs) if api_costs else 0.0
    drafts: list[_Draft] = []
    for model in passing:
        options, why = _options(model, req, catalog, book, api_ref, speeds)
        if not options:
            excluded.append(
                filters.exclusion(
                    model, "hardware", "; ".join(why) or "no deployment possible under the hosting requirements"
                )
            )
            continue
        checked = [(d, _latency_check(d, req)) for d in options]
        options = [d for d, too_slow in checked if too_slow is None]
        if not options:
            excluded.append(filters.exclusion(model, "latency", "; ".join(w for _, w in checked if w)))
            continue
        chosen, over = _choose(options, req)
        if chosen is None:
            excluded.append(filters.exclusion(model, "budget", over or "over budget", chosen_sources(options)))
            continue
        _warnings(chosen, req)
        drafts.append(chosen)

    weights = _weights(req)
    # calibrated on the models released by the decision date, so a replayed date gives the answer
    # it gave then, whatever was added to the catalog since
    cal = quality.calibrate(m for m in catalog if lifecycle_on(m, req.on).status != "unreleased")
    per_model = {d.model.id: quality.task_quality(d.model, req.task_weights, measured, book, cal) for d in drafts}
    quality.fill_unknowns(per_model, quality.catalog_floor(catalog, req.task_weights, measured, cal))
    rows: list[rank.Row] = []
    for d in drafts:
        d.tasks = per_model[d.model.id]
        facts: dict[Criterion, Fact] = {
            "quality": quality.quality_fact(d.tasks, book),
            "cost": d.cost,
            "speed": d.latency,
            "context": _context_fact(d.model, book, d.offer),
            "languages": _languages_fact(d.model, req, book),
        }
        rows.append(rank.Row(d.model.id, facts))
    scores = {c: rank.normalized(rows, c, req.budget_usd_per_month) for c in CRITERIA}
    total = rank.totals(scores, weights)
    tiebreak = {r.model: r.facts["quality"].value or 0.0 for r in rows}
    ordered = rank.order(total, tiebreak)
    front = set(rank.pareto_front(rows))
    sens = rank.sensitivity(scores, weights, ordered, req.shortlist, tiebreak) if ordered else []
    by_id = {d.model.id: d for d in drafts}
    row_by = {r.model: r for r in rows}
    candidates: list[Candidate] = []
    for i, mid in enumerate(ordered):
        d, row = by_id[mid], row_by[mid]
        crit = [
            CriterionScore(
                criterion=c,
                weight=weights[c],
                fact=row.facts[c],
                score=scores[c][mid],
                explanation=_explain(c, row.facts[c], scores[c][mid], weights[c]),
            )
            for c in CRITERIA
            if weights.get(c)
        ]
        candidates.append(
            Candidate(
                model=mid,
                name=d.model.name,
                developer=d.model.developer,
                kind=d.model.kind,
                deployment="api" if d.deployment == "api" else "self-host",
                deployment_text=d.deployment_text,
                provider=d.offer.provider if d.offer is not None else None,
                provider_model_id=d.offer.provider_model_id if d.offer is not None else None,
                quality=row.facts["quality"],
                tasks=d.tasks,
                monthly_cost=d.cost,
                speed=d.speed,
                latency=d.latency,
                context=row.facts["context"],
                languages=row.facts["languages"],
                criteria=crit,
                total=total[mid],
                rank=i + 1,
                pareto=mid in front,
                plan=d.plan,
                alternatives=d.alternatives,
                warnings=d.warnings,
            )
        )
    stable = not any(s.top_changed for s in sens)
    excluded.sort(key=lambda e: (e.filter, e.model))
    return Recommendation(
        requirements=req,
        requirements_path=str(requirements_path) if requirements_path else None,
        created=dt.datetime.now(dt.UTC),
        catalog_models=len(catalog),
        considered=len(passing),
        candidates=candidates,
        excluded=excluded,
        pareto=[c.model for c in candidates if c.pareto],
        sensitivity=sens,
        stable=stable,
        summary=_summary(candidates, excluded, req, stable, [s.top for s in sens if s.top_changed]),
        assumptions=_assumptions(req),
        measurements=sorted(measured.values(), key=lambda m: (m.model, m.benchmark)),
        sources=book.sources,
    )


def chosen_sources(drafts: list[_Draft]) -> list[str]:
    """The cost sources of every deployment tried (an over-budget exclusion cites them)."""
    return list(dict.fromkeys(s for d in drafts for s in d.cost.sources))
