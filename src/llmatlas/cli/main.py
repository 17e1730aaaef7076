"""The ``llmatlas`` command line (typer + rich). Every command has ``--json`` for scripts.

Errors in user input print one line naming file, line and field and exit with code 2. The commands
live in one module per group (``models`` for the catalog, ``estimate``, ``evals``, ``recommend``,
``serve``, ``quickstart``), each registering on :data:`llmatlas.cli.app.app`; this module gathers them.
"""

from __future__ import annotations

from llmatlas.cli import estimate, evals, models, quickstart, recommend, serve
from llmatlas.cli.app import app

__all__ = ["app", "estimate", "evals", "models", "quickstart", "recommend", "run", "serve"]


def run() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    run()
