"""The leaderboard: scores measured here (results store) beside reported ones (catalog), arena ratings.

Measured scores come with 95% intervals from their standard errors; reported scores carry the
catalog's source. Nothing is mixed silently: every row says which it is. The web's
``/api/leaderboard`` serves :func:`llmatlas.api.leaderboard`, which reads the stores and calls
:func:`build`.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Literal

from pydantic import BaseModel

from llmatlas.advise.measured import catalog_id_of
from llmatlas.arena.ratings import Rating, ratings_with_ci
from llmatlas.arena.store import VoteRecord
from llmatlas.catalog.catalog import Catalog
from llmatlas.engine.results import RunResult
from llmatlas.engine.stats import interval95
from llmatlas.estimate.cost import offer_cost
from llmatlas.tasks.registry import headline_metric

ScoreEvidence = Literal["measured", "reported"]

ARENA_ROUNDS = 200  # bootstrap rounds of the arena ratings' intervals


class Score(BaseModel):
    """One model's score on one task, with where it comes from."""

    model: str
    task: str
    metric: str
    value: float  # 0–100 (MT-Bench 0–10)
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None
    evidence: ScoreEvidence
    source: str  # run id, or the catalog source URL
    shots: int | None = None


class OverallRow(BaseModel):
    model: str
    value: float  # mean over the tasks the model has, 0–100
    tasks: int
    evidence: ScoreEvidence


class ParetoPoint(BaseModel):
    model: str
    quality: float  # reported MMLU (or measured)
    blended_usd_per_m: float
    evidence: ScoreEvidence
    frontier: bool


class ArenaBoard(BaseModel):
    ratings: list[Rating]
    votes: int
    rounds: int


class Leaderboard(BaseModel):
    """Scores per task and overall, quality against price, and the arena."""

    tasks: dict[str, list[Score]]
    overall: list[OverallRow]
    pareto: list[ParetoPoint]
    arena: ArenaBoard


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
        metric = headline_metric(task, r.metrics) or next(iter(r.metrics))
        m, k = r.metrics[metric], _scale(task)
        ci = interval95(metric, m)
        low, high = (ci[0] * k, ci[1] * k) if ci else (None, None)
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
    groups: dict[tuple[str, ScoreEvidence], list[float]] = defaultdict(list)
    for s in scores:
        groups[(s.model, s.evidence)].append(s.value * (10 if s.task.startswith("mt_bench") else 1))
    rows = [OverallRow(model=m, value=sum(v) / len(v), tasks=len(v), evidence=ev) for (m, ev), v in groups.items()]
    return sorted(rows, key=lambda r: (r.evidence != "measured", -r.value, -r.tasks, r.model))


def pareto(catalog: Catalog, scores: list[Score]) -> list[ParetoPoint]:
    """Quality (MMLU: measured here if present, else reported) against the developer's API price,
    blended 3:1 in USD as the cost estimator gives it (none for a retired API or an unpriced one)."""
    mmlu: dict[str, Score] = {}
    for s in scores:
        if s.task in ("mmlu", "mmlu_5shot") and (s.model not in mmlu or s.evidence == "measured"):
            mmlu[s.model] = s
    points: list[tuple[str, float, float, ScoreEvidence]] = []
    for m in catalog:
        found = mmlu.get(m.id)
        if found is None:
            continue
        blend = offer_cost(catalog, m, None, 0, 0).blended_per_m_usd
        if blend is not None:
            points.append((m.id, found.value, blend, found.evidence))
    out = []
    for mid, q, cost, ev in points:
        dominated = any(q2 >= q and c2 <= cost and (q2 > q or c2 < cost) for _, q2, c2, _ in points)
        out.append(ParetoPoint(model=mid, quality=q, blended_usd_per_m=cost, evidence=ev, frontier=not dominated))
    return sorted(out, key=lambda p: p.blended_usd_per_m)


def build(
    results: list[RunResult], catalog: Catalog, votes: list[VoteRecord], rounds: int = ARENA_ROUNDS
) -> Leaderboard:
    """The leaderboard of these runs, the catalog's reported scores and these arena votes."""
    scores = measured_scores(results, catalog) + reported_scores(catalog)
    tasks: dict[str, list[Score]] = defaultdict(list)
    for s in scores:
        tasks[s.task].append(s)
    for rows in tasks.values():
        rows.sort(key=lambda s: (s.evidence != "measured", -s.value))
    return Leaderboard(
        tasks=dict(sorted(tasks.items())),
        overall=overall(scores),
        pareto=pareto(catalog, scores),
        arena=ArenaBoard(ratings=ratings_with_ci(votes, rounds=rounds), votes=len(votes), rounds=rounds),
    )
