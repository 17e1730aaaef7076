"""The ``llmatlas`` command line (typer + rich). Every command has ``--json`` for scripts.

Errors in user input print one line naming file, line and field and exit with code 2.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.markup import escape
from rich.table import Table

from llmatlas import __version__, api
from llmatlas.advise.requirements import example_names
from llmatlas.catalog.catalog import Catalog, load_catalog
from llmatlas.catalog.loader import iter_blocks
from llmatlas.catalog.offers import display_name
from llmatlas.catalog.query import lifecycle_unchecked, select, stale_facts
from llmatlas.catalog.schema import UNDISCLOSED
from llmatlas.cli.render import (
    UNKNOWN,
    console,
    context,
    err_console,
    gib,
    model_json,
    money,
    num,
    params,
    performance_line,
    print_json,
)
from llmatlas.core.errors import InputError, LlmatlasError
from llmatlas.estimate.cost import CostEstimate
from llmatlas.estimate.hardware import hardware_table

app = typer.Typer(
    name="llmatlas",
    help="Pick the right LLM for your application, with evidence: sourced catalog, cost, memory and speed.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

P = ParamSpec("P")
R = TypeVar("R")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


class _State:
    catalog_dirs: list[Path] = []  # noqa: RUF012 - set once per process by the callback


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn llmatlas errors into one line on stderr and exit code 2 (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except LlmatlasError as exc:
            err_console.print(f"[bold red]error:[/bold red] {escape(exc.for_cli())}", highlight=False, markup=True)
            raise typer.Exit(exc.exit_code) from None

    return wrapper


def catalog() -> Catalog:
    return load_catalog(_State.catalog_dirs)


def _version(value: bool) -> None:
    if value:
        console.print(f"llmatlas {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    catalog_dir: Annotated[
        list[Path] | None,
        typer.Option("--catalog", help="Extra catalog folder of YAML files (repeatable); overrides built-ins."),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """llmatlas: a sourced LLM catalog with cost, memory and speed estimators."""
    _State.catalog_dirs = list(catalog_dir or [])


# --------------------------------------------------------------------------- models / show


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
    json_out: JsonOpt = False,
) -> None:
    """The catalog as a table: status, size, context, license, access, price and MMLU, with filters."""
    cat = catalog()
    when = _date(on)
    rows = select(cat, where, sort, on=when, include_retired=all_models)
    if limit is not None:
        rows = rows[:limit]
    chosen = [r["id"] for r in rows]
    if stale is not None:
        facts = stale_facts([cat.get(i) for i in chosen], stale, catalog=cat)
        if json_out:
            print_json(facts)
            return
        t = Table(title=f"Facts older than {stale} days ({len(facts)})")
        for col in ("model", "fact", "as_of", "age_days", "source"):
            t.add_column(col)
        for f in facts:
            t.add_row(
                f["model"],
                f["fact"],
                f["as_of"],
                str(f["age_days"]),
                cat.source_url(cat.get(f["model"]), f["source"]),
            )
        console.print(t)
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
    t = Table(title=title, show_lines=False)
    t.add_column("id", style="bold", no_wrap=True)
    t.add_column("status", no_wrap=True)
    t.add_column("params", justify="right", no_wrap=True)
    t.add_column("ctx", justify="right", no_wrap=True)
    t.add_column("license", max_width=16, no_wrap=True, overflow="ellipsis")
    t.add_column("comm.", no_wrap=True)
    t.add_column("access", no_wrap=True)
    t.add_column("$ in/out 1M", justify="right", no_wrap=True)
    t.add_column("MMLU", justify="right", no_wrap=True)
    short = {"open_weights": "open", "api": "api", "chat_product": "chat"}
    for r in rows:  # status and price as the rows computed them for the date (none for a retired API)
        m = cat.get(r["id"])
        cur = r["currency"]
        price = f"{money(r['input_price'], cur)}/{money(r['output_price'], cur)}" if cur else "—"
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
    console.print(t)
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
    model: Annotated[str, typer.Argument(help="Catalog id, e.g. llama-2-70b.")], json_out: JsonOpt = False
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
    t = Table(show_lines=False)
    for col in ("fact", "value", "as of", "source"):
        t.add_column(col, overflow="fold")
    for name, block in iter_blocks(m):
        fields = {
            k: v
            for k, v in block.model_dump().items()
            if k not in ("source", "as_of", "note") and (v is not None or k in _ALWAYS)
        }
        value = "; ".join(f"{k}={_fmt(v)}" for k, v in fields.items())
        if block.note:
            value += f"  [dim]({block.note})[/dim]"
        t.add_row(name, value, str(block.as_of), cat.source_url(m, block.source))
    console.print(t)
    _print_offers(api.model_detail(cat, m.id).offers)
    if m.origin:
        console.print(f"[dim]from {m.origin}[/dim]")


def _print_offers(offers: list[dict[str, Any]]) -> None:
    """Every API offer of the model, with its price in force, limits, state and source."""
    if not offers:
        console.print("[yellow]No known API offer[/yellow] (self-host: see `llmatlas fit`).")
        return
    t = Table(title="API offers (price per 1M tokens in force today)")
    for col in ("provider", "model id there", "in / out", "context", "format", "status", "speed", "source"):
        t.add_column(col, overflow="fold")
    notes: dict[str, int] = {}
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
        marks = []
        for url in urls:
            if url not in notes:
                notes[url] = len(notes) + 1
            marks.append(f"[{notes[url]}]")
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
    console.print(t)
    for url, n in notes.items():
        console.print(f"  [{n}] {url}", highlight=False, soft_wrap=True)


_ALWAYS = {"total_b", "tokens", "date", "input_per_m", "output_per_m", "commercial_use", "available"}


# --------------------------------------------------------------------------- cost


@app.command()
@handle_errors
def cost(
    model_ids: Annotated[list[str], typer.Argument(metavar="MODEL...", help="One or more catalog ids.")],
    input_tokens: Annotated[int, typer.Option(min=0, help="Input tokens per request.")],
    output_tokens: Annotated[int, typer.Option(min=0, help="Output tokens per request.")],
    requests: Annotated[int, typer.Option(min=0, help="Number of requests.")] = 1,
    cached_input_tokens: Annotated[int, typer.Option(min=0, help="Of the input, tokens read from the cache.")] = 0,
    cache_write_tokens: Annotated[
        int, typer.Option(min=0, help="Of the input, tokens written to the prompt cache.")
    ] = 0,
    batch_api: Annotated[bool, typer.Option("--batch", help="Price at the batch API's rates.")] = False,
    on: Annotated[
        str | None,
        typer.Option(help="Price in force on this date (YYYY-MM-DD), e.g. a retired model's; default today."),
    ] = None,
    provider: Annotated[
        str | None,
        typer.Option(help="Only this provider's offer (id or name, e.g. together, groq, amazon-bedrock)."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """API cost of a workload per model and offer, in USD (and CNY where the provider prices in CNY).

    Every offer of a model is listed, cheapest first: the developer's own API and the hosted
    providers of open weights. Long-context tiers apply by prompt size; a retired API or offer has
    no price today (give --on for history).
    """
    cat = catalog()
    when = _date(on)
    rows = []
    for mid in model_ids:
        rows.extend(
            api.price(
                cat,
                mid,
                input_tokens,
                output_tokens,
                requests,
                cached_input_tokens=cached_input_tokens,
                cache_write_tokens=cache_write_tokens,
                batch_api=batch_api,
                on=when,
                provider=provider,
            )
        )
    if json_out:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    one = len({r.model for r in rows}) == 1  # one model: its id goes in the title, not in every row
    t = Table(
        title=(f"{rows[0].model}: " if one else "")
        + f"{requests:,} requests × ({input_tokens:,} in + {output_tokens:,} out tokens)"
    )
    native_col = any(r.currency and r.currency != "USD" for r in rows)  # CNY prices: their own column
    cols = ["model", "provider", "input", "output", "total (USD)", "native", "blended 3:1 /1M", "price as of"]
    shown = [c for c in cols if (c != "model" or not one) and (c != "native" or native_col)]
    for col in shown:
        t.add_column(col, justify="left" if col in ("model", "provider") else "right")
    tags = {"dataset": " [magenta]D[/magenta]", "secondary": " [cyan]³[/cyan]"}
    for r in rows:
        cells = {
            "model": r.model,
            "provider": _provider_cell(cat, r),
            "native": money(r.total, r.currency) if r.currency and r.currency != "USD" else "",
            "price as of": str(r.price_as_of or "") + tags.get(r.price_evidence or "", ""),
        }
        if r.total_usd is None:  # unpriced: "no price", never a silent $0 nor a fake "undisclosed" cost
            retired = r.lifecycle and r.lifecycle.startswith("retired")
            cells |= {"total (USD)": "[red]retired[/red]" if retired else "[yellow]no price[/yellow]"}
        else:
            cells |= {
                "input": money(r.input_cost_usd),
                "output": money(r.output_cost_usd),
                "total (USD)": money(r.total_usd),
                "blended 3:1 /1M": money(r.blended_per_m_usd),
            }
        t.add_row(*(cells.get(c, "—") for c in shown))
    console.print(t)
    marks = {r.price_evidence for r in rows}
    if marks & {"dataset", "secondary"}:
        console.print(
            "[dim]D price from a public dataset (models.dev, genai-prices…), ³ from a third-party copy of the "
            "provider's page; unmarked: the provider's own page. `llmatlas show MODEL` gives every source.[/dim]"
        )
    for r in rows:
        tag = r.model if r.first_party else f"{r.model} via {r.provider}"
        for n in ([r.reason] if r.reason else []) + r.notes:
            console.print(f"[dim]{tag}: {n}[/dim]")


def _provider_cell(cat: Catalog, r: CostEstimate) -> str:
    """'Together AI (fp8)' for a hosted offer, the developer's name for its own API, '—' for none."""
    if r.provider is None:
        return "—"
    name = display_name(cat, r.provider, r.first_party)
    if r.first_party:
        return f"{name} (own API)"
    return f"{name} ({r.quantization})" if r.quantization else name


def _date(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"'{text}' is not a date (YYYY-MM-DD)", field="on") from None


# --------------------------------------------------------------------------- fit


@app.command()
@handle_errors
def fit(
    model: Annotated[str, typer.Argument(help="Catalog id.")],
    quant: Annotated[
        str, typer.Option(help="fp32, fp16, bf16, int8, int4, or a GGUF type (Q4_K_M, Q8_0...).")
    ] = "fp16",
    context_len: Annotated[
        int | None, typer.Option("--context", min=1, help="Tokens per sequence (default: model maximum).")
    ] = None,
    batch: Annotated[int, typer.Option(min=1, help="Concurrent sequences.")] = 1,
    memory: Annotated[str | None, typer.Option(help="Memory to fit in, e.g. 24GB, 16GiB.")] = None,
    gpu: Annotated[
        str | None, typer.Option(help="Named hardware (see `llmatlas gpus`); also shows speed bounds.")
    ] = None,
    gpus: Annotated[int, typer.Option("--count", min=1, help="Number of such GPUs (tensor parallel).")] = 1,
    kv_dtype: Annotated[str, typer.Option(help="KV cache element type: fp16, bf16, fp8, q8_0, q4_0, fp32.")] = "fp16",
    overhead: Annotated[str | None, typer.Option(help="Runtime overhead (default 512MiB).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Memory to run a model (weights + KV cache + overhead) and whether it fits."""
    res = api.fit(
        catalog(),
        model,
        quant=quant,
        context=context_len,
        batch=batch,
        memory=memory,
        gpu=gpu,
        gpus=gpus,
        kv_dtype=kv_dtype,
        overhead=overhead,
    )
    if json_out:
        print_json(res.model_dump(mode="json", exclude_none=False))
        return
    est, total, fits, speed = res.estimate, res.total_bytes, res.fits, res.speed
    t = Table(title=f"{res.model} at {quant}, {est.context:,} tokens × batch {batch}")
    t.add_column("part")
    t.add_column("bytes", justify="right")
    t.add_column("how")
    t.add_row("weights", gib(est.weights_bytes), f"{params(est.params_b)} × {est.bits_per_weight:g} bits / 8")
    t.add_row("KV cache", gib(est.kv_cache_bytes), f"2 × layers × kv_heads × head_dim × tokens × {kv_dtype}")
    t.add_row("overhead", gib(est.overhead_bytes), "runtime context and buffers (stated, adjustable)")
    t.add_row("[bold]total[/bold]", f"[bold]{gib(total)}[/bold]", "")
    console.print(t)
    verdict = (
        "[yellow]unknown[/yellow]" if fits is None else ("[green]fits[/green]" if fits else "[red]does not fit[/red]")
    )
    console.print(f"{res.target} ({gib(res.target_bytes)}): {verdict}")
    console.print(
        "  ".join(f"{n}: {'?' if v is None else ('yes' if v else 'no')}" for n, v in res.fits_on.items()),
        style="dim",
    )
    for n in est.notes:
        console.print(f"[dim]note: {n}[/dim]")
    if speed:
        console.print(
            f"decode ≤ {num(speed.decode_tokens_per_s, '{:,.1f}')} tok/s per sequence "
            f"({speed.bound_by or 'unknown bound'}); prefill of {speed.prompt_tokens} tokens ≥ "
            f"{num(speed.prefill_seconds, '{:.3f}')} s on {res.hardware_name or ''}"
        )
        for n in speed.notes:
            console.print(f"[dim]note: {n}[/dim]")


@app.command("gpus")
@handle_errors
def gpus_cmd(json_out: JsonOpt = False) -> None:
    """The hardware table used by `fit --gpu` and `breakeven`, with sources."""
    table = hardware_table()
    if json_out:
        print_json([h.model_dump(mode="json") for h in table.values()])
        return
    t = Table(title="Hardware")
    for col in ("id", "name", "memory", "bandwidth GB/s", "peak TFLOP/s", "$/GPU-hour", "source"):
        t.add_column(col, overflow="fold")
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
    console.print(t)


# --------------------------------------------------------------------------- breakeven


@app.command()
@handle_errors
def breakeven(
    api_model: Annotated[str, typer.Argument(help="API model to compare against, e.g. gpt-4o.")],
    open_model: Annotated[str, typer.Argument(help="Open-weights model to self-host, e.g. llama-3-70b-instruct.")],
    gpu: Annotated[str, typer.Option(help="GPU to rent (see `llmatlas gpus`).")] = "h100-sxm",
    gpu_hour_usd: Annotated[
        float | None, typer.Option(min=0, max=1e6, help="Price per GPU-hour (default: table's).")
    ] = None,
    quant: Annotated[str, typer.Option(help="Quantization of the self-hosted model.")] = "fp16",
    requests_per_month: Annotated[float, typer.Option(min=0, max=1e15)] = 1_000_000,
    input_tokens: Annotated[int, typer.Option(min=0)] = 1000,
    output_tokens: Annotated[int, typer.Option(min=1)] = 300,
    batch: Annotated[int, typer.Option(min=1, help="Concurrent sequences per GPU.")] = 16,
    throughput: Annotated[
        float | None,
        typer.Option(min=1e-6, max=1e9, help="Measured output tok/s per GPU (default: roofline bound × 0.5)."),
    ] = None,
    utilization: Annotated[float, typer.Option(min=0.01, max=1.0)] = 0.6,
    provider: Annotated[
        str | None, typer.Option(help="The API model's offer by this provider (default: its cheapest offer).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Self-host an open model vs pay an API (its cheapest offer): monthly cost and the break-even volume."""
    be = api.break_even(
        catalog(),
        api_model,
        open_model,
        gpu=gpu,
        gpu_hour_usd=gpu_hour_usd,
        quant=quant,
        requests_per_month=requests_per_month,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        batch=batch,
        throughput=throughput,
        utilization=utilization,
        provider=provider,
    )
    if json_out:
        print_json(be.model_dump(mode="json"))
        return
    api_label = be.api_model if be.api_first_party else f"{be.api_model} via {be.api_provider}"
    console.print(
        f"[bold]{api_label}[/bold] API vs self-hosted [bold]{be.open_model}[/bold] on {be.gpu_name} "
        f"at ${be.gpu_hour_usd}/GPU-hour"
    )
    console.print(f"  API:       {money(be.api_monthly_usd)}/month ({money(be.api_cost_per_request_usd)} per request)")
    console.print(f"  self-host: {money(be.selfhost_monthly_usd)}/month on {be.gpus_needed} GPU(s)")
    be_s = (
        "never (API cheaper per request even at full load)"
        if be.breakeven_requests_per_month is None
        else (f"{be.breakeven_requests_per_month:,.0f} requests/month")
    )
    console.print(f"  break-even: {be_s}; cheaper now: [bold]{be.cheaper}[/bold]")
    for n in be.notes:
        console.print(f"[dim]note: {n}[/dim]")


# --------------------------------------------------------------------------- import


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


# --------------------------------------------------------------------------- eval / results / compare


JournalOpt = Annotated[
    Path | None, typer.Option("--journal", help="Run journal (SQLite); default <user dir>/runs.sqlite.")
]


@app.command("eval")
@handle_errors
def eval_cmd(
    model: Annotated[str, typer.Option(help="backend:target (llama:x.gguf, hf:DIR, mock:name) or 'smollm2'.")],
    task: Annotated[str, typer.Option(help="Task name(s), comma-separated (see `llmatlas tasks`).")],
    limit: Annotated[int | None, typer.Option(min=1, help="First N items (per subject for MMLU/CMMLU).")] = None,
    num_fewshot: Annotated[int | None, typer.Option(min=0, help="Few-shot examples (MMLU/CMMLU).")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Folder of benchmark JSONL files.")] = None,
    out: Annotated[Path | None, typer.Option(help="Write <task>.json and <task>_samples.jsonl here.")] = None,
    chunk: Annotated[
        int | None,
        typer.Option(min=1, help="Items scored and journaled per step (default: the backend's; 256 for hf on CPU)."),
    ] = None,
    samples: Annotated[
        int | None, typer.Option(min=1, help="Generations per item (HumanEval pass@k); default 1.")
    ] = None,
    temperature: Annotated[float | None, typer.Option(min=0.0, help="Sampling temperature (default 0).")] = None,
    max_tokens: Annotated[int | None, typer.Option(min=1, help="Most tokens per generation.")] = None,
    judge: Annotated[
        str | None, typer.Option(help="Judge model for judged tasks (MT-Bench, rubric scorers), as a model spec.")
    ] = None,
    catalog_id: Annotated[
        str | None, typer.Option(help="Catalog model whose price costs the run (default: the model's own name).")
    ] = None,
    journal: JournalOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Run benchmarks on a model; resumable (run the same command again after a crash)."""
    from llmatlas.cli.progress import ProgressView

    names = [t.strip() for t in task.split(",") if t.strip()]
    with ProgressView(None if json_out else err_console) as view:
        results = api.evaluate(
            model,
            names,
            limit=limit,
            num_fewshot=num_fewshot,
            chunk=chunk,
            data_dir=str(data_dir) if data_dir else None,
            samples=samples,
            temperature=temperature,
            max_tokens=max_tokens,
            judge=judge,
            catalog_dirs=_State.catalog_dirs,
            catalog_id=catalog_id,
            journal_path=journal,
            on_event=view,
            out_dir=out,
        )
    if json_out:
        data = [r.model_dump(mode="json") for r in results]
        print_json(data[0] if len(data) == 1 else data)
        return
    t = Table(title=f"{results[0].model}")
    for col in ("task", "n", "metric", "value", "± stderr", "items/s", "run"):
        t.add_column(col, justify="right" if col in ("n", "value", "± stderr", "items/s") else "left")
    for r in results:
        for name, m in r.metrics.items():
            t.add_row(
                r.task,
                str(r.n),
                name,
                f"{m.value:.4f}",
                num(m.stderr, "{:.4f}"),
                num(r.timing.items_per_s, "{:.1f}"),
                r.run_id,
            )
    console.print(t)
    for r in results:
        if r.performance is not None:
            console.print(performance_line(r))
    if out:
        console.print(f"[dim]results and per-sample records written to {out}[/dim]")


@app.command()
@handle_errors
def tasks(json_out: JsonOpt = False) -> None:
    """Available benchmarks and where their data is found."""
    rows = [r.model_dump() for r in api.tasks()]
    if json_out:
        print_json(rows)
        return
    tb = Table(title="Tasks")
    for col in ("task", "metrics", "shots", "data"):
        tb.add_column(col)
    for r in rows:
        tb.add_row(
            r["task"],
            ", ".join(r["metrics"]),
            str(r["num_fewshot"]),
            r["local_file"] or (f"hub: {r['hub']} (needs network)" if r["hub"] else "--data-dir"),
        )
    console.print(tb)


@app.command()
@handle_errors
def results(journal: JournalOpt = None, json_out: JsonOpt = False) -> None:
    """Runs in the journal with their scores."""
    runs = api.list_runs(journal)
    if json_out:
        print_json([r.model_dump(mode="json") for r in runs])
        return
    t = Table(title=f"Runs ({len(runs)})")
    for col in ("run", "created", "model", "task", "status", "n", "scores (± stderr)"):
        t.add_column(col, overflow="fold", no_wrap=col in ("run", "created", "n"))
    for r in runs:
        res = r.result
        scores = "  ".join(f"{k} {m.value:.3f}±{m.stderr or 0:.3f}" for k, m in res.metrics.items()) if res else ""
        if r.error:
            scores = f"[red]{escape(r.error)}[/red]"
        t.add_row(r.run_id, r.created[:16].replace("T", " "), r.model, r.task, r.status, str(r.samples), scores)
    console.print(t)


@app.command()
@handle_errors
def compare(
    run_a: Annotated[str, typer.Argument(help="Run id (prefix) from `llmatlas results`.")],
    run_b: Annotated[str, typer.Argument(help="Run id (prefix) to compare against RUN_A.")],
    metric: Annotated[str, typer.Option(help="Per-sample metric to compare.")] = "acc",
    resamples: Annotated[int, typer.Option(min=100)] = 10_000,
    journal: JournalOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Paired bootstrap of B − A over the items both runs scored: is the difference real?"""
    cmp = api.compare_runs(run_a, run_b, metric=metric, resamples=resamples, journal_path=journal)
    if json_out:
        print_json(cmp.model_dump(mode="json"))
        return
    console.print(f"[bold]{cmp.task}[/bold], {cmp.n} paired items, metric {metric}")
    console.print(f"  A {cmp.model_a}: {cmp.mean_a:.4f}")
    console.print(f"  B {cmp.model_b}: {cmp.mean_b:.4f}")
    verdict = "[green]real difference[/green]" if cmp.significant else "[yellow]not distinguishable from noise[/yellow]"
    console.print(
        f"  B − A = {cmp.diff:+.4f}, 95% CI [{cmp.ci95[0]:+.4f}, {cmp.ci95[1]:+.4f}] "
        f"(paired bootstrap, {cmp.resamples:,} resamples, p≈{cmp.p_value:.3f}): {verdict}"
    )
    console.print(f"  items where A wins: {cmp.wins_a}, B wins: {cmp.wins_b}")


@app.command("judge-pairwise")
@handle_errors
def judge_pairwise(
    run_a: Annotated[str, typer.Argument(help="An MT-Bench run id (prefix) from `llmatlas results`.")],
    run_b: Annotated[str, typer.Argument(help="The MT-Bench run to compare against RUN_A.")],
    judge: Annotated[str, typer.Option(help="Judge model spec, e.g. openai:gpt-4o or llama:judge.gguf.")],
    resamples: Annotated[int, typer.Option(min=100, help="Bootstrap resamples for the win-rate CI.")] = 2000,
    journal: JournalOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Pairwise judgement of two MT-Bench runs, each turn judged in both orders to cancel position bias."""
    from llmatlas.tasks.mt_bench import pairwise_cli_summary

    result = api.judge_pairwise(run_a, run_b, judge, resamples=resamples, journal_path=journal)
    if json_out:
        print_json(result.model_dump(mode="json"))
        return
    console.print(pairwise_cli_summary(result), highlight=False, markup=False)


# --------------------------------------------------------------------------- recommend


@app.command()
@handle_errors
def recommend(
    requirements: Annotated[
        Path,
        typer.Argument(help=f"Requirements YAML, or a packaged example's name: {', '.join(example_names())}."),
    ],
    report: Annotated[
        list[Path] | None,
        typer.Option("--report", help="Write a report: FILE.md, FILE.html or FILE.json (repeatable)."),
    ] = None,
    evaluate: Annotated[
        bool, typer.Option("--eval", help="Measure the shortlist here on the weighted tasks, then re-rank.")
    ] = False,
    eval_model: Annotated[
        list[str] | None,
        typer.Option("--eval-model", help="CATALOG_ID=SPEC: how to run a shortlisted model (repeatable)."),
    ] = None,
    eval_limit: Annotated[int, typer.Option(min=1, help="Items per task for --eval.")] = 100,
    data_dir: Annotated[str | None, typer.Option(help="Benchmark data folder for --eval.")] = None,
    no_measured: Annotated[
        bool, typer.Option("--no-measured", help="Ignore earlier runs in the results store.")
    ] = False,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Replay the decision as on DATE (YYYY-MM-DD): prices, lifecycle, releases then."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Turn a requirements file into a ranked, explained shortlist, with reports."""
    from llmatlas.cli.progress import ProgressView
    from llmatlas.cli.recommend import progress_lines, show_recommendation

    with ProgressView(None if json_out or not evaluate else console) as view:
        rec = api.recommend(
            requirements,
            catalog(),
            as_of=_date(as_of),
            use_store=not no_measured,
            eval_shortlist=evaluate,
            eval_models=eval_model,
            eval_limit=eval_limit,
            data_dir=data_dir,
            on_message=None if json_out else progress_lines(console),
            on_event=view,
        )
    show_recommendation(rec, report or [], console, json_out=json_out)


# --------------------------------------------------------------------------- serve


@app.command()
@handle_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind; anything but loopback needs the printed token.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    model: Annotated[
        list[str] | None,
        typer.Option("--model", help="Model SPEC for the playground and arena (repeatable); default: smollm2 + mocks."),
    ] = None,
    token: Annotated[
        str | None, typer.Option(help="Require this token on every API call (default: none on loopback).")
    ] = None,
) -> None:
    """Start the local web UI: catalog, calculators, leaderboard, playground and blind arena."""
    import secrets

    try:
        import uvicorn
    except ImportError:
        raise LlmatlasError("the web UI needs FastAPI and uvicorn: pip install 'llmatlas[web]'") from None
    from llmatlas.backends.registry import public_spec
    from llmatlas.web.app import LOOPBACK, Settings, create_app, default_models

    if host not in LOOPBACK and not token:
        token = secrets.token_urlsafe(24)
    settings = Settings(
        host=host, token=token, models=model or default_models(), catalog_dirs=[str(d) for d in _State.catalog_dirs]
    )
    if settings.exposed:
        err_console.print(
            f"[bold red]warning:[/bold red] serving on {host}, reachable from other machines. Every API call "
            "needs the token; anyone with it can run your models and spend your API credits."
        )
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"
    console.print(f"llmatlas web UI: [bold]{url}{'?token=' + token if token else ''}[/bold]  (API docs: {url}docs)")
    console.print(f"models: {', '.join(public_spec(m) for m in settings.models)}")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")


# --------------------------------------------------------------------------- catalog check / sync

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
    json_out: JsonOpt = False,
) -> None:
    """Where the datasets agree with the catalog, where they disagree (both values, sources and
    dates), and which models and offers they have that the catalog lacks."""
    from llmatlas.cli.market import render_check

    rep = api.check_catalog(catalog(), _sources(sources or ["genai-prices"]))
    if json_out:
        print_json(rep.model_dump(mode="json"))
    else:
        render_check(console, rep, show_all=show_all)
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
    json_out: JsonOpt = False,
) -> None:
    """Write labelled proposals (offers, and models with --models) for what the catalog lacks into the
    user catalog (sync-DATASET-*.yaml); conflicts with curated facts are listed, never applied."""
    from llmatlas.cli.market import render_sync

    res = api.sync_catalog(
        source, file=file, url=url, catalog_dirs=_State.catalog_dirs, with_models=models, dry_run=dry_run
    )
    if json_out:
        print_json(res.model_dump(mode="json"))
    else:
        render_sync(console, res)


# --------------------------------------------------------------------------- quickstart


@app.command()
@handle_errors
def quickstart(
    tokens: Annotated[int, typer.Option(min=8, max=512, help="Tokens to generate for the speed check.")] = 64,
    limit: Annotated[int, typer.Option(min=1, help="ARC-Easy questions to evaluate.")] = 50,
    report_dir: Annotated[
        Path | None, typer.Option(help="Where to write the recommendation report (default: <user dir>/reports).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Offline tour on the embedded SmolLM2: catalog, import, speed check, ARC-Easy eval, recommendation report."""
    from llmatlas.cli.quickstart import run_quickstart

    run_quickstart(catalog(), tokens=tokens, json_out=json_out, eval_limit=limit, report_dir=report_dir)


def run() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    run()
