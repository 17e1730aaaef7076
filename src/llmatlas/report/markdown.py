"""The Markdown report: for pull requests, wikis and design docs, where HTML files do not travel.

Numbers carry their evidence level in words and GitHub-style footnotes (``[^n]``) that resolve to
the Sources section at the end. Text that comes from users or the catalog is escaped so it cannot
break a table or inject HTML.
"""

from __future__ import annotations

import re

from llmatlas.advise.schema import Candidate, Fact, Recommendation
from llmatlas.report import common

_MD_SPECIAL = re.compile(r"([\\*\[\]|<>])")  # backticks stay: `code` in advice text renders as code
_HTML = {"<": "&lt;", ">": "&gt;"}


def md(text: str) -> str:
    """Escape Markdown and HTML specials in one line of text (newlines become spaces)."""
    text = " ".join(text.split())
    return _MD_SPECIAL.sub(lambda m: _HTML.get(m.group(1), "\\" + m.group(1)), text)


class _Writer:
    def __init__(self, rec: Recommendation) -> None:
        self.rec = rec
        self.fn = common.Footnotes.for_recommendation(rec)
        self.lines: list[str] = []

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)

    def cite(self, sources: list[str]) -> str:
        return "".join(f"[^{n}]" for n in self.fn.numbers(sources))

    def fact(self, f: Fact, kind: common.FactKind = "plain", compact: bool = False) -> str:
        """``93.2 _reported_[^1][^2]``; unknown values read "unknown"."""
        return f"{md(common.fmt_fact(f, kind, compact=compact))} _{f.evidence}_{self.cite(f.sources)}"

    def table(self, header: list[str], rows: list[list[str]], align: list[str] | None = None) -> None:
        align = align or ["---"] * len(header)
        self.add("| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |")
        self.add(*("| " + " | ".join(r) + " |" for r in rows))
        self.add("")


def _pareto(rec: Recommendation, c: Candidate) -> str:
    return " ★" if c.pareto or c.model in rec.pareto else ""


def render_markdown(rec: Recommendation) -> str:
    """The full report as Markdown text."""
    w = _Writer(rec)
    req = rec.requirements
    names = common.model_names(rec)
    w.add(f"# Model recommendation: {md(req.name)}", "", f"> {md(req.use_case)}", "")
    w.add(
        f"Generated {rec.created:%Y-%m-%d %H:%M} by llmatlas · {rec.catalog_models} catalog models · "
        f"{rec.considered} considered · {len(rec.candidates)} passed the hard filters · "
        f"{len(rec.excluded)} excluded",
        "",
    )

    w.add("## Requirements", "")
    w.table(["", ""], [[f"**{md(k)}**", md(v)] for k, v in common.requirements_summary(req, rec.requirements_path)])

    w.add("## Answer", "")
    w.add(*(f"- {md(line)}" for line in rec.summary))
    w.add("", f"**{md(common.stability_text(rec))}**", "")
    legend = "; ".join(f"_{level}_ = {help}" for level, help in common.EVIDENCE_HELP.items())
    w.add(f"Evidence levels: {legend}. Footnote numbers point to the Sources section; ★ = on the Pareto frontier.", "")

    w.add("## Shortlist", "")
    if rec.shortlist:
        rows = [
            [
                str(c.rank),
                f"**{md(c.name)}**{_pareto(rec, c)} `{md(c.model)}`",
                md(c.deployment_text),
                w.fact(c.quality, "quality", compact=True),
                w.fact(c.monthly_cost, "cost", compact=True),
                w.fact(c.speed, "speed", compact=True),
                w.fact(c.latency, "latency", compact=True),
                w.fact(c.context, "context", compact=True),
                w.fact(c.languages, "languages", compact=True),
                f"{c.total:.2f}",
            ]
            for c in rec.shortlist
        ]
        w.table(
            ["#", "Model", "Deployment", "Quality", "$/month", "Speed", "Latency", "Context", "Languages", "Score"],
            rows,
            ["--:", "---", "---", "--:", "--:", "--:", "--:", "--:", "--:", "--:"],
        )
    else:
        w.add("No model passed the hard filters.", "")
    w.add(
        "The HTML report (`--report FILE.html`) adds charts: quality vs cost, monthly cost, memory fit, benchmarks.", ""
    )

    if rec.shortlist:
        w.add("## Candidates in detail", "")
    for c in rec.shortlist:
        _candidate(w, c, names)

    others = rec.candidates[len(rec.shortlist) :]
    if others:
        w.add("## Other candidates", "", "Passed every filter, ranked below the shortlist.", "")
        w.table(
            ["#", "Model", "Deployment", "Quality", "$/month", "Score"],
            [
                [
                    str(c.rank),
                    f"{md(c.name)} `{md(c.model)}`",
                    md(c.deployment_text),
                    w.fact(c.quality, "quality", compact=True),
                    w.fact(c.monthly_cost, "cost", compact=True),
                    f"{c.total:.2f}",
                ]
                for c in others
            ],
        )

    w.add("## Excluded models", "")
    if not rec.excluded:
        w.add("No model was excluded.", "")
    for key, items in common.group_exclusions(rec.excluded):
        w.add(f"### {md(common.filter_name(key))} ({len(items)})", "")
        w.table(["Model", "Why"], [[f"{md(e.name)} `{md(e.model)}`", md(e.reason) + w.cite(e.sources)] for e in items])

    w.add("## Sensitivity", "", md(common.stability_text(rec)), "")
    if rec.sensitivity:
        w.table(
            ["Weight change", "First choice", "Changes in the shortlist"],
            [
                [
                    f"{s.criterion} {common.factor_text(s.factor)}",
                    md(names.get(s.top, s.top)) + (" **(changed)**" if s.top_changed else ""),
                    md(common.rank_changes_text(rec, ((ch.model, ch.rank, ch.new_rank) for ch in s.changes))),
                ]
                for s in rec.sensitivity
            ],
        )

    w.add("## Assumptions", "")
    w.add(*(f"- {md(a)}" for a in rec.assumptions) if rec.assumptions else ["None recorded."])
    w.add("")

    if rec.measurements:
        w.add("## Measurements", "")
        w.table(
            ["Run", "Model", "Backend", "Benchmark", "Metric", "Value", "n"],
            [
                [
                    f"`{md(m.run_id)}`" + (w.cite([f"run:{m.run_id}"]) if f"run:{m.run_id}" in rec.sources else ""),
                    md(names.get(m.model, m.model)),
                    f"`{md(m.spec)}`",
                    md(common.benchmark_name(m.benchmark)),
                    md(m.metric),
                    f"{m.value:.3f}" + (f" ± {m.stderr:.3f}" if m.stderr is not None else ""),
                    f"{m.n:,}",
                ]
                for m in rec.measurements
            ],
            ["---", "---", "---", "---", "---", "--:", "--:"],
        )

    w.add("## Sources", "")
    for f in w.fn.entries():
        parts = [md(f.title)]
        if f.url:
            parts.append(f"<{f.url}>" if f.url.startswith(("http://", "https://")) else md(f.url))
        if f.as_of:
            parts.append(f"as of {f.as_of}")
        parts.append(f"{f.kind}, `{md(f.id)}`")
        w.add(f"[^{f.number}]: " + " — ".join(parts))
    w.add("")
    return "\n".join(w.lines)


def _candidate(w: _Writer, c: Candidate, names: dict[str, str]) -> None:
    rec = w.rec
    w.add(f"### {c.rank}. {md(c.name)}{_pareto(rec, c)}", "")
    w.add(f"{md(c.developer)} · {md(c.kind)} · {md(c.deployment_text)} · total score **{c.total:.2f}**", "")
    w.table(
        ["Criterion", "Weight", "Value", "Score", "How scored"],
        [
            [
                cs.criterion,
                common.pct(cs.weight),
                w.fact(cs.fact, common.CRITERION_KIND.get(cs.criterion, "plain")),
                f"{cs.score:.2f}",
                md(cs.explanation),
            ]
            for cs in c.criteria
        ],
        ["---", "--:", "--:", "--:", "---"],
    )
    rows = []
    for t in c.tasks:
        value = "unknown" if t.value is None else f"{t.value:.1f}"
        evidence = [
            f"{md(common.benchmark_name(b.benchmark))} {md(b.shown)} _{b.evidence}_{w.cite(b.sources)}"
            for b in t.benchmarks
        ]
        if t.filled:
            evidence.append("filled: " + md(t.note or "no evidence; counted at the lowest score among candidates"))
        elif t.note:
            evidence.append(md(t.note))
        elif not t.benchmarks:
            evidence.append("no benchmark evidence")
        rows.append([md(t.task), common.pct(t.weight), f"{value} _{t.evidence}_", "; ".join(evidence)])
    w.table(["Task", "Weight", "Score", "Evidence"], rows, ["---", "--:", "--:", "---"])
    if c.quality.note:
        w.add(f"Quality: {md(c.quality.note)}", "")
    p = c.plan
    if p is not None:

        def unk(v: float | None, fmt: str) -> str:
            return "unknown" if v is None else fmt.format(v)

        w.add(f"**Self-host plan**{w.cite(common.plan_sources(rec, c))}", "")
        items = [
            f"Hardware: {p.gpus_per_replica} × {md(p.hardware_name)} per replica, {p.replicas} "
            f"replica{'s' if p.replicas != 1 else ''}",
            f"Weights: {md(p.quant)} ({p.bits_per_weight:.2f} bits/weight)",
            f"Memory per replica: {common.gib(p.memory_needed_bytes)} of {common.gib(p.memory_available_bytes)}",
            f"Batch × context: {p.batch} × {common.tokens(p.context)} tokens",
            f"Decode per sequence: {unk(p.decode_tokens_per_s, '{:.1f} tokens/s')}",
            f"Capacity per replica: {unk(p.capacity_requests_per_s, '{:.2f} requests/s')}",
            f"Latency per request: {unk(p.latency_s, '{:.1f} s')}",
            "GPU price: " + common.gpu_price(p),
            "Monthly cost: " + ("unknown" if p.monthly_usd is None else common.money(p.monthly_usd)),
        ]
        if p.breakeven_requests_per_month is not None:
            vs = f" vs {md(names.get(p.breakeven_vs, p.breakeven_vs))}" if p.breakeven_vs else ""
            items.append(f"Break-even{vs}: {p.breakeven_requests_per_month:,.0f} requests/month")
        items += [md(n) for n in p.notes]
        w.add(*(f"- {i}" for i in items), "")
    if c.warnings:
        w.add(*(f"- ⚠ {md(x)}" for x in c.warnings), "")
    if c.alternatives:
        w.add(*(f"- Alternative: {md(a)}" for a in c.alternatives), "")
