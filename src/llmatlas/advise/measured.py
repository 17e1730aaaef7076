"""Scores measured here: complete runs in the results store, matched to catalog models.

A run counts for a catalog model when its config names the model (``--catalog-id``), when its spec
is an alias of a packaged model, or when an API spec's target is a catalog id (``openai:gpt-4o``).
For each (model, benchmark) the run with the most items wins (then the newest).
"""

from __future__ import annotations

from pathlib import Path

from llmatlas.advise.quality import task_benchmarks
from llmatlas.advise.schema import Measurement
from llmatlas.backends.embedded import PACKAGED_CATALOG_IDS
from llmatlas.catalog.catalog import Catalog
from llmatlas.catalog.offers import find_offer, first_party_offer, offer_for_spec
from llmatlas.catalog.schema import Model, Offer
from llmatlas.engine.results import RunResult

# Packaged-model specs (``smollm2`` and ``llama:smollm2``) and the catalog entries they are.
SPEC_CATALOG_IDS = {spec: cid for alias, cid in PACKAGED_CATALOG_IDS.items() for spec in (alias, f"llama:{alias}")}


def catalog_id_for_spec(spec: str, catalog: Catalog) -> str | None:
    """The catalog model a backend spec runs: a packaged model's alias, or an API's model name."""
    head = spec.split("?", 1)[0]
    if head in SPEC_CATALOG_IDS:
        return SPEC_CATALOG_IDS[head]
    found = offer_for_spec(catalog, spec)
    return found[0].id if found else None


def offer_of(result: RunResult, catalog: Catalog) -> tuple[str, str] | None:
    """(catalog id, provider id) of the API offer a run called: a hosted provider's model id at the
    host the run recorded, or the developer's own API."""
    found = _called(result, catalog)
    if found is None:
        named = catalog_id_of(result, catalog)
        if named is None or named not in catalog.models:
            return None
        own = first_party_offer(catalog.models[named])
        return (named, own.provider) if own else None
    return found[0].id, found[1].provider


def _called(result: RunResult, catalog: Catalog) -> tuple[Model, Offer] | None:
    """The model and offer an API run called: its spec, or its model name at the host it recorded."""
    if result.model.partition(":")[0] in ("openai", "anthropic"):
        return offer_for_spec(catalog, result.model)
    if result.backend not in ("openai", "anthropic"):
        return None
    host = result.backend_details.get("host")
    return find_offer(catalog, result.model, host if isinstance(host, str) else None)


def catalog_id_of(result: RunResult, catalog: Catalog) -> str | None:
    """The catalog model a run evaluated, if it can be told."""
    named = result.config.get("catalog_id")
    if isinstance(named, str) and named:
        return named
    found = _called(result, catalog)
    return found[0].id if found else catalog_id_for_spec(result.model, catalog)


def measurement_of(result: RunResult, catalog: Catalog) -> Measurement | None:
    """The catalog benchmark a complete run measures, on the 0–100 scale (MT-Bench on 0–10)."""
    if not result.complete or result.task not in task_benchmarks():
        return None
    model = catalog_id_of(result, catalog)
    benchmark, metric = task_benchmarks()[result.task]
    m = result.metrics.get(metric)
    if model is None or m is None:
        return None
    scale = 1.0 if benchmark == "mt_bench" else 100.0
    return Measurement(
        run_id=result.run_id,
        model=model,
        spec=result.model,
        task=result.task,
        benchmark=benchmark,
        metric=metric,
        value=m.value * scale,
        stderr=m.stderr * scale if m.stderr is not None else None,
        n=result.n,
    )


def best_measurements(results: list[RunResult], catalog: Catalog) -> dict[tuple[str, str], Measurement]:
    """Per (catalog id, benchmark): the measurement with the most items, then the newest."""
    best: dict[tuple[str, str], tuple[Measurement, RunResult]] = {}
    for r in results:
        m = measurement_of(r, catalog)
        if m is None:
            continue
        key = (m.model, m.benchmark)
        old = best.get(key)
        if old is None or (m.n, r.created) > (old[0].n, old[1].created):
            best[key] = (m, r)
    return {k: v[0] for k, v in best.items()}


def stored_results(journal_path: str | None = None) -> list[RunResult]:
    """Every finished run in the local results store (none if the store does not exist yet)."""
    from llmatlas.engine.journal import Journal, default_path

    path = Path(journal_path) if journal_path else default_path()
    if not path.exists():
        return []
    journal = Journal(path)
    try:
        return [r.result for r in journal.runs() if r.result is not None]
    finally:
        journal.close()


def api_speed(results: list[RunResult], catalog: Catalog) -> dict[tuple[str, str], tuple[float, float, str, int]]:
    """Per (catalog id, provider) of an API offer: (TTFT p50 s, output tok/s p50, run id, outputs) of its
    largest run. A run against a provider's endpoint measures that provider's offer."""
    best: dict[tuple[str, str], tuple[float, float, str, int]] = {}
    for r in results:
        perf = r.performance
        if perf is None or perf.ttft_s is None or perf.output_tokens_per_s is None:
            continue
        if r.backend not in ("openai", "anthropic"):
            continue  # a local run's speed says nothing about the model on other hardware
        key = offer_of(r, catalog)
        n = perf.output_tokens_per_s.n
        if key is None or (key in best and best[key][3] >= n):
            continue
        best[key] = (perf.ttft_s.p50, perf.output_tokens_per_s.p50, r.run_id, n)
    return best
