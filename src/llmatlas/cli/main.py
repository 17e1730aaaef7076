"""The ``llmatlas`` command line (typer + rich). Every command has ``--json`` for scripts.

Errors in user input print one line naming file, line and field and exit with code 2. The commands
live in one module per group (``models`` for the catalog, ``estimate``, ``evals``, ``recommend``,
``serve``, ``quickstart``), each registering on :data:`llmatlas.cli.app.app`; this module gathers them.
"""

from __future__ import annotations

import sys

from llmatlas.cli import estimate, evals, models, quickstart, recommend, serve
from llmatlas.cli.app import app

__all__ = ["app", "complete_args", "estimate", "evals", "models", "quickstart", "recommend", "run", "serve"]


# Options whose value may be left out (``--ray`` alone starts Ray here), and the value they then
# take. Typer has no optional option values, so the command line is completed before parsing.
OPTIONAL_VALUES = {"--ray": "local"}


def complete_args(args: list[str]) -> list[str]:
    """``--ray`` with no value (last, or followed by another option) becomes ``--ray local``."""
    out: list[str] = []
    for i, a in enumerate(args):
        out.append(a)
        if a in OPTIONAL_VALUES and (i + 1 == len(args) or args[i + 1].startswith("-")):
            out.append(OPTIONAL_VALUES[a])
    return out


def run() -> None:
    """Console-script entry point."""
    app(args=complete_args(sys.argv[1:]))


if __name__ == "__main__":  # pragma: no cover
    run()
