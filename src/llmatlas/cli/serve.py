"""``llmatlas serve``: the local web UI."""

from __future__ import annotations

from typing import Annotated

import typer

from llmatlas.cli.app import State, app, handle_errors
from llmatlas.cli.render import console, err_console
from llmatlas.core.errors import LlmatlasError


@app.command()
@handle_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind; anything but loopback needs the printed token.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            help="Model SPEC or endpoint name for the playground and arena (repeatable); "
            "default: the embedded model and your endpoints.yaml.",
        ),
    ] = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Also serve two mock models (canned answers), to try the UI.")
    ] = False,
    token: Annotated[
        str | None, typer.Option(help="Require this token on every API call (default: none on loopback).")
    ] = None,
) -> None:
    """Start the local web UI: advisor, catalog, calculators, leaderboard, playground and blind arena."""
    import secrets

    try:
        import uvicorn
    except ImportError:
        raise LlmatlasError("the web UI needs FastAPI and uvicorn: pip install 'llmatlas[web]'") from None
    from llmatlas.backends.endpoints import endpoints_path
    from llmatlas.web.app import LOOPBACK, Settings, create_app

    if host not in LOOPBACK and not token:
        token = secrets.token_urlsafe(24)
    settings = Settings(
        host=host, token=token, models=model or None, demo=demo, catalog_dirs=[str(d) for d in State.catalog_dirs]
    )
    if settings.exposed:
        err_console.print(
            f"[bold red]warning:[/bold red] serving on {host}, reachable from other machines. Every API call "
            "needs the token; anyone with it can run your models and spend your API credits."
        )
    application = create_app(settings)
    pool = application.state.pool
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"
    console.print(f"llmatlas web UI: [bold]{url}{'?token=' + token if token else ''}[/bold]  (API docs: {url}docs)")
    console.print(f"models: {', '.join(pool.labels.get(s, s) for s in pool.specs) or 'none'}")
    if not pool.labels:
        console.print(f"[dim]add your own models (name: SPEC) in {endpoints_path()}[/dim]")
    uvicorn.run(application, host=host, port=port, log_level="warning")
