"""Quality per task category: the benchmarks that evidence it, measured scores before reported ones.

A category's value is the mean of the benchmarks available for it (0–100; MT-Bench ×10). A score
measured here (``llmatlas eval``) replaces the reported one for the same benchmark. A category with
no score at all is *filled* with the lowest value any catalog model has for it, and says so: an unknown
never helps a model, and the penalty is visible in the report.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from llmatlas.advise.schema import BenchmarkEvidence, Evidence, Fact, Measurement, TaskQuality, weakest
from llmatlas.advise.sources import SourceBook
from llmatlas.catalog.catalog import Catalog
from llmatlas.catalog.schema import BenchmarkScore, Model

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

# llmatlas tasks whose results count as a catalog benchmark, and the metric that does.
TASK_TO_BENCHMARK: dict[str, tuple[str, str]] = {
    "arc_challenge": ("arc_challenge", "acc_norm"),
    "arc_easy": ("arc_easy", "acc_norm"),
    "hellaswag": ("hellaswag", "acc_norm"),
    "mmlu": ("mmlu", "acc"),
    "mmlu_5shot": ("mmlu", "acc"),
    "truthfulqa_mc2": ("truthfulqa", "acc"),
    "cmmlu": ("cmmlu", "acc"),
    "gsm8k": ("gsm8k", "exact_match_strict"),
    "gsm8k_cot": ("gsm8k", "exact_match_strict"),
    "humaneval": ("humaneval", "pass@1"),
    "humaneval_instruct": ("humaneval", "pass@1"),
    "mt_bench": ("mt_bench", "score"),
}

# The tasks ``recommend --eval`` runs for a category (log-likelihood ones first: cheap and exact).
CATEGORY_TASKS: dict[str, tuple[str, ...]] = {
    "reasoning": ("arc_challenge", "hellaswag"),
    "knowledge": ("mmlu",),
    "math": ("gsm8k_cot",),
    "coding": ("humaneval_instruct",),
    "chinese": ("cmmlu",),
}

MIN_SCORES_FOR_FLOOR = 3  # catalog models with a score before their lowest can fill unknowns

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
    model: Model, weights: dict[str, float], measured: dict[tuple[str, str], Measurement], book: SourceBook
) -> list[TaskQuality]:
    """Per weighted category: the mean of its benchmarks (before filling unknowns)."""
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
        out.append(
            TaskQuality(
                task=task,
                weight=w,
                value=sum(e.value for e in evs) / len(evs),
                evidence=weakest([e.evidence for e in evs]),
                benchmarks=evs,
            )
        )
    return out


def catalog_floor(
    models: Iterable[Model], tasks: Iterable[str], measured: dict[tuple[str, str], Measurement]
) -> dict[str, tuple[float, str]]:
    """Per category, the lowest value any catalog model has, and which model: the fill for unknowns."""
    scratch = SourceBook(Catalog())
    floor: dict[str, tuple[float, str]] = {}
    counts: dict[str, int] = {}
    for model in models:
        for t in task_quality(model, {task: 1.0 for task in tasks}, measured, scratch):
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
