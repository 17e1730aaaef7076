"""Quality per task category: the benchmarks that evidence it, measured scores before reported ones.

Benchmarks differ in difficulty (GPQA Diamond 65 is a strong score, ARC-Challenge 65 a weak one)
and models of different years publish different ones, so raw scores are not averaged. They are
*calibrated* first with a one-factor model fitted on the whole catalog's reported scores:
score(model, benchmark) ≈ a_b + s_b · θ_model (alternating least squares; each benchmark's a_b and
s_b from the models that report it, each model's θ from its scores; models that report many
benchmarks link the old ones to the new). A category's value is then 100 · Φ(θ) for the θ its
benchmarks give: the share of the catalog's capability distribution below the model, on one scale
whichever benchmarks evidence it. A benchmark too few models report (< ``MIN_LINKED``) cannot be
calibrated and counts as published (GLUE, only encoders).

A score measured here (``llmatlas eval``) replaces the reported one for the same benchmark and is
calibrated the same way. A category with no score at all is *filled* with the lowest value any
catalog model has for it, and says so: an unknown never helps a model, and the penalty is visible
in the report.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

from llmatlas.advise.schema import BenchmarkEvidence, Evidence, Fact, Measurement, TaskQuality, weakest
from llmatlas.advise.sources import SourceBook
from llmatlas.catalog.catalog import Catalog
from llmatlas.catalog.schema import BenchmarkScore, Model
from llmatlas.tasks.registry import registered

# Which benchmarks evidence each task category (most standard first).
TASK_BENCHMARKS: dict[str, tuple[str, ...]] = {
    "reasoning": ("gpqa_diamond", "arc_challenge", "hellaswag", "winogrande", "gsm8k"),
    "knowledge": ("mmlu_pro", "mmlu", "truthfulqa"),
    "math": ("aime_2025", "aime_2024", "math_500", "gsm8k", "math"),
    "coding": ("swe_bench_verified", "livecodebench", "humaneval"),
    "chat": ("chatbot_arena", "mt_bench", "ifeval"),
    "chinese": ("cmmlu", "ceval"),
    "medical": ("medqa",),
    "classification": ("glue",),
    "long_documents": (),  # judged by context length
}

_FITTED: tuple[str, ...] = tuple(dict.fromkeys(b for group in TASK_BENCHMARKS.values() for b in group))


def task_benchmarks() -> dict[str, tuple[str, str]]:
    """llmatlas tasks whose results count as a catalog benchmark, and the metric that does (``@task``)."""
    return {
        name: (info.benchmark, info.metric)
        for name, info in registered().items()
        if info.benchmark is not None and info.metric is not None
    }


def category_tasks() -> dict[str, tuple[str, ...]]:
    """The tasks ``recommend --eval`` runs per category, in registration order (log-likelihood first)."""
    out: dict[str, tuple[str, ...]] = {}
    for name, info in registered().items():
        if info.category is not None:
            out[info.category] = (*out.get(info.category, ()), name)
    return out


MIN_SCORES_FOR_FLOOR = 3  # catalog models with a score before their lowest can fill unknowns
MIN_LINKED = 5  # models reporting a benchmark (with other benchmarks too) before it can be calibrated
_FIT_ROUNDS = 60


@dataclass(frozen=True)
class Calibration:
    """Per benchmark, the line a_b + s_b · θ that the catalog's reported scores follow."""

    lines: dict[str, tuple[float, float]] = field(default_factory=dict)  # benchmark -> (a_b, s_b)
    models: int = 0  # models that took part in the fit

    def theta(self, scores: dict[str, float]) -> float | None:
        """The capability θ that best explains these (0–100 scaled) scores; None if none is calibrated."""
        num = den = 0.0
        for bench, value in scores.items():
            line = self.lines.get(bench)
            if line is None:
                continue
            a, slope = line
            num += slope * (value - a)
            den += slope * slope
        return num / den if den > 0 else None

    def describe(self) -> str:
        return f"one-factor fit over {self.models} catalog models and {len(self.lines)} benchmarks"


def _fit_line(theta: np.ndarray, values: np.ndarray, seen: np.ndarray) -> tuple[float, float] | None:
    """Least-squares a + s·θ through one benchmark's scores; None when too few or not increasing."""
    if seen.sum() < MIN_LINKED:
        return None
    t, v = theta[seen], values[seen]
    var = float(np.var(t))
    if var <= 0:
        return None
    slope = float(np.mean((t - t.mean()) * (v - v.mean()))) / var
    return (float(v.mean()) - slope * float(t.mean()), slope) if slope > 0 else None


def calibrate(models: Iterable[Model]) -> Calibration:
    """Fit score ≈ a_b + s_b · θ_m on every reported score of the catalog (θ: mean 0, sd 1)."""
    rows: list[dict[str, float]] = []
    for m in models:
        got = {b: _scaled(b, s.value) for b in _FITTED if (s := m.benchmark(b)) is not None}
        if len(got) >= 2:  # a model with one score cannot link benchmarks
            rows.append(got)
    benches = sorted({b for r in rows for b in r})
    if not rows or not benches:
        return Calibration()
    col = {b: j for j, b in enumerate(benches)}
    x = np.full((len(rows), len(benches)), np.nan)
    for i, r in enumerate(rows):
        for b, v in r.items():
            x[i, col[b]] = v
    seen = ~np.isnan(x)
    z = (x - np.nanmean(x, axis=0)) / np.where(np.nanstd(x, axis=0) > 0, np.nanstd(x, axis=0), 1.0)
    theta = np.nanmean(z, axis=1)
    lines: dict[str, tuple[float, float]] = {}
    for round_ in range(_FIT_ROUNDS + 1):
        lines = {b: line for j, b in enumerate(benches) if (line := _fit_line(theta, x[:, j], seen[:, j]))}
        if round_ == _FIT_ROUNDS:
            break  # the lines of the normalized θ of the last round
        a = np.array([lines[b][0] if b in lines else np.nan for b in benches])
        slope = np.array([lines[b][1] if b in lines else np.nan for b in benches])
        ok = ~np.isnan(a)
        for i in range(len(rows)):
            k = seen[i] & ok
            if k.any():
                theta[i] = float(np.sum(slope[k] * (x[i, k] - a[k])) / np.sum(slope[k] ** 2))
        theta = (theta - theta.mean()) / (theta.std() or 1.0)
    return Calibration(lines=lines, models=len(rows))


def calibrated_value(cal: Calibration, scores: dict[str, float]) -> tuple[float | None, list[str]]:
    """A category's 0–100 value from its benchmarks' scores: 100 · Φ(θ) over the calibrated ones,
    the plain mean of the others when none is calibrated. Also the benchmarks left uncalibrated."""
    raw = [b for b in scores if b not in cal.lines]
    theta = cal.theta(scores)
    if theta is not None:
        return 100 * _NORMAL.cdf(theta), raw
    if not scores:
        return None, raw
    return sum(scores.values()) / len(scores), raw


_NORMAL = NormalDist()

# Context at which long-document quality saturates (log scale from 4K to 200K tokens).
_CTX_LOW, _CTX_HIGH = 4096, 200_000


# LMArena ratings (Elo scale) map onto 0–100 linearly: 1000 → 0, 1500 → 100 (clamped).
ARENA_ZERO, ARENA_FULL = 1000.0, 1500.0


def _scaled(benchmark: str, value: float) -> float:
    if benchmark == "mt_bench":
        return value * 10
    if benchmark == "chatbot_arena":
        return 100 * min(1.0, max(0.0, (value - ARENA_ZERO) / (ARENA_FULL - ARENA_ZERO)))
    return value


def _shown(b: BenchmarkScore) -> str:
    scale = {"mt_bench": "/10", "chatbot_arena": " Elo"}.get(b.benchmark, "")
    parts = [f"{b.shots}-shot" if b.shots is not None else None, b.method]
    parts.append(f"reported by {b.reported_by}" if b.reported_by else None)
    how = ", ".join(x for x in parts if x)
    return f"{b.value:g}{scale}" + (f" ({how})" if how else "")


def benchmark_evidence(
    model: Model, benchmark: str, measured: dict[tuple[str, str], Measurement], book: SourceBook
) -> BenchmarkEvidence | None:
    """The best evidence for one benchmark: a measurement here, else the catalog's first score."""
    m = measured.get((model.id, benchmark))
    if m is not None:
        err = f" ± {m.stderr:.1f}" if m.stderr is not None else ""
        return BenchmarkEvidence(
            benchmark=benchmark,
            value=_scaled(benchmark, m.value),
            shown=f"{m.value:.1f}{err} measured ({m.task} {m.metric}, n={m.n}, run {m.run_id})",
            evidence="measured",
            sources=[f"run:{m.run_id}"],
        )
    b = model.benchmark(benchmark)
    if b is None:
        return None
    return BenchmarkEvidence(
        benchmark=benchmark,
        value=_scaled(benchmark, b.value),
        shown=_shown(b),
        evidence="reported",
        sources=[book.catalog_fact(model, b)],
    )


def long_documents(model: Model, book: SourceBook) -> TaskQuality:
    ctx = model.context_tokens
    if ctx is None:
        return TaskQuality(
            task="long_documents", weight=0.0, value=None, evidence="unknown", note="context undisclosed"
        )
    frac = (math.log(ctx) - math.log(_CTX_LOW)) / (math.log(_CTX_HIGH) - math.log(_CTX_LOW))
    value = 100 * min(1.0, max(0.0, frac))
    src = [book.catalog_fact(model, model.context)] if model.context else []
    return TaskQuality(
        task="long_documents",
        weight=0.0,
        value=value,
        evidence="reported",
        benchmarks=[
            BenchmarkEvidence(
                benchmark="context", value=value, shown=f"{ctx:,} tokens", evidence="reported", sources=src
            )
        ],
        note=f"context on a log scale: {_CTX_LOW:,} tokens → 0, {_CTX_HIGH:,} → 100",
    )


def task_quality(
    model: Model,
    weights: dict[str, float],
    measured: dict[tuple[str, str], Measurement],
    book: SourceBook,
    cal: Calibration | None = None,
) -> list[TaskQuality]:
    """Per weighted category: its benchmarks, calibrated onto one scale (before filling unknowns)."""
    cal = cal if cal is not None else Calibration()
    out: list[TaskQuality] = []
    for task, w in weights.items():
        if task == "long_documents":
            tq = long_documents(model, book)
            tq.weight = w
            out.append(tq)
            continue
        evs = [e for b in TASK_BENCHMARKS[task] if (e := benchmark_evidence(model, b, measured, book)) is not None]
        if not evs:
            out.append(TaskQuality(task=task, weight=w, value=None, evidence="unknown"))
            continue
        value, raw = calibrated_value(cal, {e.benchmark: e.value for e in evs})
        if len(raw) == len(evs):
            note = "mean of the published scores (too few catalog models report them to calibrate)"
        else:
            used = ", ".join(e.benchmark for e in evs if e.benchmark not in raw)
            note = f"calibrated: 100 × Φ(θ), θ from {used} ({cal.describe()})"
            if raw:
                note += f"; {', '.join(raw)} not calibrated and left out"
        out.append(
            TaskQuality(
                task=task,
                weight=w,
                value=value,
                evidence=weakest([e.evidence for e in evs]),
                benchmarks=evs,
                note=note,
            )
        )
    return out


def catalog_floor(
    models: Iterable[Model],
    tasks: Iterable[str],
    measured: dict[tuple[str, str], Measurement],
    cal: Calibration | None = None,
) -> dict[str, tuple[float, str]]:
    """Per category, the lowest value any catalog model has, and which model: the fill for unknowns."""
    scratch = SourceBook(Catalog())
    floor: dict[str, tuple[float, str]] = {}
    counts: dict[str, int] = {}
    for model in models:
        for t in task_quality(model, {task: 1.0 for task in tasks}, measured, scratch, cal):
            if t.value is None:
                continue
            counts[t.task] = counts.get(t.task, 0) + 1
            if t.task not in floor or t.value < floor[t.task][0]:
                floor[t.task] = (t.value, model.id)
    # The lowest of one or two scores is no floor (GLUE: two BERTs): such categories fill with 0.
    return {task: low for task, low in floor.items() if counts[task] >= MIN_SCORES_FOR_FLOOR}


def fill_unknowns(per_model: dict[str, list[TaskQuality]], floor: dict[str, tuple[float, str]]) -> None:
    """Give each unknown category the catalog's lowest value for it, marked as filled.

    The lowest in the whole catalog, not among the candidates: candidates that passed the filters
    tend to be strong, and an unknown must not ride on their numbers.
    """
    for tasks in per_model.values():
        for t in tasks:
            if t.value is not None:
                continue
            t.filled = True
            low = floor.get(t.task)
            if low is None:
                t.value = 0.0
                t.note = f"no score, and fewer than {MIN_SCORES_FOR_FLOOR} models in the catalog have one: counted as 0"
            else:
                t.value = low[0]
                t.note = f"no score: counted as the catalog's lowest ({low[0]:.1f}, {low[1]})"


def quality_fact(tasks: list[TaskQuality], book: SourceBook) -> Fact:
    """Weighted quality over categories, its weakest evidence, and the sources of its parts."""
    total = sum(t.weight * (t.value or 0.0) for t in tasks)
    known = [t for t in tasks if not t.filled]
    levels: list[Evidence] = [t.evidence for t in known]
    sources = [book.estimate("quality")] + [s for t in tasks for b in t.benchmarks for s in b.sources]
    if not known:
        return Fact(value=None, text="unknown", evidence="unknown", sources=sources, note="no benchmark score")
    filled = [t.task for t in tasks if t.filled]
    note = f"no score for {', '.join(filled)} (counted at the catalog's lowest)" if filled else None
    return Fact(
        value=total,
        text=f"{total:.1f}",
        unit="/100",
        evidence=weakest(levels),
        sources=list(dict.fromkeys(sources)),
        note=note,
    )
