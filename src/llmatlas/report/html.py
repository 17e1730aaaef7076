"""The HTML report: one self-contained file (inline CSS and SVG, no scripts, nothing fetched).

A tech lead forwards this file or attaches it to a design review, so it must open anywhere, offline,
and every number in it must lead to its source: facts carry footnote links to a numbered Sources
list. Everything that comes from a user or a model (use case, names, reasons) is autoescaped.
"""

from __future__ import annotations

import datetime as dt
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

import llmatlas
from llmatlas.advise.schema import Evidence, Fact, Recommendation
from llmatlas.report import common


@cache
def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("llmatlas.report", "templates"),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        fmt_fact=common.fmt_fact,
        fmt_value=common.fmt_value,
        money=common.money,
        gpu_price=common.gpu_price,
        tokens=common.tokens,
        gib=common.gib,
        pct=common.pct,
        factor_text=common.factor_text,
        benchmark_name=common.benchmark_name,
        filter_name=common.filter_name,
        is_unknown=common.is_unknown,
        evidence_help=common.EVIDENCE_HELP,
        criterion_kind=common.CRITERION_KIND,
    )
    return env


def _badge(evidence: Evidence) -> Markup:
    """A small coloured label saying how strong the evidence behind a number is."""
    return Markup('<span class="ev ev-{0}" title="{1}">{0}</span>').format(evidence, common.EVIDENCE_HELP[evidence])


class _Cite:
    """Renders footnote links: ``<sup>[1][4]</sup>``, each pointing at ``#src-N`` in the Sources list."""

    def __init__(self, fn: common.Footnotes) -> None:
        self.fn = fn

    def __call__(self, sources: list[str]) -> Markup:
        if not sources:
            return Markup("")
        notes = sorted({s: self.fn.get(s) for s in sources}.values(), key=lambda f: f.number)
        links = [Markup('<a href="#src-{0}" title="{1}">{0}</a>').format(f.number, f.title) for f in notes]
        return Markup('<sup class="fn">[') + Markup(",").join(links) + Markup("]</sup>")


def _fact_html(
    cite: _Cite, f: Fact, kind: common.FactKind = "plain", badge: bool = True, compact: bool = False
) -> Markup:
    """A number with its evidence badge and footnotes; unknown values say so in words.

    Compact cells (tables) show the short value; the fact's full words and note go in a tooltip.
    """
    text = common.fmt_fact(f, kind, compact=compact)
    cls = "val unknown" if f.value is None else "val"
    tip = [t for t in (f.text if f.text and f.text != text else None, f.note) if t]
    title = Markup(' title="{}"').format(" — ".join(tip)) if tip else Markup("")
    out = Markup('<span class="{}"{}>{}</span>').format(cls, title, text)
    if badge:
        out += Markup(" ") + _badge(f.evidence)
    return out + cite(f.sources)


def render_html(rec: Recommendation) -> str:
    """The full report as one HTML document (a string)."""
    fn = common.Footnotes.for_recommendation(rec)
    from llmatlas.report.charts import build_charts  # matplotlib loads only when an HTML report is made

    cite = _Cite(fn)
    charts = build_charts(rec)
    for ch in charts:
        fn.numbers(ch.sources)
    shortlist = rec.shortlist
    top = shortlist[0] if shortlist else None
    others = rec.candidates[len(shortlist) :]
    evidence_counts: dict[str, int] = {}
    for c in shortlist:
        evidence_counts[c.quality.evidence] = evidence_counts.get(c.quality.evidence, 0) + 1
    html = (
        _env()
        .get_template("report.html.j2")
        .render(
            rec=rec,
            req=rec.requirements,
            names=common.model_names(rec),
            requirements_rows=common.requirements_summary(rec.requirements, rec.requirements_path),
            shortlist=shortlist,
            others=others,
            top=top,
            charts=[(ch, Markup(ch.svg)) for ch in charts],
            exclusion_groups=common.group_exclusions(rec.excluded),
            stability=common.stability_text(rec),
            plan_sources=lambda c: common.plan_sources(rec, c),
            footnotes=fn.entries,
            cite=cite,
            fact=lambda f, kind="plain", badge=True, compact=False: _fact_html(cite, f, kind, badge, compact),
            badge=_badge,
            version=llmatlas.__version__,
            created=rec.created.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
            if rec.created.tzinfo
            else rec.created.strftime("%Y-%m-%d %H:%M"),
        )
    )
    return html
