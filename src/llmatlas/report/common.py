"""Formatting shared by every report format, so a number reads the same in the terminal, Markdown and HTML.

Two rules hold everywhere: an unknown value prints as "unknown" (or the fact's own words, such as
"undisclosed"), never as 0; and footnote numbers come from one :class:`Footnotes` numbering built
from the recommendation, so ``[3]`` names the same source in every format.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from llmatlas.advise import filters
from llmatlas.advise.requirements import Requirements
from llmatlas.advise.schema import (
    EVIDENCE_ORDER,
    Candidate,
    Evidence,
    Exclusion,
    Fact,
    Recommendation,
    SelfHostPlan,
    Source,
)
from llmatlas.core import format as fmt

UNKNOWN = "unknown"

FactKind = Literal["quality", "cost", "speed", "latency", "context", "languages", "score", "plain"]

EVIDENCE_HELP: dict[Evidence, str] = {
    "measured": "measured here with llmatlas eval (your runs)",
    "reported": "published by the developer or a third party (catalog, with its source)",
    "dataset": "taken from a public dataset (genai-prices, LiteLLM, models.dev, OpenRouter), not from the "
    "provider's own page",
    "estimated": "computed by llmatlas' estimators (memory, speed, self-host cost)",
    "unknown": "no evidence: not published and not measured",
}
EVIDENCE_LETTER: dict[Evidence, str] = {
    "measured": "M",
    "reported": "R",
    "dataset": "D",
    "estimated": "E",
    "unknown": "?",
}

BENCHMARK_NAMES: dict[str, str] = {
    "mmlu": "MMLU",
    "hellaswag": "HellaSwag",
    "arc_challenge": "ARC-C",
    "arc_easy": "ARC-E",
    "truthfulqa": "TruthfulQA",
    "humaneval": "HumanEval",
    "gsm8k": "GSM8K",
    "mt_bench": "MT-Bench",
    "ceval": "C-Eval",
    "cmmlu": "CMMLU",
    "winogrande": "WinoGrande",
    "math": "MATH",
    "medqa": "MedQA",
    "glue": "GLUE",
}


filter_name = filters.filter_name  # the advisor's names of its filters


def benchmark_name(name: str) -> str:
    return BENCHMARK_NAMES.get(name, name)


# --------------------------------------------------------------------------------------------- numbers


def money(v: float, unit: str | None = None) -> str:
    """Dollars without false precision (yuan when the fact's unit says CNY)."""
    return fmt.money(v, "CNY" if unit and "CNY" in unit.upper() else "USD")


tokens = fmt.tokens


def gib(n: float) -> str:
    return fmt.gib(n, 1, small_in_mib=False)


def gpu_price(plan: SelfHostPlan) -> str:
    """A plan's price per GPU-hour and where it comes from (the table's offer, yours, or owned)."""
    basis = plan.gpu_price_basis
    if plan.gpu_hour_usd is None:
        return basis or "unknown"
    if basis and basis.startswith("$"):  # the hardware table's offer: it states the figure itself
        return basis
    return f"{money(plan.gpu_hour_usd)} per GPU-hour" + (f" ({basis})" if basis else "")


def _plain(v: float, unit: str | None) -> str:
    s = f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"
    return f"{s} {unit}" if unit else s


def fmt_value(v: float, kind: FactKind, unit: str | None = None) -> str:
    """A known value, formatted for its kind of fact."""
    if kind == "quality":
        return f"{v:.1f}"
    if kind == "cost":
        return money(v, unit)
    if kind == "speed":
        return f"{v:,.0f} tok/s" if v >= 10 else f"{v:.1f} tok/s"
    if kind == "latency":
        return f"{v:.1f} s" if v < 100 else f"{v:,.0f} s"
    if kind == "context":
        return tokens(v)
    if kind == "languages":
        return f"{v * 100:.0f}%"
    if kind == "score":
        return f"{v:.2f}"
    return _plain(v, unit)


# A fact's unit says more than the column it sits in (the "speed" criterion may be a latency in s).
UNIT_KIND: dict[str, FactKind] = {
    "s": "latency",
    "tok/s": "speed",
    "tokens/s": "speed",
    "tokens": "context",
    "USD/month": "cost",
    "CNY/month": "cost",
    "/100": "quality",
}
COMPACT_TEXT = 16  # longer texts are shown as the formatted value in tables, the words in a tooltip


def is_unknown(f: Fact) -> bool:
    return f.value is None and not f.text


def fact_kind(f: Fact, kind: FactKind) -> FactKind:
    if f.unit is None:
        return kind
    return UNIT_KIND.get(f.unit, "plain")


def fmt_fact(f: Fact, kind: FactKind = "plain", *, compact: bool = False) -> str:
    """The fact's own words when it has them, its formatted value otherwise, and "unknown" when neither.

    ``compact`` (table cells) prefers the short formatted value over long words ("75%" rather than
    a sentence per language); the words stay available to the caller for a tooltip.
    """
    k = fact_kind(f, kind)
    if f.value == 0 and f.text:  # a known zero with its reason ("owned hardware (no rental)")
        return f.text
    if compact and f.value is not None and (k in ("context", "cost") or not f.text or len(f.text) > COMPACT_TEXT):
        return fmt_value(f.value, k, f.unit)
    if compact and f.value is None and f.text and len(f.text) > COMPACT_TEXT:
        return UNKNOWN
    if f.text:
        return f.text
    if f.value is None:
        return UNKNOWN
    return fmt_value(f.value, k, f.unit)


CRITERION_KIND: dict[str, FactKind] = {
    "quality": "quality",
    "cost": "cost",
    "speed": "speed",
    "context": "context",
    "languages": "languages",
}


def pct(weight: float) -> str:
    return f"{weight * 100:.0f}%"


def factor_text(factor: float) -> str:
    """A weight multiplier as a change: 1.2 → "+20%", 0.8 → "−20%"."""
    change = (factor - 1) * 100
    sign = "+" if change >= 0 else "−"
    return f"{sign}{abs(change):.0f}%"


def strongest_first(levels: Iterable[Evidence]) -> list[Evidence]:
    return sorted(set(levels), key=EVIDENCE_ORDER.index)


# ------------------------------------------------------------------------------------------- footnotes


@dataclass(frozen=True)
class Footnote:
    number: int
    id: str
    source: Source | None  # None: the id is cited but the recommendation does not describe it

    @property
    def title(self) -> str:
        return self.source.title if self.source else f"{self.id} (no details recorded)"

    @property
    def url(self) -> str | None:
        return self.source.url if self.source else None

    @property
    def as_of(self) -> str | None:
        return self.source.as_of.isoformat() if self.source and self.source.as_of else None

    @property
    def kind(self) -> str:
        return self.source.kind if self.source else "unknown"


class Footnotes:
    """Numbers source ids in reading order; every cited id gets a number, described or not."""

    def __init__(self, sources: dict[str, Source]) -> None:
        self._sources = sources
        self._numbers: dict[str, int] = {}

    def number(self, sid: str) -> int:
        if sid not in self._numbers:
            self._numbers[sid] = len(self._numbers) + 1
        return self._numbers[sid]

    def numbers(self, sids: Iterable[str]) -> list[int]:
        """Footnote numbers of several ids, deduplicated, in ascending order."""
        return sorted({self.number(s) for s in sids})

    def get(self, sid: str) -> Footnote:
        return Footnote(self.number(sid), sid, self._sources.get(sid))

    def entries(self) -> list[Footnote]:
        return [Footnote(n, sid, self._sources.get(sid)) for sid, n in self._numbers.items()]

    @classmethod
    def for_recommendation(cls, rec: Recommendation) -> Footnotes:
        """The numbering every format uses: shortlist rows first, then details, exclusions, the rest."""
        fn = cls(rec.sources)
        for c in rec.shortlist:
            for f in (c.quality, c.monthly_cost, c.speed, c.latency, c.context, c.languages):
                fn.numbers(f.sources)
        for c in rec.candidates:
            for f in (c.quality, c.monthly_cost, c.speed, c.latency, c.context, c.languages):
                fn.numbers(f.sources)
            for t in c.tasks:
                for b in t.benchmarks:
                    fn.numbers(b.sources)
            for cs in c.criteria:
                fn.numbers(cs.fact.sources)
            fn.numbers(plan_sources(rec, c))
        for e in rec.excluded:
            fn.numbers(e.sources)
        for m in rec.measurements:
            if f"run:{m.run_id}" in rec.sources:
                fn.number(f"run:{m.run_id}")
        for sid in rec.sources:  # described but not cited by a number: still listed
            fn.number(sid)
        return fn


def plan_sources(rec: Recommendation, c: Candidate) -> list[str]:
    """Sources behind a self-host plan's numbers (the plan itself carries none, so use the advisor's ids)."""
    if c.plan is None:
        return []
    hw = c.plan.hardware
    ids = ["est:memory", "est:speed", "est:selfhost", f"hw:{hw}"]
    ids += [s for s in c.monthly_cost.sources if s.startswith(f"hwprice:{hw}:")]  # the GPU price it pays
    return [sid for sid in ids if sid in rec.sources]


def memory_sources(rec: Recommendation, c: Candidate) -> list[str]:
    if c.plan is None:
        return []
    return [sid for sid in ("est:memory", f"hw:{c.plan.hardware}") if sid in rec.sources]


# ---------------------------------------------------------------------------------------- requirements


def requirements_summary(req: Requirements, path: str | None = None) -> list[tuple[str, str]]:
    """The requirements as label/value lines for a report header."""
    w = req.workload
    rows: list[tuple[str, str]] = [
        ("Tasks", ", ".join(f"{task} {pct(v)}" for task, v in req.task_weights.items())),
        ("Languages", ", ".join(req.languages) if req.languages else "any"),
        ("Minimum context", f"{req.min_context:,} tokens" if req.min_context else "none"),
        (
            "Workload",
            f"{w.requests_per_day:,.0f} requests/day ({w.requests_per_month:,.0f}/month), "
            f"{w.input_tokens:,} input tokens"
            + (f" ({w.cached_input_tokens:,} cached)" if w.cached_input_tokens else "")
            + f" + {w.output_tokens:,} output tokens per request",
        ),
        ("Budget", f"{money(req.budget_usd_per_month)}/month" if req.budget_usd_per_month else "none given"),
    ]
    hosting = {"api": "API only", "self-host": "self-host only", "either": "API or self-host"}[req.hosting.mode]
    hw = req.hosting.hardware
    if hw is not None:
        what = f"{hw.count} × {hw.gpu}" if hw.gpu else f"{hw.memory} of memory"
        hosting += f"; hardware: {what}" + (" (owned)" if hw.owned else "")
    if req.hosting.mode != "api":
        hosting += f"; formats {', '.join(req.hosting.quantizations)}"
    rows.append(("Hosting", hosting))
    policy = [
        "commercial use required" if req.commercial_use else "non-commercial use is fine",
        "conditional licenses accepted" if req.allow_conditional_license else "no conditional licenses",
    ]
    if req.on_premises:
        policy.append("data stays on premises (open weights only)")
    if req.fine_tuning:
        policy.append("must be fine-tunable")
    rows.append(("License and data", "; ".join(policy)))
    if req.latency is not None:
        parts = []
        if req.latency.max_seconds is not None:
            parts.append(f"≤ {req.latency.max_seconds:g} s per request")
        if req.latency.min_tokens_per_s is not None:
            parts.append(f"≥ {req.latency.min_tokens_per_s:g} output tokens/s")
        rows.append(("Latency", ", ".join(parts) or "no target"))
    weights = req.weights.as_dict()
    total = sum(weights.values())
    rows.append(("Ranking weights", ", ".join(f"{c} {pct(v / total)}" for c, v in weights.items() if v > 0)))
    if req.kinds != ["generative"]:
        rows.append(("Model kinds", ", ".join(req.kinds)))
    if req.models:
        rows.append(("Only these models", ", ".join(req.models)))
    if req.exclude:
        rows.append(("Never these models", ", ".join(req.exclude)))
    if path:
        rows.append(("Requirements file", path))
    return rows


# ------------------------------------------------------------------------------------------- grouping


def group_exclusions(excluded: list[Exclusion]) -> list[tuple[str, list[Exclusion]]]:
    """Exclusions by filter, in the order the advisor applied the filters."""
    groups: dict[str, list[Exclusion]] = {}
    for e in excluded:
        groups.setdefault(e.filter, []).append(e)
    return list(groups.items())


def model_names(rec: Recommendation) -> dict[str, str]:
    """Display names for model ids mentioned anywhere in the recommendation."""
    names = {e.model: e.name for e in rec.excluded}
    names.update({c.model: c.name for c in rec.candidates})
    return names


def stability_text(rec: Recommendation) -> str:
    names = model_names(rec)
    if not rec.candidates:
        return "No model passed the hard filters."
    if rec.stable:
        return "Stable: no ±20% change of a single ranking weight changes the first choice."
    flips = [s for s in rec.sensitivity if s.top_changed]
    if not flips:
        return "Sensitive: small weight changes reorder the shortlist (the first choice holds)."
    parts = [f"{s.criterion} weight {factor_text(s.factor)} → {names.get(s.top, s.top)}" for s in flips]
    return "Sensitive to the weights: the first choice changes when " + "; ".join(parts) + "."


def rank_changes_text(rec: Recommendation, changes: Iterable[tuple[str, int, int]]) -> str:
    names = model_names(rec)
    parts = [f"{names.get(m, m)} {a}→{b}" for m, a, b in changes]
    return ", ".join(parts) if parts else "no change"
