"""The leaderboard: scores measured here (results store) beside reported ones (catalog), arena ratings.

Measured scores come with 95% intervals from their standard errors; reported scores carry the
catalog's source. Nothing is mixed silently: every row says which it is.
"""

from __future__ import annotations

from collections import defaultdict

from llmatlas.advise.measured import catalog_id_of
from llmatlas.arena.ratings import ratings_with_ci
from llmatlas.arena.store import ArenaStore
from llmatlas.catalog.catalog import Catalog
from llmatlas.catalog.lifecycle import lifecycle_on
from llmatlas.engine.results import RunResult
from llmatlas.estimate.cost import blended_price
from llmatlas.web.schemas import ArenaBoard, Evidence, Leaderboard, OverallRow, ParetoPoint, Score

# The metric a run is ranked by: the one lm-evaluation-harness reports first for the task.
PRIMARY_METRICS = ("acc_norm", "acc", "exact_match_strict", "pass@1", "score")
ARENA_ROUNDS = 200


def _scale(task: str) -> float:
    return 1.0 if task.startswith("mt_bench") else 100.0


def measured_scores(results: list[RunResult], catalog: Catalog) -> list[Score]:
    """The newest complete run per (model, task), on the 0–100 scale with a 95% interval."""
    latest: dict[tuple[str, str], RunResult] = {}
    for r in results:
        if not r.complete or not r.metrics:
            continue
        model = catalog_id_of(r, catalog) or r.model
        key = (model, r.task)
        if key not in latest or r.created > latest[key].created:
            latest[key] = r
    out = []
    for (model, task), r in sorted(latest.items()):
        metric = next((m for m in PRIMARY_METRICS if m in r.metrics), next(iter(r.metrics)))
        m, k = r.metrics[metric], _scale(task)
        low = high = None
        if m.ci95 is not None:
            low, high = m.ci95[0] * k, m.ci95[1] * k
        elif m.stderr is not None:
            low, high = (m.value - 1.96 * m.stderr) * k, (m.value + 1.96 * m.stderr) * k
        out.append(
            Score(
                model=model,
                task=task,
                metric=metric,
                value=m.value * k,
                ci_low=low,
                ci_high=high,
                n=r.n,
                evidence="measured",
                source=f"run {r.run_id}",
            )
        )
    return out


def reported_scores(catalog: Catalog) -> list[Score]:
    """Every benchmark score in the catalog, with its source URL."""
    out = []
    for m in catalog:
        seen: set[str] = set()
        for b in m.benchmarks:
            if b.benchmark in seen:  # the first listed is the developer's headline figure
                continue
            seen.add(b.benchmark)
            out.append(
                Score(
                    model=m.id,
                    task=b.benchmark,
                    metric=b.metric or "score",
                    value=b.value,
                    evidence="reported",
                    source=catalog.source_url(m, b.source),
                    shots=b.shots,
                )
            )
    return out


def overall(scores: list[Score]) -> list[OverallRow]:
    """Mean over the tasks a model has (MT-Bench × 10), per evidence level; more tasks break ties."""
    groups: dict[tuple[str, Evidence], list[float]] = defaultdict(list)
    for s in scores:
        groups[(s.model, s.evidence)].append(s.value * (10 if s.task.startswith("mt_bench") else 1))
    rows = [OverallRow(model=m, value=sum(v) / len(v), tasks=len(v), evidence=ev) for (m, ev), v in groups.items()]
    return sorted(rows, key=lambda r: (r.evidence != "measured", -r.value, -r.tasks, r.model))


def pareto(catalog: Catalog, scores: list[Score]) -> list[ParetoPoint]:
    """Quality (MMLU: measured here if present, else reported) against the blended API price."""
    mmlu: dict[str, Score] = {}
    for s in scores:
        if s.task in ("mmlu", "mmlu_5shot") and (s.model not in mmlu or s.evidence == "measured"):
            mmlu[s.model] = s
    points: list[tuple[str, float, float, Evidence]] = []
    for m in catalog:
        if not lifecycle_on(m).usable:
            continue  # a retired API has no price to plot
        price = m.current_price()
        found = mmlu.get(m.id)
        if price is None or found is None:
            continue
        blend = blended_price(price)
        if blend is None:
            continue
        if price.currency != "USD":
            rate = catalog.usd_per(price.currency)
            if rate is None:
                continue
            blend *= rate.usd_per_unit
        points.append((m.id, found.value, blend, found.evidence))
    out = []
    for mid, q, cost, ev in points:
        dominated = any(q2 >= q and c2 <= cost and (q2 > q or c2 < cost) for _, q2, c2, _ in points)
        out.append(ParetoPoint(model=mid, quality=q, blended_usd_per_m=cost, evidence=ev, frontier=not dominated))
    return sorted(out, key=lambda p: p.blended_usd_per_m)


def build(results: list[RunResult], catalog: Catalog, store: ArenaStore) -> Leaderboard:
    scores = measured_scores(results, catalog) + reported_scores(catalog)
    tasks: dict[str, list[Score]] = defaultdict(list)
    for s in scores:
        tasks[s.task].append(s)
    for rows in tasks.values():
        rows.sort(key=lambda s: (s.evidence != "measured", -s.value))
    votes = store.votes()
    return Leaderboard(
        tasks=dict(sorted(tasks.items())),
        overall=overall(scores),
        pareto=pareto(catalog, scores),
        arena=ArenaBoard(ratings=ratings_with_ci(votes, rounds=ARENA_ROUNDS), votes=len(votes), rounds=ARENA_ROUNDS),
    )
