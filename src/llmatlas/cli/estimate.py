"""Estimator commands: ``cost``, ``fit`` and ``breakeven``."""

from __future__ import annotations

from typing import Annotated

import typer

from llmatlas import api
from llmatlas.catalog.catalog import Catalog
from llmatlas.catalog.offers import display_name
from llmatlas.cli.app import JsonOpt, WideOpt, app, catalog, handle_errors, parse_date
from llmatlas.cli.render import console, gib, money, num, params, print_json
from llmatlas.core import format as fmt
from llmatlas.core.tables import Col, FitTable
from llmatlas.estimate.cost import CostEstimate


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
    wide: WideOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """API cost of a workload per model and offer, in USD (and CNY where the provider prices in CNY).

    Every offer of a model is listed, cheapest first: the developer's own API and the hosted
    providers of open weights. Long-context tiers apply by prompt size; a retired API or offer has
    no price today (give --on for history).
    """
    cat = catalog()
    when = parse_date(on)
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
    native_col = any(r.currency and r.currency != "USD" for r in rows)  # CNY prices: their own column
    cols = [
        Col("model"),
        Col("provider", wrap=True, min_width=10),
        Col("input", priority=3, justify="right"),
        Col("output", priority=4, justify="right"),
        Col("total (USD)", justify="right"),
        Col("native", priority=1, justify="right"),
        Col("blended 3:1 /1M", priority=2, justify="right"),
        Col("price as of", priority=5, justify="right"),
    ]
    shown = [c for c in cols if (c.header != "model" or not one) and (c.header != "native" or native_col)]
    t = FitTable(
        shown,
        title=(f"{rows[0].model}: " if one else "")
        + f"{requests:,} requests × ({input_tokens:,} in + {output_tokens:,} out tokens)",
    )
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
            (shown_in, shown_out), shown_total = _parts(r)
            cells |= {
                "input": shown_in,
                "output": shown_out,
                "total (USD)": shown_total,
                "blended 3:1 /1M": money(r.blended_per_m_usd),
            }
        t.add_row(*(cells.get(c.header, "—") for c in shown))
    t.print(console, wide=wide)
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


def _parts(r: CostEstimate) -> tuple[list[str], str]:
    """Input and output cost and their total, shown so that the parts add up to the total."""
    parts = [r.input_cost_usd, r.output_cost_usd]
    if r.total_usd is None or any(p is None for p in parts):
        return [money(p) for p in parts], money(r.total_usd)
    known = [p for p in parts if p is not None]
    if abs(sum(known) - r.total_usd) > 1e-9 * max(1.0, r.total_usd):  # parts that are not the whole
        return [money(p) for p in known], money(r.total_usd)
    return fmt.money_parts(known)


def _provider_cell(cat: Catalog, r: CostEstimate) -> str:
    """'Together AI (fp8)' for a hosted offer, the developer's name for its own API, '—' for none."""
    if r.provider is None:
        return "—"
    name = display_name(cat, r.provider, r.first_party)
    if r.first_party:
        return f"{name} (own API)"
    return f"{name} ({r.quantization})" if r.quantization else name


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
    t = FitTable(
        [Col("part"), Col("bytes", justify="right"), Col("how", wrap=True, min_width=20)],
        title=f"{res.model} at {quant}, {est.context:,} tokens × batch {batch}",
    )
    t.add_row("weights", gib(est.weights_bytes), f"{params(est.params_b)} × {est.bits_per_weight:g} bits / 8")
    t.add_row("KV cache", gib(est.kv_cache_bytes), f"2 × layers × kv_heads × head_dim × tokens × {kv_dtype}")
    t.add_row("overhead", gib(est.overhead_bytes), "runtime context and buffers (stated, adjustable)")
    t.add_row("[bold]total[/bold]", f"[bold]{gib(total)}[/bold]", "")
    t.print(console)  # every column is kept: the explanation wraps
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
        f"at ${be.gpu_hour_usd:g}/GPU-hour"
    )
    console.print(f"  GPU price: {be.gpu_price_basis}", markup=False, highlight=False)
    console.print(
        f"  workload:  {requests_per_month:,.0f} requests/month of {input_tokens:,} input + {output_tokens:,} output "
        f"tokens [dim](--requests-per-month, --input-tokens, --output-tokens)[/dim]"
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
