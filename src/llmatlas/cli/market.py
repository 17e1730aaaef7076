"""Rendering of `llmatlas catalog check` and `llmatlas catalog sync` (the work is in llmatlas.market)."""

from __future__ import annotations

from collections import Counter

from rich.console import Console

from llmatlas.core.tables import Col, FitTable
from llmatlas.market.check import CheckReport, Finding
from llmatlas.market.sync import SyncResult

SHOWN = 25  # rows of each gap list without --all
FIELD_NAMES = {
    "input_per_m": "input",
    "output_per_m": "output",
    "cached_input_per_m": "cached",
    "context_tokens": "context",
}


def _value(field: str | None, v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v:,.0f}" if field == "context_tokens" else f"${v:g}"


def _disagreements(
    console: Console, rows: list[Finding], title: str, *, details: bool = False, wide: bool = False
) -> None:
    """One row per disagreement; the sources (and, with ``details``, the explanations) follow, since
    URLs and sentences do not fit a table cell."""
    t = FitTable(
        [
            Col("model", wrap=True),
            Col("provider", wrap=True, min_width=10),
            Col("field"),
            Col("catalog", justify="right"),
            Col("as of", priority=1),
            Col("dataset", justify="right"),
            Col("explained"),
        ],
        title=title,
    )
    for f in rows:
        status = "yes" if f.explained else "[red]NO[/red]"
        field = FIELD_NAMES.get(f.field or "", f.field or "")
        t.add_row(
            f.model or "",
            f.provider,
            field,
            _value(f.field, f.ours),
            str(f.our_as_of or ""),
            _value(f.field, f.theirs),
            status,
        )
    t.print(console, wide=wide)
    for f in rows:
        if f.explained and not details:
            continue
        console.print(f"[bold]{f.model}[/bold] {f.field} at {f.provider}:")
        console.print(f"  catalog: {_value(f.field, f.ours)} — {f.our_source} ({f.our_as_of})", highlight=False)
        console.print(f"  dataset: {_value(f.field, f.theirs)} — {f.their_source} [{f.model_ref}]", highlight=False)
        if f.explained:
            console.print(f"  [dim]why: {f.explained}[/dim]", highlight=False)
    if not details and any(f.explained for f in rows):
        console.print("[dim]--all shows the sources and explanation of every disagreement.[/dim]")


def render_check(console: Console, rep: CheckReport, *, show_all: bool = False, wide: bool = False) -> None:
    """Counts per dataset, every disagreement with both values and sources, then the gaps."""
    t = FitTable(
        [Col("", wrap=True, min_width=20), *(Col(f"{d.dataset} {d.version}", justify="right") for d in rep.datasets)],
        title=f"Catalog cross-check on {rep.on}",
    )
    measures = (
        ("rows read", None),
        ("offers both know", "offers_matched"),
        ("values that agree (prices ±1%, context ±5%)", "agree"),
        ("values that differ", "disagree"),
        ("  of which unexplained", "unexplained"),
        ("rows for offers the catalog says are retired", "retired_here"),
        ("offers the catalog has no price for", "no_price_here"),
        ("offers the catalog lacks (known models)", "missing_offer"),
        ("models the catalog lacks", "missing_model"),
        ("rows of providers the catalog does not cover", "other"),
    )
    for label, key in measures:
        cells = []
        for d in rep.datasets:
            c = rep.counts.get(d.dataset, {})
            if key is None:
                n = d.entries
            elif key == "other":
                n = sum(rep.unmapped_providers.get(d.dataset, {}).values())
            else:
                n = c.get(key, 0)
            cells.append(f"[red]{n:,}[/red]" if key == "unexplained" and n else f"{n:,}")
        t.add_row(label, *cells)
    t.print(console, wide=wide)
    bad = [f for f in rep.findings if f.kind == "disagree"]
    if bad:
        _disagreements(
            console,
            sorted(bad, key=lambda f: (f.explained is not None, f.model or "", f.field or "")),
            "Disagreements",
            details=show_all,
            wide=wide,
        )
    else:
        console.print("[green]No disagreement on the offers both know.[/green]")
    missing = [f for f in rep.findings if f.kind == "missing_offer"]
    if missing:
        per_model = Counter(f.model for f in missing)
        console.print(
            f"\n[bold]{len(missing)} offers of catalog models the catalog lacks[/bold] "
            "(`llmatlas catalog sync --from DATASET` proposes them):"
        )
        items = sorted(missing, key=lambda f: (-per_model[f.model], f.model or "", f.provider))
        for f in items if show_all else items[:SHOWN]:
            price = f" at ${f.theirs:g}/1M in" if f.theirs is not None else ""
            console.print(f"  {f.model} via {f.provider} ({f.model_ref}){price} [dim][{f.dataset}][/dim]")
        if not show_all and len(items) > SHOWN:
            console.print(f"  … {len(items) - SHOWN} more (--all)")
    absent = [f for f in rep.findings if f.kind == "missing_model"]
    if absent:
        per_provider = Counter(f.provider for f in absent)
        top = ", ".join(f"{p} {n}" for p, n in per_provider.most_common(12))
        console.print(f"\n[bold]{len(absent)} dataset rows are models the catalog lacks[/bold] (by provider: {top}).")
        if show_all:
            for f in absent:
                console.print(f"  {f.provider}: {f.model_ref} [dim][{f.dataset}][/dim]")
    unexplained = rep.unexplained()
    if unexplained:
        console.print(
            f"\n[red]{len(unexplained)} unexplained disagreement(s)[/red]: fix the catalog, or record why in "
            "catalog/data/crosscheck/explained.yaml."
        )


def render_sync(console: Console, res: SyncResult, *, wide: bool = False) -> None:
    verb = "would write" if res.dry_run else "wrote"
    console.print(f"[bold]{res.dataset} {res.version}[/bold]: {verb} {res.offers} offer(s) and {res.models} model(s)")
    for path in (res.offers_file, res.models_file):
        if path:
            console.print(f"  {path}")
    if res.skipped_models:
        console.print(f"  {res.skipped_models} rows are models the catalog lacks: add --models to propose them")
    if res.conflicts:
        _disagreements(console, res.conflicts, "Conflicts with curated facts (listed, never applied)", wide=wide)
    console.print("Every written fact is labelled 'dataset' (see `llmatlas show MODEL`); curated files always win.")
