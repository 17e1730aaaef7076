"""``llmatlas recommend``'s output: ``--eval``'s progress lines, the reports and the terminal view.

The recommendation itself is :func:`llmatlas.api.recommend`'s.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from llmatlas.advise.schema import Recommendation
from llmatlas.cli.render import print_json


def progress_lines(console: Console) -> Callable[[str], None]:
    """Where ``api.recommend`` sends its progress lines: dimmed on ``console``, as plain text."""

    def show(line: str) -> None:
        console.print(f"[dim]{escape(line)}[/dim]", highlight=False)

    return show


def show_recommendation(rec: Recommendation, reports: list[Path], console: Console, *, json_out: bool = False) -> None:
    """Write the reports (Markdown, HTML or JSON by suffix), then the JSON or the terminal view."""
    from llmatlas.report import render_terminal, write_report

    for p in reports:
        write_report(rec, p)
    if json_out:
        print_json(rec.model_dump(mode="json"))
        return
    render_terminal(rec, console)
    for p in reports:
        console.print(f"report written: [bold]{p}[/bold]")
