"""Catalog commands: ``models``, ``show``, ``gpus``, ``import`` and ``catalog check`` / ``catalog sync``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from llmatlas import api
from llmatlas.catalog.loader import iter_blocks
from llmatlas.catalog.query import lifecycle_unchecked, select, stale_facts
from llmatlas.catalog.schema import UNDISCLOSED
from llmatlas.cli.app import JsonOpt, State, WideOpt, app, catalog, handle_errors, parse_date
from llmatlas.cli.render import UNKNOWN, console, context, gib, model_json, money, num, params, print_json
from llmatlas.core.tables import Col, FitTable
from llmatlas.estimate.hardware import hardware_table


@app.command()
@handle_errors
def models(
    where: Annotated[
        str | None,
        typer.Option(help="Filter, e.g. \"open_weights and commercial == 'yes' and params_b <= 14\"."),
    ] = None,
    sort: Annotated[str | None, typer.Option(help="Sort field; prefix '-' for descending (e.g. -mmlu).")] = None,
    stale: Annotated[
        int | None,
        typer.Option(
            help="List facts that can change (prices, lifecycle, access) not checked in DAYS.", metavar="DAYS"
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Show at most N rows.")] = None,
    all_models: Annotated[bool, typer.Option("--all", help="Include models whose API is retired.")] = False,
    on: Annotated[
        str | None, typer.Option(help="The catalog as on this date (YYYY-MM-DD): releases, status, prices.")
    ] = None,
    wide: WideOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """The catalog as a table: status, size, context, license, access, price and MMLU, with filters."""
    cat = catalog()
    when = parse_date(on)
    rows = select(cat, where, sort, on=when, include_retired=all_models)
    if limit is not None:
        rows = rows[:limit]
    chosen = [r["id"] for r in rows]
    if stale is not None:
        facts = stale_facts([cat.get(i) for i in chosen], stale, catalog=cat)
        if json_out:
            print_json(facts)
            return
        t = FitTable(
            [
                Col("model"),
                Col("fact"),
                Col("as_of", priority=2),
                Col("age_days", priority=1, justify="right"),
                Col("source", priority=3, wrap=True, min_width=20),
            ],
            title=f"Facts older than {stale} days ({len(facts)})",
        )
        for f in facts:
            t.add_row(
                f["model"],
                f["fact"],
                f["as_of"],
                str(f["age_days"]),
                cat.source_url(cat.get(f["model"]), f["source"]),
            )
        t.print(console, wide=wide)
        unchecked = lifecycle_unchecked(cat.get(i) for i in chosen)
        if unchecked:
            console.print(
                f"[yellow]API models with no lifecycle fact ({len(unchecked)}):[/yellow] {', '.join(unchecked)}"
            )
        return
    if json_out:
        print_json([model_json(cat, cat.get(i), when) for i in chosen])
        return
    hidden = "" if all_models else " (retired APIs hidden: --all shows them)"
    title = f"llmatlas catalog{f' on {when}' if when else ''}: {len(chosen)} of {len(cat)} models{hidden}"
    t = FitTable(
        [
            Col("id", style="bold"),
            Col("status", priority=1, wrap=True, min_width=10),
            Col("params", priority=3, justify="right"),
            Col("ctx", priority=4, justify="right"),
            Col("license", priority=7, wrap=True, min_width=10),
            Col("comm.", priority=6),
            Col("access", priority=5),
            Col("$ in/out 1M", justify="right", wrap=True, min_width=11),
            Col("MMLU", priority=2, justify="right"),
        ],
        title=title,
    )
    short = {"open_weights": "open", "api": "api", "chat_product": "chat"}
    for r in rows:  # status and price as the rows computed them for the date (none for a retired API)
        m = cat.get(r["id"])
        cur = r["currency"]
        price = f"{money(r['input_price'], cur)}/{money(r['output_price'], cur)}" if cur else "—"
        if cur and cur != "USD" and r["input_price_usd"] is not None:  # the USD it sorts by, beside it
            price += f" ≈{money(r['input_price_usd'])}/{money(r['output_price_usd'])}"
        if not cur and r["hosted_input_price"] is not None:  # open weights served by a host: its cheapest price
            price = f"{money(r['hosted_input_price'])}/{money(r['hosted_output_price'])} ({r['hosted_provider']})"
        lic = m.license
        size = params(m.total_params_b)
        if m.parameters and m.parameters.active_b and m.parameters.active_b != m.total_params_b:
            size += f"/{params(m.parameters.active_b)}"
        mmlu = m.benchmark("mmlu")
        t.add_row(
            m.id,
            _status_cell(r["status"], r["shutdown"], r["access"] == ["open_weights"]),
            size,
            context(m.context_tokens),
            UNKNOWN if lic is None else lic.name,
            UNKNOWN
            if lic is None or lic.commercial_use is None
            else {"conditional": "cond."}.get(lic.commercial_use, lic.commercial_use),
            ",".join(short[a] for a in m.access.modes) if m.access else UNKNOWN,
            price,
            f"{mmlu.value:g}" if mmlu else "—",
        )
    t.print(console, wide=wide)
    console.print(
        "[dim]status: of the developer's API; 'weights' = open weights only (they never retire); "
        "'?' = lifecycle undisclosed. "
        "params: total/active (MoE). 'undisclosed' = not published by the developer; "
        "'—' = not applicable or not reported. `llmatlas show ID` gives every source.[/dim]"
    )


_STATUS_STYLE = {"active": "green", "preview": "cyan", "deprecated": "yellow", "retired": "red"}


def _status_cell(status: str | None, shutdown: str | None, weights_only: bool) -> str:
    """'active', 'deprecated → 2026-06-01', 'retired 2025-07-21', 'weights' or '?' when undisclosed."""
    if status is None:
        return "[dim]weights[/dim]" if weights_only else "[dim]?[/dim]"
    text = status
    if status == "retired" and shutdown:
        text += f" {shutdown}"
    elif shutdown:
        text += f" → {shutdown}"
    return f"[{_STATUS_STYLE.get(status, 'white')}]{text}[/]"


def _fmt(v: Any) -> str:
    if v is None:
        return UNDISCLOSED
    if isinstance(v, list):
        return ", ".join(str(x) for x in v) if v else "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    return str(v)


@app.command()
@handle_errors
def show(
    model: Annotated[str, typer.Argument(help="Catalog id, e.g. llama-2-70b.")],
    wide: WideOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """One model: every fact with its source and date."""
    cat = catalog()
    m = cat.get(model)
    if json_out:
        print_json(model_json(cat, m))
        return
    console.print(f"[bold]{m.name}[/bold]  ([cyan]{m.id}[/cyan], {m.developer}, family {m.family}, {m.kind})")
    if m.variant_of:
        console.print(f"variant of [cyan]{m.variant_of}[/cyan]")
    if m.description:
        console.print(m.description)
    notes: dict[str, int] = {}
    t = FitTable(
        [
            Col("fact"),
            Col("value", wrap=True, min_width=30, whole_words=False),
            Col("as of", priority=2),
            Col("source", priority=1),
        ]
    )
    for name, block in iter_blocks(m):
        fields = {
            k: v
            for k, v in block.model_dump().items()
            if k not in ("source", "as_of", "note") and (v is not None or k in _ALWAYS)
        }
        value = "; ".join(f"{k}={_fmt(v)}" for k, v in fields.items())
        if block.note:
            value += f"  [dim]({block.note})[/dim]"
        t.add_row(name, value, str(block.as_of), _mark(notes, cat.source_url(m, block.source)))
    t.print(console, wide=wide)
    _print_notes(notes, 0)
    _print_offers(api.model_detail(cat, m.id).offers, notes, wide=wide)
    if m.origin:
        console.print(f"[dim]from {m.origin}[/dim]")


def _mark(notes: dict[str, int], url: str) -> str:
    """A source as its footnote number, ``[3]``: a URL is never folded inside a table cell."""
    if url not in notes:
        notes[url] = len(notes) + 1
    return f"[{notes[url]}]"


def _print_notes(notes: dict[str, int], after: int) -> None:
    """The sources numbered after ``after``, one a line, whole (a terminal can open them)."""
    for url, n in notes.items():
        if n > after:
            console.print(f"  [{n}] {url}", highlight=False, soft_wrap=True, markup=False)


def _print_offers(offers: list[dict[str, Any]], notes: dict[str, int], *, wide: bool = False) -> None:
    """Every API offer of the model, with its price in force, limits, state and source (numbered
    after the facts' sources, sharing their numbers)."""
    if not offers:
        console.print("[yellow]No known API offer[/yellow] (self-host: see `llmatlas fit`).")
        return
    t = FitTable(
        [
            Col("provider", wrap=True, min_width=10),
            Col("model id there"),
            Col("in / out"),
            Col("context", priority=3, justify="right"),
            Col("format", priority=4),
            Col("status", priority=2, wrap=True, min_width=10),
            Col("speed", priority=5, wrap=True, min_width=10),
            Col("source", priority=1),
        ],
        title="API offers (price per 1M tokens in force today)",
    )
    before = len(notes)
    for o in sorted(offers, key=lambda o: (o["input_per_m"] is None, o["input_per_m"] or 0.0)):
        cur = "¥" if o["currency"] == "CNY" else "$"
        price = (
            f"{cur}{o['input_per_m']:g} / {cur}{o['output_per_m']:g}"
            if o["input_per_m"] is not None and o["output_per_m"] is not None
            else "[yellow]no price[/yellow]"
        )
        speed = " · ".join(
            x
            for x in (
                f"{o['output_tokens_per_s']:g} tok/s" if o["output_tokens_per_s"] else "",
                f"TTFT {o['ttft_s']:g} s" if o["ttft_s"] is not None else "",
            )
            if x
        )
        ev = o["price_evidence"] or o["evidence"]  # the price's source is what a reader relies on
        kind = "" if ev == "primary" else f" [magenta]{'price from dataset' if ev == 'dataset' else ev}[/magenta]"
        urls = list(dict.fromkeys(u for u in (o["source"], o["price_source"]) if u))
        marks = [_mark(notes, url) for url in urls]
        t.add_row(
            o["provider_name"],
            o["provider_model_id"] or "",
            price,
            f"{o['context_tokens']:,}" if o["context_tokens"] else "undisclosed",
            o["quantization"] or "undisclosed",
            o["status_text"] if o["status"] != "active" else "active",
            speed or "—",
            "".join(marks) + kind,
        )
    if "source" not in t.print(console, wide=wide):
        _print_notes(notes, before)


_ALWAYS = {"total_b", "tokens", "date", "input_per_m", "output_per_m", "commercial_use", "available"}


@app.command("gpus")
@handle_errors
def gpus_cmd(wide: WideOpt = False, json_out: JsonOpt = False) -> None:
    """The hardware table used by `fit --gpu` and `breakeven`, with sources."""
    table = hardware_table()
    if json_out:
        print_json([h.model_dump(mode="json") for h in table.values()])
        return
    t = FitTable(
        [
            Col("id"),
            Col("name", priority=2, wrap=True, min_width=10),
            Col("memory", priority=1, justify="right"),
            Col("bandwidth GB/s", priority=3, justify="right"),
            Col("peak TFLOP/s", priority=4, justify="right"),
            Col("$/GPU-hour", justify="right"),
            Col("source", priority=5, wrap=True),
        ],
        title="Hardware",
    )
    for h in table.values():
        t.add_row(
            h.id,
            h.name,
            f"{h.memory_gib:g} GiB",
            num(h.bandwidth_gb_s, "{:,.0f}"),
            num(h.peak_tflops, "{:,.0f}"),
            money(h.price_per_hour_usd),
            h.source,
        )
    t.print(console, wide=wide)


@app.command("import")
@handle_errors
def import_cmd(
    file: Annotated[Path, typer.Argument(help="A .gguf file, a config.json, or a model folder; 'smollm2' = embedded.")],
    model_id: Annotated[str | None, typer.Option("--id", help="Catalog id to give the entry.")] = None,
    save: Annotated[bool, typer.Option(help="Write it to the user catalog folder.")] = True,
    json_out: JsonOpt = False,
) -> None:
    """Build a catalog entry from a local GGUF or Hugging Face config.json."""
    res = api.import_model(file, model_id, save=save)
    if json_out:
        print_json(res.model_dump(mode="json", exclude={"yaml": True, "entry": {"origin"}}))
        return
    m, out_path, est_bytes = res.entry, res.saved_to, res.weights_estimate_bytes
    q = m.quantizations[0] if m.quantizations else None
    console.print(
        f"imported [bold]{m.id}[/bold]: {params(m.total_params_b)} params, "
        f"{m.architecture.layers if m.architecture else '?'} layers, context {context(m.context_tokens)}"
    )
    if q:
        console.print(
            f"  {q.name}: {num(q.bits_per_weight, '{:.3f}')} bits/weight → weights ≈ {gib(est_bytes)}; "
            f"file {gib(q.file_bytes)}"
        )
    if out_path:
        console.print(f"  saved to {out_path} (now visible to `llmatlas show {m.id}`)")
    else:
        console.print(res.yaml)


catalog_app = typer.Typer(
    help="Cross-check the catalog against public datasets and propose what it lacks (never overriding it).",
    no_args_is_help=True,
)


app.add_typer(catalog_app, name="catalog")


def _sources(items: list[str]) -> list[tuple[str, str | None]]:
    """``NAME`` or ``NAME=FILE`` pairs: genai-prices reads its package, the others a file (or their URL)."""
    from llmatlas.market.load import dataset_name

    out = []
    for item in items:
        name, _, path = item.partition("=")
        out.append((dataset_name(name), path.strip() or None))
    return out


@catalog_app.command("check")
@handle_errors
def catalog_check(
    sources: Annotated[
        list[str] | None,
        typer.Option(
            "--from",
            help="Dataset to compare, NAME or NAME=FILE (genai-prices, litellm, models.dev, openrouter); repeatable. "
            "genai-prices reads its installed package; the others read FILE, or fetch their public URL.",
        ),
    ] = None,
    show_all: Annotated[bool, typer.Option("--all", help="List every gap, not the first 25.")] = False,
    strict: Annotated[bool, typer.Option(help="Exit 1 when a disagreement is unexplained (for CI).")] = False,
    wide: WideOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Where the datasets agree with the catalog, where they disagree (both values, sources and
    dates), and which models and offers they have that the catalog lacks."""
    from llmatlas.cli.market import render_check

    rep = api.check_catalog(catalog(), _sources(sources or ["genai-prices"]))
    if json_out:
        print_json(rep.model_dump(mode="json"))
    else:
        render_check(console, rep, show_all=show_all, wide=wide)
    if strict and rep.unexplained():
        raise typer.Exit(1)


@catalog_app.command("sync")
@handle_errors
def catalog_sync(
    source: Annotated[str, typer.Option("--from", help="genai-prices, litellm, models.dev or openrouter.")],
    file: Annotated[Path | None, typer.Option(help="Read the dataset from this file (offline).")] = None,
    url: Annotated[str | None, typer.Option(help="Fetch from this URL instead of the dataset's public one.")] = None,
    models: Annotated[bool, typer.Option("--models", help="Also propose models the catalog lacks.")] = False,
    dry_run: Annotated[bool, typer.Option(help="Say what would be written; write nothing.")] = False,
    wide: WideOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Write labelled proposals (offers, and models with --models) for what the catalog lacks into the
    user catalog (sync-DATASET-*.yaml); conflicts with curated facts are listed, never applied."""
    from llmatlas.cli.market import render_sync

    res = api.sync_catalog(
        source, file=file, url=url, catalog_dirs=State.catalog_dirs, with_models=models, dry_run=dry_run
    )
    if json_out:
        print_json(res.model_dump(mode="json"))
    else:
        render_sync(console, res, wide=wide)
