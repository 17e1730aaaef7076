"""The terminal report of ``llmatlas recommend``: the answer first, then the evidence, in rich tables.

Numbers carry a one-letter evidence marker (M measured, R reported, E estimated, ? unknown) and
footnote numbers that match the Markdown and HTML reports, so a number seen in the terminal can be
traced to the same source in a report file. Text from files is passed as ``Text``, never as markup.
"""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.text import Text

from llmatlas.advise.schema import Evidence, Fact, Recommendation
from llmatlas.core.tables import Col, FitTable
from llmatlas.report import common

EVIDENCE_STYLE: dict[Evidence, str] = {
    "measured": "bold green",
    "reported": "cyan",
    "dataset": "magenta",
    "estimated": "yellow",
    "unknown": "dim",
}


def _marker(evidence: Evidence) -> Text:
    return Text(common.EVIDENCE_LETTER[evidence], style=EVIDENCE_STYLE[evidence])


class _Cites:
    """Footnote markers for the terminal; remembers which numbers were shown, to list only those."""

    def __init__(self, fn: common.Footnotes) -> None:
        self.fn = fn
        self.shown: set[int] = set()

    def __call__(self, sources: list[str]) -> Text:
        nums = self.fn.numbers(sources)
        self.shown.update(nums)
        return Text("[" + ",".join(map(str, nums)) + "]", style="dim") if nums else Text("")


def _fact(f: Fact, kind: common.FactKind) -> Text:
    """``93.2 R``: the value (dim italic "unknown" when unknown) and its evidence marker."""
    out = Text(common.fmt_fact(f, kind, compact=True), style="dim italic" if f.value is None else "")
    out.append(" ")
    out.append_text(_marker(f.evidence))
    return out


def render_terminal(
    rec: Recommendation,
    console: Console,
    *,
    show_sources: bool = True,
    max_exclusions_per_filter: int | None = 8,
    wide: bool = False,
) -> None:
    """Print the recommendation: answer, shortlist, exclusions by filter, sensitivity, sources.

    The tables fit the console: model ids, deployments, prices and scores stay whole; speed, then
    sources, context and quality drop when they do not fit (``wide`` keeps them), and text wraps.
    """
    fn = common.Footnotes.for_recommendation(rec)
    cite = _Cites(fn)
    req = rec.requirements
    names = common.model_names(rec)

    console.print(Text.assemble(("Recommendation: ", "bold"), (req.name, "bold")))
    console.print(Text(req.use_case, style="italic"))
    console.print(
        Text(
            f"{rec.catalog_models} catalog models · {rec.considered} considered · "
            f"{len(rec.candidates)} passed the hard filters · {len(rec.excluded)} excluded",
            style="dim",
        )
    )
    console.print()
    for line in rec.summary:
        console.print(Text.assemble(("• ", "bold"), line))
    console.print(Text(common.stability_text(rec), style="green" if rec.stable else "yellow"))
    console.print()

    if rec.shortlist:
        table = FitTable(
            [
                Col("#", justify="right", style="bold"),
                Col("Model", wrap=True),
                Col("Deployment", wrap=True, min_width=10),
                Col("Quality", priority=1, justify="right"),
                Col("$/month", justify="right"),
                Col("Speed", priority=4, justify="right"),
                Col("Context", priority=2, justify="right"),
                Col("Score", justify="right", style="bold"),
                Col("Sources", priority=3, style="dim"),
            ],
            title="Shortlist",
            title_justify="left",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
        )
        for c in rec.shortlist:
            model = Text(c.name, style="bold")
            if c.pareto or c.model in rec.pareto:
                model.append(" ★", style="magenta")
            model.append(f"\n{c.model}", style="dim")
            if c.warnings:
                model.append(f"\n⚠ {len(c.warnings)} warning{'s' if len(c.warnings) > 1 else ''}", style="yellow")
            facts = (c.quality, c.monthly_cost, c.speed, c.context)
            sources = [s for f in facts for s in f.sources]
            table.add_row(
                str(c.rank),
                model,
                Text(c.deployment_text),
                _fact(c.quality, "quality"),
                _fact(c.monthly_cost, "cost"),
                _fact(c.speed, "speed"),
                _fact(c.context, "context"),
                f"{c.total:.2f}",
                cite(sources),
            )
        table.print(console, wide=wide)
        legend = Text("Evidence: ", style="dim")
        for level in common.EVIDENCE_HELP:
            legend.append_text(_marker(level))
            legend.append(f" {level}  ", style="dim")
        legend.append("★ Pareto frontier  [n] sources below", style="dim")
        console.print(legend)
        warned = [c for c in rec.shortlist if c.warnings]
        if warned:
            console.print()
            for c in warned:
                for w in c.warnings:
                    console.print(Text.assemble(("⚠ ", "yellow"), (c.name, "bold"), ": ", w))
        console.print()
    else:
        console.print(Text("No model passed the hard filters.", style="bold red"))
        console.print()

    if rec.excluded:
        table = FitTable(
            [
                Col("Filter", style="bold", wrap=True, min_width=10),
                Col("Model", wrap=True),
                Col("Why", wrap=True, min_width=24),
            ],
            title=f"Excluded ({len(rec.excluded)})",
            title_justify="left",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
        )
        for key, items in common.group_exclusions(rec.excluded):
            shown = items if max_exclusions_per_filter is None else items[:max_exclusions_per_filter]
            for i, e in enumerate(shown):
                why = Text(e.reason)
                if e.sources:
                    why.append(" ")
                    why.append_text(cite(e.sources))
                label = f"{common.filter_name(key)} ({len(items)})" if i == 0 else ""
                table.add_row(label, Text.assemble(e.name, (f" {e.model}", "dim")), why)
            if len(items) > len(shown):
                table.add_row(
                    "", Text(f"… and {len(items) - len(shown)} more (see --report or --json)", style="dim"), ""
                )
            table.add_section()
        table.print(console, wide=wide)
        console.print()

    if rec.sensitivity:
        table = FitTable(
            [
                Col("Weight change", wrap=True, min_width=10),
                Col("First choice", wrap=True),
                Col("Shortlist changes", style="dim", wrap=True, min_width=24),
            ],
            title="Sensitivity (one weight ±20%, others renormalized)",
            title_justify="left",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
        )
        for s in rec.sensitivity:
            top = Text(names.get(s.top, s.top), style="bold yellow" if s.top_changed else "")
            if s.top_changed:
                top.append(" (changed)", style="yellow")
            changes = common.rank_changes_text(rec, ((ch.model, ch.rank, ch.new_rank) for ch in s.changes))
            table.add_row(f"{s.criterion} {common.factor_text(s.factor)}", top, Text(changes))
        table.print(console, wide=wide)
        console.print()

    if rec.assumptions:
        console.print(Text("Assumptions", style="bold"))
        for a in rec.assumptions:
            console.print(Text.assemble(("  - ", "dim"), (a, "dim")))
        console.print()

    if show_sources and cite.shown:
        console.print(Text("Sources (numbered as in the Markdown and HTML reports)", style="bold"))
        for f in fn.entries():
            if f.number not in cite.shown:
                continue
            entry = Text(f"[{f.number}] ", style="bold dim")
            entry.append(f.title)
            if f.url:
                entry.append(f" {f.url}", style="cyan")
            if f.as_of:
                entry.append(f" ({f.as_of})", style="dim")
            console.print(entry)
