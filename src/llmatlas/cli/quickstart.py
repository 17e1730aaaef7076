"""``llmatlas quickstart``: the README's main job, fully offline on the embedded SmolLM2 (command and tour).

It shows a slice of the catalog, imports the embedded GGUF (metadata via ``gguf``), estimates its
memory, runs it with llama-cpp-python and compares the measured decode speed with the estimator's
bytes-per-token model (the calibration DESIGN.md asks for), evaluates it on ARC-Easy, and writes
the advisor's report for the customer-support chatbot example.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from llmatlas import api
from llmatlas.backends.embedded import EMBEDDED_ALIAS, EMBEDDED_CATALOG_ID, smollm2_path
from llmatlas.catalog.catalog import Catalog
from llmatlas.catalog.query import select
from llmatlas.catalog.schema import Model
from llmatlas.cli.app import JsonOpt, WideOpt, app, catalog, handle_errors
from llmatlas.cli.render import console, context, gib, money, params, print_json
from llmatlas.core.tables import Col, FitTable

PROMPT = api.SPEED_PROMPT


def _generate(tokens: int, quiet: bool, entry: Model) -> dict[str, Any]:
    """The speed check on the embedded model, with a progress bar of the tokens as they come."""
    with Progress(
        TextColumn("[bold]generating[/bold]"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} tokens"),
        TimeElapsedColumn(),
        console=console,
        disable=quiet,
        transient=True,
    ) as bar:
        task = bar.add_task("gen", total=tokens)
        check = api.speed_check(EMBEDDED_ALIAS, tokens, prompt=PROMPT, model=entry, on_text=lambda _: bar.advance(task))
    return check.model_dump(mode="json")


def _evaluate(limit: int, quiet: bool) -> dict[str, Any]:
    from llmatlas.cli.progress import ProgressView
    from llmatlas.engine.journal import default_path
    from llmatlas.tasks.datasets import find_file, packaged_sample

    if not quiet:
        console.rule(f"[bold]4. Evaluate: {limit} ARC-Easy questions, log-likelihood scoring[/bold]")
    data_dir = None
    if find_file(("arc_easy_test.jsonl",)) is None:
        tmp = Path(tempfile.mkdtemp(prefix="llmatlas-arc-"))
        (tmp / "arc_easy_test.jsonl").symlink_to(packaged_sample("arc_easy_sample.jsonl"))
        data_dir = str(tmp)
        limit = min(limit, 50)
        if not quiet:
            console.print("[dim]no ARC data folder found: using the 50-question sample shipped with llmatlas[/dim]")
    with ProgressView(None if quiet else console) as view:
        (res,) = api.evaluate("smollm2", ["arc_easy"], limit=limit, data_dir=data_dir, on_event=view)
    if not quiet:
        acc, norm = res.metrics["acc"], res.metrics["acc_norm"]
        console.print(
            f"SmolLM2-135M-Instruct (Q4_1), ARC-Easy n={res.n}: acc {acc.value:.3f} ± {acc.stderr or 0:.3f}, "
            f"acc_norm {norm.value:.3f} ± {norm.stderr or 0:.3f} (chance ≈ 0.25); run {res.run_id} "
            f"in {default_path()} (`llmatlas results`)"
        )
    return res.model_dump(mode="json")


def _advise(cat: Catalog, report_dir: Path | None, quiet: bool, wide: bool = False) -> dict[str, Any]:
    """The advisor on the book chapter's chatbot example: a ranked shortlist and its reports."""
    from llmatlas.core.paths import user_dir
    from llmatlas.report import render_terminal, write_report

    if not quiet:
        console.rule("[bold]5. Recommend: the customer-support chatbot example[/bold]")
    rec = api.recommend("customer_support_chatbot", cat)
    folder = report_dir or user_dir() / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "customer_support_chatbot.html", folder / "customer_support_chatbot.md"]
    for p in paths:
        write_report(rec, p)
    if not quiet:
        render_terminal(rec, console, show_sources=False, max_exclusions_per_filter=2, wide=wide)
        console.print(f"report with every source: [bold]{paths[0]}[/bold] (open it in a browser) and {paths[1]}")
    top = rec.candidates[0] if rec.candidates else None
    return {
        "requirements": rec.requirements.name,
        "top": top.model if top else None,
        "shortlist": [c.model for c in rec.shortlist],
        "excluded": len(rec.excluded),
        "reports": [str(p) for p in paths],
    }


def catalog_table(cat: Catalog, rows: list[dict[str, Any]]) -> FitTable:
    """The tour's slice of the catalog: ids and API prices stay whole, license and context drop first."""
    t = FitTable(
        [
            Col("id"),
            Col("params", priority=2),
            Col("context", priority=3),
            Col("license", priority=4, wrap=True, min_width=10),
            Col("MMLU", priority=1),
            Col("API in/out per 1M"),
        ],
        title=f"{len(cat)} models; open weights, commercial use, by reported MMLU",
    )
    for r in rows:
        price = (
            f"{money(r['input_price'], r['currency'])} / {money(r['output_price'], r['currency'])}"
            if r["input_price"] is not None
            else "self-host"
        )
        t.add_row(r["id"], params(r["params_b"]), context(r["context"]), r["license"], f"{r['mmlu']:g}", price)
    return t


def run_quickstart(
    cat: Catalog,
    tokens: int = 64,
    json_out: bool = False,
    eval_limit: int = 50,
    report_dir: Path | None = None,
    wide: bool = False,
) -> dict[str, Any]:
    quiet = json_out
    out: dict[str, Any] = {}
    # 1. A slice of the catalog: open weights usable commercially, best reported MMLU first.
    rows = select(cat, "open_weights and commercial == 'yes' and mmlu != None", "-mmlu")[:8]
    out["catalog"] = {"models": len(cat), "top_open_commercial_by_mmlu": [r["id"] for r in rows]}
    if not quiet:
        console.rule("[bold]1. Catalog[/bold]")
        catalog_table(cat, rows).print(console, wide=wide)
    # 2. Import the embedded GGUF.
    path = smollm2_path()
    imported = api.import_model(path, "smollm2-local", save=False, context=8192)
    m, mem = imported.entry, imported.memory
    assert mem is not None  # asked for with a context
    q = m.quantizations[0]
    out["import"] = {
        "file": str(path),
        "params_b": m.total_params_b,
        "quant": q.name,
        "bits_per_weight": q.bits_per_weight,
        "file_bytes": q.file_bytes,
        "weights_estimate_bytes": mem.weights_bytes,
        "kv_cache_bytes_8k": mem.kv_cache_bytes,
        "total_bytes_8k": mem.total_bytes,
    }
    if not quiet:
        console.rule("[bold]2. Import the embedded model[/bold]")
        arch = m.architecture
        console.print(
            f"{path.name}: {params(m.total_params_b)} params, {arch.layers if arch else '?'} layers, "
            f"{arch.attention_heads if arch else '?'} heads / {arch.kv_heads if arch else '?'} KV heads, "
            f"context {context(m.context_tokens)}"
        )
        console.print(
            f"{q.name} ({q.bits_per_weight:.2f} bits/weight averaged over tensors): weights ≈ "
            f"{gib(mem.weights_bytes)} vs file {gib(q.file_bytes)}; KV cache at 8K = {gib(mem.kv_cache_bytes)}; "
            f"total with overhead {gib(mem.total_bytes)}"
        )
        builtin = cat.models.get(EMBEDDED_CATALOG_ID)
        if builtin:
            console.print(
                f"catalog entry [cyan]{builtin.id}[/cyan] agrees: "
                f"{builtin.architecture.layers if builtin.architecture else '?'} layers, "
                f"{builtin.context_tokens} context (`llmatlas show {builtin.id}`)"
            )
    # 3. Run it and calibrate the speed model.
    if not quiet:
        console.rule("[bold]3. Run it with llama-cpp-python (offline)[/bold]")
    gen = _generate(tokens, quiet, m)
    rate, per_token, eff_bw = gen["decode_tokens_per_s"], gen["bytes_read_per_token"], gen["effective_bandwidth_gb_s"]
    out["generation"] = gen
    if not quiet:
        console.print(f"[italic]{PROMPT}[/italic]")
        console.print(f"> {gen['text']}")
        ttft = gen["ttft_seconds"]
        runs = gen["decode_runs"]
        spread = f" (median of {len(runs)} runs: {min(runs):.1f}–{max(runs):.1f})" if len(runs) > 1 else ""
        console.print(
            f"load {gen['load_seconds']:.2f}s, first token {ttft * 1000 if ttft else float('nan'):.0f} ms, "
            f"{gen['output_tokens']} tokens at {rate or float('nan'):.1f} tok/s{spread} on {gen['threads']} threads"
        )
        if gen["busy"]:
            console.print(
                f"[yellow]the {len(runs)} runs differ by {gen['spread']:.0%}: something else is using this "
                "machine, so its speed says little about the hardware; run the quickstart again when it is "
                "idle before calibrating from it[/yellow]"
            )
        elif eff_bw and per_token:
            console.print(
                f"each token reads ≈ {per_token / 1e6:.0f} MB → this machine delivers ≈ {eff_bw:.1f} GB/s "
                "effective; use it to calibrate `llmatlas fit --gpu` bounds"
            )
    # 4. A real evaluation: ARC-Easy on the embedded model, journaled and resumable.
    out["evaluation"] = _evaluate(eval_limit, quiet)
    # 5. The advisor: requirements → explained shortlist → HTML/Markdown report.
    out["recommendation"] = _advise(cat, report_dir, quiet, wide)
    if not quiet:
        console.rule()
        console.print(
            "Next: `llmatlas recommend your_requirements.yaml --report report.html` (examples/requirements/), "
            "`llmatlas eval --model smollm2 --task arc_easy,hellaswag --limit 200`, "
            '`llmatlas models --where "open_weights and params_b <= 14" --sort -mmlu`, '
            "`llmatlas fit llama-2-70b --quant Q4_K_M --gpu rtx-4090`, "
            "`llmatlas cost gpt-5-mini claude-haiku-4.5 --input-tokens 1000 --output-tokens 300 --requests 100000`, "
            "`llmatlas models --where \"status == 'deprecated'\" --sort shutdown`"
        )
    else:
        print_json(out)
    return out


@app.command("quickstart")
@handle_errors
def quickstart_cmd(
    tokens: Annotated[int, typer.Option(min=8, max=512, help="Tokens to generate for the speed check.")] = 64,
    limit: Annotated[int, typer.Option(min=1, help="ARC-Easy questions to evaluate.")] = 50,
    report_dir: Annotated[
        Path | None, typer.Option(help="Where to write the recommendation report (default: <user dir>/reports).")
    ] = None,
    wide: WideOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Offline tour on the embedded SmolLM2: catalog, import, speed check, ARC-Easy eval, recommendation report."""
    run_quickstart(catalog(), tokens=tokens, json_out=json_out, eval_limit=limit, report_dir=report_dir, wide=wide)
