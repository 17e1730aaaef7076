"""Rendering of `llmatlas catalog check` and `llmatlas catalog sync` (the work is in llmatlas.market)."""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.table import Table

from llmatlas.market.check import CheckReport, Finding
from llmatlas.market.sync import SyncResult

SHOWN = 25  # rows of each gap list without --all


def _value(field: str | None, v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v:,.0f}" if field == "context_tokens" else f"${v:g}"


def _disagreements(console: Console, rows: list[Finding], title: str) -> None:
    t = Table(title=title, show_lines=False)
    for col in ("model", "provider", "field", "catalog", "dataset", "explained"):
        t.add_column(col, overflow="fold")
    for f in rows:
        ours = f"{_value(f.field, f.ours)} ({f.our_as_of}) {f.our_source or ''}"
        theirs = f"{_value(f.field, f.theirs)} ({f.dataset}, read {f.their_as_of}) [{f.model_ref}]"
        t.add_row(f.model or "", f.provider, f.field or "", ours, theirs, f.explained or "[red]no[/red]")
    console.print(t)


def render_check(console: Console, rep: CheckReport, *, show_all: bool = False) -> None:
    """Counts per dataset, every disagreement with both values and sources, then the gaps."""
    t = Table(title=f"Catalog cross-check on {rep.on}")
    cols = (
        "dataset",
        "rows",
        "offers matched",
        "agree",
        "disagree",
        "unexplained",
        "retired here",
        "no price here",
        "offers missing",
        "models missing",
        "other providers",
    )
    for col in cols:
        t.add_column(col, justify="left" if col == "dataset" else "right")
    for d in rep.datasets:
        c = rep.counts.get(d.dataset, {})
        other = sum(rep.unmapped_providers.get(d.dataset, {}).values())
        t.add_row(
            f"{d.dataset} {d.version}",
            f"{d.entries:,}",
            *(
                f"{c.get(k, 0):,}"
                for k in (
                    "offers_matched",
                    "agree",
                    "disagree",
                    "unexplained",
                    "retired_here",
                    "no_price_here",
                    "missing_offer",
                    "missing_model",
                )
            ),
            f"{other:,}",
        )
    console.print(t)
    bad = [f for f in rep.findings if f.kind == "disagree"]
    if bad:
        _disagreements(
            console,
            sorted(bad, key=lambda f: (f.explained is not None, f.model or "", f.field or "")),
            "Disagreements (catalog value, its source and date · dataset value)",
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


def render_sync(console: Console, res: SyncResult) -> None:
    verb = "would write" if res.dry_run else "wrote"
    console.print(f"[bold]{res.dataset} {res.version}[/bold]: {verb} {res.offers} offer(s) and {res.models} model(s)")
    for path in (res.offers_file, res.models_file):
        if path:
            console.print(f"  {path}")
    if res.skipped_models:
        console.print(f"  {res.skipped_models} rows are models the catalog lacks: add --models to propose them")
    if res.conflicts:
        _disagreements(console, res.conflicts, "Conflicts with curated facts (listed, never applied)")
    console.print("Every written fact is labelled 'dataset' (see `llmatlas show MODEL`); curated files always win.")
