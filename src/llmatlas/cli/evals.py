"""Evaluation commands: ``eval``, ``tasks``, ``results``, ``compare`` and ``judge-pairwise``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypedDict

import typer
from rich import box
from rich.markup import escape

from llmatlas import api
from llmatlas.cli.app import JournalOpt, JsonOpt, State, WideOpt, app, handle_errors
from llmatlas.cli.render import console, err_console, money, num, performance_line, print_json
from llmatlas.core import format as fmt
from llmatlas.core.tables import Col, FitTable

if TYPE_CHECKING:
    from llmatlas.engine.plan import EvalPlan
    from llmatlas.engine.results import RunResult


class _RunArgs(TypedDict):
    """What ``eval`` passes alike to the run and to its plan."""

    limit: int | None
    num_fewshot: int | None
    data_dir: str | None
    samples: int | None
    temperature: float | None
    max_tokens: int | None
    judge: str | None
    catalog_dirs: list[Path]
    catalog_id: str | None
    journal_path: Path | None


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
    plan: Annotated[
        bool,
        typer.Option("--plan", help="Say what the run would push (tokens), take here (time) and cost; run nothing."),
    ] = False,
    wide: WideOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Run benchmarks on a model; resumable (run the same command again after a crash)."""
    from llmatlas.cli.progress import ProgressView

    names = [t.strip() for t in task.split(",") if t.strip()]
    common: _RunArgs = {
        "limit": limit,
        "num_fewshot": num_fewshot,
        "data_dir": str(data_dir) if data_dir else None,
        "samples": samples,
        "temperature": temperature,
        "max_tokens": max_tokens,
        "judge": judge,
        "catalog_dirs": State.catalog_dirs,
        "catalog_id": catalog_id,
        "journal_path": journal,
    }
    if plan:
        the_plan = api.plan_eval(model, names, **common)
        if json_out:
            print_json(the_plan.model_dump(mode="json"))
        else:
            show_plan(the_plan, wide=wide)
        return
    with ProgressView(None if json_out else err_console) as view:
        results = api.evaluate(model, names, chunk=chunk, on_event=view, out_dir=out, **common)
    if json_out:
        data = [r.model_dump(mode="json") for r in results]
        print_json(data[0] if len(data) == 1 else data)
        return
    t = FitTable(
        [
            Col("task"),
            Col("n", priority=3, justify="right"),
            Col("metric"),
            Col("value", justify="right"),
            Col("± stderr", priority=1, justify="right"),
            Col("items/s", priority=4, justify="right"),
            Col("run", priority=2),
        ],
        title=escape(results[0].model),
    )
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
    t.print(console, wide=wide)
    for r in results:
        reused = reuse_line(r)
        if reused:
            console.print(f"[dim]{escape(reused)}[/dim]")
        if r.performance is not None:
            console.print(performance_line(r))
        line = plan_vs_actual(r)
        if line:
            console.print(f"[dim]{escape(line)}[/dim]")
        if r.backend_stats.get("truncated"):
            console.print(
                f"[yellow]{r.task}: {r.backend_stats['truncated']} prompts were longer than the model's context "
                "and were cut from the left (lm-evaluation-harness's rule)[/yellow]"
            )
    if out:
        console.print(f"[dim]results and per-sample records written to {out}[/dim]")


def reuse_line(r: RunResult) -> str | None:
    """What a run found in the journal: all of it scored before (reused), or part (resumed)."""
    if not r.config.get("resumed"):
        return None
    scored = int(r.config.get("scored_this_session", 0))
    before = r.n - scored
    if scored == 0:
        return f"{r.task}: reused run {r.run_id}, {r.n}/{r.n} already scored (items/s from when it was scored)"
    return f"{r.task}: resumed run {r.run_id}, {before} of {r.n} were scored before, {scored} now"


@app.command()
@handle_errors
def campaign(
    file: Annotated[Path, typer.Argument(help="Campaign YAML: name, models, tasks (see docs/campaigns.md).")],
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="[ADDRESS]",
            help="Run on Ray: a cluster address (ray://host:10001, auto), or no value ('local') to start one here.",
        ),
    ] = None,
    journal: JournalOpt = None,
    wide: WideOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Run a matrix of models × tasks and roll it up into one table; resumable like `eval`."""
    from llmatlas.cli.progress import ProgressView

    with ProgressView(None if json_out else err_console, with_model=True) as view:
        roll = api.run_campaign(file, ray=ray, journal_path=journal, on_event=view)
    if json_out:
        print_json(roll.model_dump(mode="json"))
        if roll.failed:
            raise typer.Exit(1)
        return
    t = FitTable(
        [
            Col("model", wrap=True),
            Col("task"),
            Col("n", priority=3, justify="right"),
            Col("metric"),
            Col("value", justify="right"),
            Col("95% CI", priority=1),
            Col("items/s", priority=4, justify="right"),
            Col("run", priority=2),
        ],
        title=escape(f"{roll.campaign} ({roll.executor})"),
        box=box.SIMPLE_HEAD,
        padding=0,
        pad_edge=False,
    )
    for r in roll.rows:
        ci = f"{r.ci95[0]:.2f}–{r.ci95[1]:.2f}" if r.ci95 else "–"
        value = num(r.value, "{:.3f}")
        if r.status != "complete":
            value = f"[yellow]{r.status}[/yellow] {value if r.value is not None else ''}".strip()
        t.add_row(
            escape(r.model),
            r.task,
            str(r.n),
            r.metric or "–",
            value,
            ci,
            num(r.items_per_s, "{:.1f}"),
            r.run_id[:8] if r.run_id else "–",  # a prefix is enough for `results`/`compare`
        )
    t.print(console, wide=wide)
    console.print(f"[dim]journal: {escape(roll.journal)} (the leaderboard and `recommend` read these runs)[/dim]")
    for r in roll.failed:
        err_console.print(f"[bold red]failed:[/bold red] {escape(r.model)} · {r.task}: {escape(r.error or '')}")
    if roll.failed:
        err_console.print("[dim]fix the cause and run the same command again: finished cells are reused[/dim]")
        raise typer.Exit(1)


@app.command()
@handle_errors
def tasks(wide: WideOpt = False, json_out: JsonOpt = False) -> None:
    """Available benchmarks and where their data is found."""
    rows = [r.model_dump() for r in api.tasks()]
    if json_out:
        print_json(rows)
        return
    tb = FitTable(
        [
            Col("task"),
            Col("metrics", priority=1, wrap=True),
            Col("shots", priority=3, justify="right"),
            Col("data", priority=2, wrap=True, min_width=20, whole_words=False),
        ],
        title="Tasks",
    )
    for r in rows:
        tb.add_row(
            r["task"],
            ", ".join(r["metrics"]),
            str(r["num_fewshot"]),
            r["local_file"] or (f"hub: {r['hub']} (needs network)" if r["hub"] else "--data-dir"),
        )
    tb.print(console, wide=wide)


@app.command()
@handle_errors
def results(journal: JournalOpt = None, wide: WideOpt = False, json_out: JsonOpt = False) -> None:
    """Runs in the journal with their scores."""
    runs = api.list_runs(journal)
    if json_out:
        print_json([r.model_dump(mode="json") for r in runs])
        return
    t = FitTable(
        [
            Col("run"),
            Col("created", priority=3),
            Col("model", wrap=True),
            Col("task"),
            Col("status", priority=1),
            Col("n", priority=2, justify="right"),
            Col("scores (± stderr)", wrap=True, min_width=20),
        ],
        title=f"Runs ({len(runs)})",
    )
    for r in runs:
        res = r.result
        scores = "  ".join(f"{k} {m.value:.3f}±{m.stderr or 0:.3f}" for k, m in res.metrics.items()) if res else ""
        if r.error:
            scores = f"[red]{escape(r.error)}[/red]"
        t.add_row(r.run_id, r.created[:16].replace("T", " "), escape(r.model), r.task, r.status, str(r.samples), scores)
    t.print(console, wide=wide)


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


def _time_with_range(seconds: float | None, spread: tuple[float, float] | None) -> str:
    if seconds is None:
        return "unknown"
    if spread is None or fmt.duration(spread[0]) == fmt.duration(spread[1]):
        return fmt.duration(seconds)
    return f"{fmt.duration(seconds)} ({fmt.duration(spread[0])}–{fmt.duration(spread[1])})"


def plan_vs_actual(r: RunResult) -> str | None:
    """One line after a run: the tokens and time its plan said, beside what the run took."""
    p = r.plan
    if p is None:
        return None
    actual = p.actual_tokens
    encoded = actual.get("tokens_encoded", actual.get("prompt_tokens_encoded"))
    parts = [f"{r.task}: plan vs actual —"]
    if encoded is not None:
        parts.append(f"tokens encoded {encoded:,} (plan: {p.tokens.unique:,} unique of {p.tokens.naive:,} in full)")
    if "output_tokens" in actual and p.tokens.output_max:
        expected = f"{p.tokens.output_expected:,} expected, " if p.tokens.output_expected is not None else ""
        parts.append(f"output {actual['output_tokens']:,} ({expected}≤ {p.tokens.output_max:,})")
    took = fmt.duration(p.actual_seconds) if p.actual_seconds is not None else "?"
    planned = _time_with_range(p.seconds, p.seconds_range) if p.seconds is not None else "no estimate"
    parts.append(f"time {took} (plan: {planned})")
    return " ".join(parts[:1]) + " " + "; ".join(parts[1:])


def show_plan(plan: EvalPlan, *, wide: bool = False) -> None:
    """The plan as a table: work per task in tokens, its time here and its API cost, then the totals."""
    t = FitTable(
        [
            Col("task"),
            Col("items", priority=2, justify="right"),
            Col("requests", priority=4, justify="right"),
            Col("tokens", priority=3, justify="right"),
            Col("shared", priority=5, justify="right"),
            Col("unique", priority=1, justify="right"),
            Col("output ≤", priority=6, justify="right"),
            Col("time", justify="right"),
            Col("cost", justify="right"),
        ],
        title=escape(f"Plan for {plan.model} (nothing run)"),
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for p in plan.tasks:
        tok = p.tokens
        mark = "" if tok.method == "tokenizer" else "~"
        t.add_row(
            p.task,
            f"{p.items:,}" + (f" ({p.done:,} done)" if p.done else ""),
            f"{p.requests:,}",
            f"{mark}{tok.naive:,}",
            f"{mark}{tok.shared:,}",
            f"{mark}{tok.unique:,}",
            f"{tok.output_max:,}" if tok.output_max else "–",
            _time_with_range(p.seconds, p.seconds_range),
            money(p.cost_usd) if p.cost_usd is not None else "–",
        )
    t.print(console, wide=wide)
    for p in plan.tasks:
        basis = f"{p.task}: time from {p.seconds_basis}"
        if p.tokens.output_expected is not None:
            basis += f"; this model wrote {p.tokens.output_expected:,} output tokens on runs like it"
        console.print(f"[dim]{escape(basis)}" + (f"; cost: {escape(p.cost_note)}" if p.cost_note else "") + "[/dim]")
    console.print(
        "[dim]tokens: every request encoded in full (lm-eval's work; what an API bills); shared: each "
        "question's context once; unique: every shared prefix once (the least any scorer must encode)[/dim]"
    )
    if any(p.tokens.method == "estimate" for p in plan.tasks):
        console.print("[dim]~ estimated at 4 characters a token (no tokenizer for this model here)[/dim]")
    total_time = fmt.duration(plan.seconds) if plan.seconds is not None else "time unknown"
    total_cost = money(plan.cost_usd) if plan.cost_usd is not None else "no per-token price"
    console.print(f"total: {total_time}, {total_cost}")
