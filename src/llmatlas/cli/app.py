"""The typer application every command module registers on, and what they share: the ``--catalog``
folders, one-line errors (exit 2) and the common options."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer
from rich.markup import escape

from llmatlas import __version__
from llmatlas.catalog.catalog import Catalog, load_catalog
from llmatlas.cli.render import console, err_console
from llmatlas.core.errors import InputError, LlmatlasError

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
WideOpt = Annotated[
    bool,
    typer.Option("--wide", help="Show every table column, even where the table is wider than the terminal."),
]


class State:
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
    return load_catalog(State.catalog_dirs)


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
    State.catalog_dirs = list(catalog_dir or [])


def parse_date(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"'{text}' is not a date (YYYY-MM-DD)", field="on") from None


JournalOpt = Annotated[
    Path | None, typer.Option("--journal", help="Run journal (SQLite); default <user dir>/runs.sqlite.")
]
