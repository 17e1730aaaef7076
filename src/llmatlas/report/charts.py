"""The report's four charts, drawn with matplotlib (Agg canvas, no pyplot) and returned as inline SVG.

Inline SVG keeps the HTML report one self-contained file that prints and zooms cleanly. Text stays
text (``svg.fonttype = none``) so it is searchable and accessible. Unknowns are drawn as unknown
(a hatched, labelled bar) or listed as "not plotted", never placed at 0.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import escape
from typing import Any

import numpy as np
from matplotlib import rc_context
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter, NullLocator, SymmetricalLogLocator

from llmatlas.advise.schema import EVIDENCE_ORDER, BenchmarkEvidence, Candidate, Evidence, Recommendation
from llmatlas.report.common import benchmark_name, memory_sources, money

# Okabe–Ito: distinguishable with the common forms of colour blindness.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
API_COLOR = "#0072B2"
SELF_HOST_COLOR = "#E69F00"
UNKNOWN_COLOR = "#8a8f98"
TEXT_COLOR = "#1f2933"
GRID_COLOR = "#e3e7ec"
_LABEL_BOX = {"boxstyle": "round,pad=0.12", "facecolor": "white", "edgecolor": "none", "alpha": 0.85}

_RC: dict[str, Any] = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Helvetica", "Arial", "Liberation Sans", "sans-serif"],
    "font.size": 9.5,
    "axes.edgecolor": "#9aa5b1",
    "axes.labelcolor": TEXT_COLOR,
    "axes.titlesize": 10,
    "xtick.color": TEXT_COLOR,
    "ytick.color": TEXT_COLOR,
    "hatch.linewidth": 0.8,
}


@dataclass(frozen=True)
class Chart:
    """One chart with what the report prints around it."""

    key: str  # "pareto", "cost", "memory", "benchmarks": stable, used for anchors and tests
    title: str
    svg: str
    caption: str
    sources: list[str] = field(default_factory=list)  # source ids of the plotted numbers


def model_colors(rec: Recommendation) -> dict[str, str]:
    """One colour per candidate, by rank, shared by every chart."""
    return {c.model: PALETTE[i % len(PALETTE)] for i, c in enumerate(rec.candidates)}


def _rc(salt: str) -> Any:
    """rcParams for one chart; a fixed hash salt keeps the SVG identical from run to run.

    Typed ``Any`` because matplotlib types rc keys as a closed set of literals.
    """
    return {**_RC, "svg.hashsalt": f"llmatlas-{salt}"}


@contextmanager
def _figure(width: float, height: float, salt: str) -> Iterator[Figure]:
    with rc_context(_rc(salt)):
        fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
        FigureCanvasAgg(fig)  # headless, and the caller's pyplot backend (a notebook's) is left alone
        yield fig


_ID = re.compile(r'\bid="([^"]+)"')


def _to_svg(fig: Figure, key: str, title: str) -> str:
    """The figure as an ``<svg>`` element: no XML prolog, ids prefixed so four charts can share a page."""
    buf = io.StringIO()
    with rc_context(_rc(key)):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None}, facecolor="white")
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    ids = set(_ID.findall(text))
    prefix = f"chart-{key}-"
    text = _ID.sub(lambda m: f'id="{prefix}{m.group(1)}"', text)
    for i in sorted(ids, key=len, reverse=True):
        text = text.replace(f"url(#{i})", f"url(#{prefix}{i})").replace(f'href="#{i}"', f'href="#{prefix}{i}"')
    # Scale with the page: keep the viewBox, drop the fixed size, label it for screen readers.
    head_end = text.index(">")
    head = re.sub(r'\s(width|height)="[^"]*"', "", text[:head_end])
    head += f' role="img" aria-labelledby="{prefix}title" class="chart-svg" preserveAspectRatio="xMidYMid meet"'
    return f'{head}><title id="{prefix}title">{escape(title)}</title>{text[head_end + 1 :].strip()}'


def _style(ax: Axes) -> None:
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    ax.grid(True, color=GRID_COLOR, linewidth=0.8)
    ax.set_axisbelow(True)


def _empty(ax: Axes, message: str) -> None:
    ax.set_axis_off()
    ax.text(0.5, 0.5, message, ha="center", va="center", color=UNKNOWN_COLOR, fontsize=10, transform=ax.transAxes)


def _dollars(v: float, _pos: object = None) -> str:
    if v < 0:
        return ""
    if v >= 1000:
        return f"${v / 1000:g}K"
    return f"${v:g}"


# ------------------------------------------------------------------------------------------- Pareto


def _frontier_2d(points: list[tuple[float, float, Candidate]]) -> list[tuple[float, float, Candidate]]:
    """Points no other point beats on both cost (lower) and quality (higher), cheapest first."""
    out: list[tuple[float, float, Candidate]] = []
    best = -math.inf
    for x, y, c in sorted(points, key=lambda p: (p[0], -p[1])):
        if y > best:
            out.append((x, y, c))
            best = y
    return out


# Where a label may go relative to its point (offset in points, horizontal alignment), in order of preference.
_LABEL_SPOTS: tuple[tuple[float, float, str], ...] = (
    (7, 3, "left"),
    (7, -11, "left"),
    (-7, 3, "right"),
    (-7, -11, "right"),
    (7, 13, "left"),
    (7, -21, "left"),
    (-7, 13, "right"),
    (-7, -21, "right"),
    (7, 23, "left"),
    (7, -31, "left"),
)


def _place_labels(
    items: list[tuple[float, float, str]], width_pt: float, height_pt: float, char_pt: float = 5.0
) -> list[tuple[float, float, str]]:
    """Greedy label placement in axes points: the first spot that overlaps no earlier label or point."""
    boxes: list[tuple[float, float, float, float]] = []
    points = [(x, y) for x, y, _ in items]
    placed: list[tuple[float, float, str]] = []
    for x, y, text in items:
        w, h = char_pt * len(text) + 4, 11.0
        best: tuple[float, tuple[float, float, str]] | None = None
        for dx, dy, ha in _LABEL_SPOTS:
            x0 = x + dx if ha == "left" else x + dx - w
            y0 = y + dy
            box = (x0, y0, x0 + w, y0 + h)
            cost = 0.0
            for b in boxes:
                ox = min(box[2], b[2]) - max(box[0], b[0])
                oy = min(box[3], b[3]) - max(box[1], b[1])
                if ox > 0 and oy > 0:
                    cost += ox * oy
            for px, py in points:
                if box[0] - 3 < px < box[2] + 3 and box[1] - 3 < py < box[3] + 3:
                    cost += 40.0
            if box[0] < 0 or box[2] > width_pt or box[1] < 0 or box[3] > height_pt:
                cost += 200.0
            if best is None or cost < best[0]:
                best = (cost, (dx, dy, ha))
            if cost == 0:
                break
        assert best is not None
        dx, dy, ha = best[1]
        x0 = x + dx if ha == "left" else x + dx - w
        boxes.append((x0, y + dy, x0 + w, y + dy + h))
        placed.append(best[1])
    return placed


def pareto_chart(rec: Recommendation) -> Chart:
    """Quality against monthly cost (log x): frontier points ringed, the best quality per cost as a step line."""
    title = "Quality vs monthly cost"
    colors = model_colors(rec)
    shortlisted = {c.model for c in rec.shortlist}
    frontier = set(rec.pareto) | {c.model for c in rec.candidates if c.pareto}
    plotted = [c for c in rec.candidates if c.quality.value is not None and c.monthly_cost.value is not None]
    missing = [c for c in rec.candidates if c not in plotted]
    sources: list[str] = []
    width, height = 5.6, 4.4
    with _figure(width, height, "pareto") as fig:
        ax = fig.add_subplot()
        if not plotted:
            _empty(ax, "No candidate has both a known quality and a known cost")
        else:
            _style(ax)
            pts = [(max(c.monthly_cost.value or 0.0, 0.0), c.quality.value or 0.0, c) for c in plotted]
            budget = rec.requirements.budget_usd_per_month
            positive = [x for x, _, _ in pts if x > 0] + ([budget] if budget else [])
            ys_all = [y for _, y, _ in pts]
            lo = min(positive) if positive else 100.0
            hi = max(positive) if positive else 100.0
            ylim = (max(0.0, min(ys_all) - 8), min(105.0, max(ys_all) + 8))
            zero = any(x == 0 for x, _, _ in pts)
            if not positive:  # every cost is a known $0 (owned hardware, no budget): nothing to scale
                xlim = (-1.0, 1.0)
                ax.xaxis.set_major_locator(FixedLocator([0.0]))
            elif zero:
                # A known $0 (owned hardware) cannot sit on a log axis: a short linear stretch holds it.
                ax.set_xscale("symlog", linthresh=lo / 2, linscale=0.5)
                xlim = (-lo / 8, hi * 2.2)
                ax.xaxis.set_major_locator(SymmetricalLogLocator(base=10, linthresh=lo / 2, subs=[1.0, 2.0, 5.0]))
            else:
                ax.set_xscale("log")
                xlim = (lo / 2, hi * 2.2)
                ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.set_xlim(*xlim)
            ax.set_ylim(*ylim)
            # Others first (grey, small), then the shortlist and frontier on top.
            for x, y, c in sorted(pts, key=lambda p: p[2].model in shortlisted or p[2].model in frontier):
                on = c.model in frontier
                key = c.model in shortlisted or on
                ax.scatter(
                    [x],
                    [y],
                    s=(110 if on else 64) if key else 26,
                    marker="o" if c.deployment == "api" else "s",
                    color=colors[c.model] if c.model in shortlisted else "#b8c0ca",
                    edgecolors=TEXT_COLOR if on else "white",
                    linewidths=1.6 if on else 0.6,
                    alpha=1.0 if key else 0.8,
                    zorder=4 if key else 3,
                )
                sources += c.quality.sources + c.monthly_cost.sources
            step = _frontier_2d(pts)
            if len(step) > 1:
                ax.step(
                    [x for x, _, _ in step],
                    [y for _, y, _ in step],
                    where="post",
                    linestyle="--",
                    color=TEXT_COLOR,
                    linewidth=1,
                    alpha=0.55,
                    zorder=2,
                )
            # Labels for the shortlist and the frontier, placed so they do not overlap.
            labelled = [p for p in pts if p[2].model in shortlisted or p[2].model in frontier]
            labelled.sort(key=lambda p: -p[1])
            ax_w, ax_h = (width - 1.0) * 72, (height - 1.6) * 72  # the axes' rough size in points
            scale = ax.xaxis.get_transform()
            t0, t1 = (float(v) for v in scale.transform(np.array(xlim, dtype=float)))

            def to_pt(x: float, y: float) -> tuple[float, float]:
                tx = float(scale.transform(np.array([x], dtype=float))[0])
                return (tx - t0) / (t1 - t0) * ax_w, (y - ylim[0]) / (ylim[1] - ylim[0]) * ax_h

            spots = _place_labels([(*to_pt(x, y), c.name) for x, y, c in labelled], ax_w, ax_h)
            for (x, y, c), (dx, dy, ha) in zip(labelled, spots, strict=True):
                far = abs(dy) > 14
                ax.annotate(
                    c.name,
                    (x, y),
                    xytext=(dx, dy),
                    textcoords="offset points",
                    ha=ha,
                    va="bottom",
                    fontsize=8,
                    color=TEXT_COLOR,
                    fontweight="bold" if c.model in frontier else "normal",
                    bbox=_LABEL_BOX,
                    arrowprops={"arrowstyle": "-", "color": UNKNOWN_COLOR, "linewidth": 0.6} if far else None,
                    zorder=5,
                )
            if budget:
                ax.axvline(budget, color="#c0392b", linestyle=":", linewidth=1.2, zorder=1)
                ax.annotate(
                    f"budget {money(budget)}",
                    (budget, 0.02),
                    xycoords=("data", "axes fraction"),
                    xytext=(-4, 0),
                    textcoords="offset points",
                    ha="right",
                    fontsize=8,
                    color="#c0392b",
                )
            ax.xaxis.set_major_formatter(FuncFormatter(_dollars))
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.xaxis.set_minor_locator(NullLocator())
            if not positive:
                xlabel = "monthly cost, USD ($0: owned hardware, no rental)"
            else:
                xlabel = "monthly cost, USD (log scale" + ("; $0 = owned hardware)" if zero else ")")
            if missing:
                xlabel += (
                    f"\nnot plotted (cost or quality unknown): {', '.join(c.name for c in missing)}"
                    if len(missing) <= 2
                    else f"\n{len(missing)} candidates not plotted: cost or quality unknown (see caption)"
                )
            ax.set_xlabel(xlabel)
            ax.set_ylabel("quality (0–100)")
            handles = [
                Line2D([], [], marker="o", linestyle="", color=UNKNOWN_COLOR, label="API"),
                Line2D([], [], marker="s", linestyle="", color=UNKNOWN_COLOR, label="self-host"),
                Line2D(
                    [], [], marker="o", linestyle="", color="white", markeredgecolor=TEXT_COLOR, label="Pareto frontier"
                ),
                Line2D([], [], linestyle="--", color=TEXT_COLOR, alpha=0.55, label="best quality for the cost"),
            ]
            if len(plotted) > len(labelled):
                handles.append(
                    Line2D([], [], marker="o", linestyle="", color="#b8c0ca", markersize=5, label="other candidates")
                )
            ax.legend(
                handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, fontsize=8, frameon=False
            )
        svg = _to_svg(fig, "pareto", title)
    caption = (
        "Each candidate that passed the hard filters, by weighted quality and monthly cost. Ringed points are "
        "the Pareto frontier over quality, cost and speed (no candidate is better on all three); the dashed "
        "steps show the best quality available at each cost. Circles are APIs, squares self-hosted; "
        "shortlisted models are coloured as in the other charts."
    )
    if missing:
        caption += " Not plotted because a value is unknown: " + ", ".join(c.name for c in missing) + "."
    return Chart("pareto", title, svg, caption, _dedup(sources))


# --------------------------------------------------------------------------------------------- cost


def cost_chart(rec: Recommendation) -> Chart:
    """Monthly cost per shortlisted model; an unknown cost is a hatched bar labelled "unknown"."""
    title = "Monthly cost"
    shortlist = rec.shortlist
    known = [c.monthly_cost.value for c in shortlist if c.monthly_cost.value is not None]
    budget = rec.requirements.budget_usd_per_month
    sources: list[str] = []
    with _figure(5.6, max(2.6, 0.5 * len(shortlist) + 1.5), "cost") as fig:
        ax = fig.add_subplot()
        if not shortlist:
            _empty(ax, "No candidate passed the hard filters")
        else:
            _style(ax)
            ax.grid(True, axis="x", color=GRID_COLOR)
            ax.grid(False, axis="y")
            top = max([*known, budget or 0.0, 1.0])
            xmax = top * 1.3
            labels = []
            for i, c in enumerate(shortlist):
                y = len(shortlist) - 1 - i
                labels.append((y, f"{c.rank}. {c.name}"))
                sources += c.monthly_cost.sources
                v = c.monthly_cost.value
                if v is None:
                    ax.barh(y, xmax, height=0.6, color="none", edgecolor=UNKNOWN_COLOR, hatch="///", linewidth=0.8)
                    why = c.monthly_cost.note or c.monthly_cost.text or "no price available"
                    ax.text(
                        xmax / 2,
                        y,
                        f"unknown — {why}",
                        ha="center",
                        va="center",
                        fontsize=8.5,
                        color=TEXT_COLOR,
                        bbox={"boxstyle": "round,pad=0.25", "facecolor": "white", "edgecolor": "none"},
                    )
                    continue
                color = API_COLOR if c.deployment == "api" else SELF_HOST_COLOR
                estimated = c.monthly_cost.evidence in ("estimated", "unknown")
                ax.barh(y, v, height=0.6, color=color, alpha=0.75 if estimated else 0.95, edgecolor=color)
                shown = c.monthly_cost.text if v == 0 and c.monthly_cost.text else money(v)
                label = f"{shown} ({c.monthly_cost.evidence})"
                inside = v > xmax * 0.7
                ax.text(
                    v - xmax * 0.01 if inside else v + xmax * 0.01,
                    y,
                    label,
                    ha="right" if inside else "left",
                    va="center",
                    fontsize=8.5,
                    color="white" if inside else TEXT_COLOR,
                    bbox=None if inside else _LABEL_BOX,
                )
            ax.set_yticks([y for y, _ in labels], [t for _, t in labels])
            ax.set_xlim(0, xmax)
            if top <= 1.0 and not budget:  # only known $0 costs: a scale would be noise
                ax.set_xticks([0.0])
            ax.set_ylim(-0.6, len(shortlist) - 0.4)
            ax.xaxis.set_major_formatter(FuncFormatter(_dollars))
            ax.set_xlabel("USD per month")
            handles: list[Artist] = [
                Patch(color=API_COLOR, label="API (price × workload)"),
                Patch(color=SELF_HOST_COLOR, label="self-host (GPU-hours)"),
                Patch(facecolor="none", edgecolor=UNKNOWN_COLOR, hatch="///", label="unknown"),
            ]
            if budget:
                ax.axvline(budget, color="#c0392b", linestyle=":", linewidth=1.4)
                handles.append(Line2D([], [], color="#c0392b", linestyle=":", label=f"budget {money(budget)}"))
            ax.legend(
                handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, fontsize=8, frameon=False
            )
        svg = _to_svg(fig, "cost", title)
    caption = (
        "Estimated monthly cost of your workload for each shortlisted model: API list prices × your token "
        "volumes, or rented GPUs × 730 hours for self-hosting. A hatched bar means the cost is unknown, not zero."
    )
    return Chart("cost", title, svg, caption, _dedup(sources))


# ------------------------------------------------------------------------------------------- memory


def memory_chart(rec: Recommendation) -> Chart:
    """Memory one replica needs (weights + KV cache + overhead) against what its GPUs provide."""
    title = "Memory fit per hardware"
    planned = [c for c in rec.shortlist if c.plan is not None]
    sources: list[str] = []
    with _figure(5.6, max(2.6, 0.6 * len(planned) + 1.5), "memory") as fig:
        ax = fig.add_subplot()
        if not planned:
            _empty(ax, "No self-hosted candidate on the shortlist")
        else:
            _style(ax)
            ax.grid(False, axis="y")
            gib = 1024**3
            top = max(max(c.plan.memory_available_bytes, c.plan.memory_needed_bytes) for c in planned if c.plan) / gib
            labels = []
            for i, c in enumerate(planned):
                plan = c.plan
                assert plan is not None
                y = len(planned) - 1 - i
                need = plan.memory_needed_bytes / gib
                have = plan.memory_available_bytes / gib
                fits = need <= have
                ax.barh(y, have, height=0.7, color="#eef1f4", edgecolor="#9aa5b1", linewidth=1)
                ax.barh(y, need, height=0.38, color="#2e8540" if fits else "#c0392b")
                pct = need / have * 100 if have else math.inf
                ax.text(
                    top * 1.02,
                    y,
                    f"{need:,.1f} of {have:,.0f} GiB ({pct:.0f}%)" + ("" if fits else " — does not fit"),
                    va="center",
                    fontsize=8.5,
                    color=TEXT_COLOR,
                )
                gpus = (
                    f"{plan.gpus_per_replica} × {plan.hardware_name}"
                    if plan.gpus_per_replica > 1
                    else plan.hardware_name
                )
                labels.append((y, f"{c.name}\n{gpus}, {plan.quant}"))
                sources += memory_sources(rec, c)
            ax.set_yticks([y for y, _ in labels], [t for _, t in labels], fontsize=8)
            ax.set_xlim(0, top * 1.55)
            ax.set_ylim(-0.6, len(planned) - 0.4)
            ax.set_xlabel("GiB per replica")
            ax.legend(
                handles=[
                    Patch(facecolor="#eef1f4", edgecolor="#9aa5b1", label="GPU memory"),
                    Patch(color="#2e8540", label="needed (weights + KV cache + overhead)"),
                ],
                loc="upper center",
                bbox_to_anchor=(0.5, -0.3),
                ncol=1,
                fontsize=8,
                frameon=False,
            )
        svg = _to_svg(fig, "memory", title)
    caption = (
        "For each self-hosted candidate on the shortlist: the memory one replica needs at the planned "
        "quantization, context and batch (llmatlas memory estimator) against the memory of its GPUs."
    )
    return Chart("memory", title, svg, caption, _dedup(sources))


# --------------------------------------------------------------------------------------- benchmarks


def _best_scores(c: Candidate) -> dict[str, BenchmarkEvidence]:
    """One score per benchmark for a candidate: the strongest evidence wins (measured over reported)."""
    best: dict[str, BenchmarkEvidence] = {}
    for t in c.tasks:
        for b in t.benchmarks:
            old = best.get(b.benchmark)
            if old is None or EVIDENCE_ORDER.index(b.evidence) < EVIDENCE_ORDER.index(old.evidence):
                best[b.benchmark] = b
    return best


_HATCH: dict[Evidence, str] = {
    "measured": "",
    "reported": "////",
    "dataset": "\\\\",
    "estimated": "....",
    "unknown": "xx",
}


def benchmark_chart(rec: Recommendation) -> Chart:
    """Grouped bars per benchmark for the shortlist; solid = measured here, hatched = reported."""
    title = "Benchmark comparison"
    colors = model_colors(rec)
    scores = {c.model: _best_scores(c) for c in rec.shortlist}
    models = [c for c in rec.shortlist if scores[c.model]]
    benches: list[str] = []
    for c in models:
        for name in scores[c.model]:
            if name not in benches:
                benches.append(name)
    sources: list[str] = []
    with _figure(5.6, 4.0, "benchmarks") as fig:
        ax = fig.add_subplot()
        if not models:
            _empty(ax, "No benchmark score for any shortlisted model")
        else:
            _style(ax)
            ax.grid(False, axis="x")
            n = len(models)
            width = min(0.8 / n, 0.22)
            for j, c in enumerate(models):
                offset = (j - (n - 1) / 2) * width
                for i, name in enumerate(benches):
                    x = i + offset
                    b = scores[c.model].get(name)
                    if b is None:
                        ax.text(x, 1.5, "n/a", ha="center", va="bottom", fontsize=6.5, color=UNKNOWN_COLOR, rotation=90)
                        continue
                    measured = b.evidence == "measured"
                    ax.bar(
                        x,
                        b.value,
                        width=width * 0.92,
                        color=colors[c.model] if measured else "white",
                        edgecolor=TEXT_COLOR if measured else colors[c.model],
                        hatch=_HATCH[b.evidence],
                        linewidth=1.4 if measured else 1.0,
                    )
                    ax.text(x, b.value + 1, f"{b.value:.0f}", ha="center", va="bottom", fontsize=7, color=TEXT_COLOR)
                    sources += b.sources
            ax.set_xticks(range(len(benches)), [benchmark_name(b) for b in benches])
            ax.set_ylim(0, 110)
            ax.set_yticks([0, 20, 40, 60, 80, 100])
            ax.set_ylabel("score (0–100; MT-Bench × 10)")
            handles: list[Patch] = [
                Patch(facecolor=colors[c.model], edgecolor=colors[c.model], label=c.name) for c in models
            ]
            handles += [
                Patch(facecolor=UNKNOWN_COLOR, edgecolor=TEXT_COLOR, label="measured here"),
                Patch(facecolor="white", edgecolor=UNKNOWN_COLOR, hatch="////", label="reported"),
            ]
            ax.legend(
                handles=handles,
                loc="upper center",
                bbox_to_anchor=(0.5, -0.1),
                ncol=min(4, len(handles)),
                fontsize=8,
                frameon=False,
            )
        svg = _to_svg(fig, "benchmarks", title)
    caption = (
        "Scores behind the quality column, per benchmark, for each shortlisted model. Solid bars were "
        "measured here with llmatlas eval; hatched bars are published (reported) numbers. Where both exist, "
        "the measured one is shown and used."
    )
    return Chart("benchmarks", title, svg, caption, _dedup(sources))


def build_charts(rec: Recommendation) -> list[Chart]:
    """All four charts, in report order."""
    return [pareto_chart(rec), cost_chart(rec), memory_chart(rec), benchmark_chart(rec)]


def _dedup(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))
