"""``llmatlas recommend``: the command, ``--eval``'s progress lines, the reports and the terminal view.

The recommendation itself is :func:`llmatlas.api.recommend`'s.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from llmatlas import api
from llmatlas.advise.requirements import example_names
from llmatlas.advise.schema import Recommendation
from llmatlas.cli.app import JsonOpt, WideOpt, app, catalog, handle_errors, parse_date
from llmatlas.cli.render import console, print_json
from llmatlas.core.errors import InputError


def progress_lines(console: Console) -> Callable[[str], None]:
    """Where ``api.recommend`` sends its progress lines: dimmed on ``console``, as plain text."""

    def show(line: str) -> None:
        console.print(f"[dim]{escape(line)}[/dim]", highlight=False)

    return show


def show_recommendation(
    rec: Recommendation, reports: list[Path], console: Console, *, json_out: bool = False, wide: bool = False
) -> None:
    """Write the reports (Markdown, HTML or JSON by suffix), then the JSON or the terminal view."""
    from llmatlas.report import render_terminal, write_report

    for p in reports:
        write_report(rec, p)
    if json_out:
        print_json(rec.model_dump(mode="json"))
        return
    render_terminal(rec, console, wide=wide)
    for p in reports:
        console.print(f"report written: [bold]{p}[/bold]")


@app.command("recommend")
@handle_errors
def recommend_cmd(
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
    plan: Annotated[
        bool,
        typer.Option("--plan", help="With --eval: what measuring the shortlist takes (tokens, time, cost); no run."),
    ] = False,
    data_dir: Annotated[str | None, typer.Option(help="Benchmark data folder for --eval.")] = None,
    no_measured: Annotated[
        bool, typer.Option("--no-measured", help="Ignore earlier runs in the results store.")
    ] = False,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Replay the decision as on DATE (YYYY-MM-DD): prices, lifecycle, releases then."),
    ] = None,
    wide: WideOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Turn a requirements file into a ranked, explained shortlist, with reports."""
    from llmatlas.cli.progress import ProgressView

    if plan and not evaluate:
        raise InputError("--plan plans the shortlist's measurement: give it with --eval", field="plan")
    with ProgressView(None if json_out or not evaluate or plan else console) as view:
        rec = api.recommend(
            requirements,
            catalog(),
            as_of=parse_date(as_of),
            use_store=not no_measured,
            eval_shortlist=evaluate,
            eval_models=eval_model,
            eval_limit=eval_limit,
            data_dir=data_dir,
            on_message=None if json_out else progress_lines(console),
            on_event=view,
            plan_only=plan,
        )
    if plan:
        show_shortlist_plans(rec, json_out=json_out, wide=wide)
        return
    show_recommendation(rec, report or [], console, json_out=json_out, wide=wide)


def show_shortlist_plans(rec: Recommendation, *, json_out: bool, wide: bool = False) -> None:
    """``recommend --eval --plan``: each shortlisted model's plan, then the problems, then the total."""
    from llmatlas.cli.evals import show_plan
    from llmatlas.core import format as fmt
    from llmatlas.engine.plan import EvalPlan

    info = rec.extra.get("eval", {})
    if json_out:
        print_json(info)
        return
    plans = [EvalPlan.model_validate(p) for p in info.get("plans", [])]
    for p in plans:
        show_plan(p, wide=wide)
    for problem in info.get("problems", []):
        console.print(f"[yellow]--eval --plan: {escape(problem)}[/yellow]")
    secs = [p.seconds for p in plans]
    if plans:
        total = fmt.duration(sum(s or 0.0 for s in secs)) if all(s is not None for s in secs) else "time unknown"
        console.print(f"[bold]shortlist: {len(plans)} models, {total} here; nothing was run[/bold]")
