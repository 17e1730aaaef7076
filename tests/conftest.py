"""Shared fixtures: every test gets its own user directory, so nothing touches ~/.config.

``browser``: Debian's headless Chromium through Playwright, for the browser tests (the HTML report,
the web UI). Skipped when Chromium or Playwright is missing, unless LLMATLAS_REQUIRE_BROWSER=1 (CI),
where the absence is a failure: the check must not silently stop running.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmatlas.catalog import Catalog, load_catalog


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Derived files (the embedded model's f32 copy) once per test session, not in ~/.cache."""
    cache = tmp_path_factory.mktemp("llmatlas-cache")
    before = os.environ.get("LLMATLAS_CACHE")
    os.environ["LLMATLAS_CACHE"] = str(cache)
    yield cache
    if before is None:
        os.environ.pop("LLMATLAS_CACHE", None)
    else:
        os.environ["LLMATLAS_CACHE"] = before


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "llmatlas-home"
    monkeypatch.setenv("LLMATLAS_HOME", str(home))
    monkeypatch.setenv("COLUMNS", "160")
    yield home


@pytest.fixture(scope="session")
def cat() -> Catalog:
    return load_catalog(include_user=False)


CHROMIUM = Path(os.environ.get("LLMATLAS_CHROMIUM", "/usr/bin/chromium"))
REQUIRE_BROWSER = os.environ.get("LLMATLAS_REQUIRE_BROWSER") == "1"


def browser_missing() -> str | None:
    """Why no browser test can run here, or None."""
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install playwright)"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not found (apt-get install chromium)"
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    why = browser_missing()
    if why is not None:
        if REQUIRE_BROWSER:
            pytest.fail(f"LLMATLAS_REQUIRE_BROWSER=1 but {why}")
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield b
        finally:
            b.close()


@contextlib.contextmanager
def live_server(app: Any) -> Iterator[str]:
    """Run an ASGI app with uvicorn on a free loopback port in a thread; yields its base URL."""
    import uvicorn

    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not srv.started and time.time() < deadline:
        time.sleep(0.02)
    assert srv.started, "uvicorn did not start"
    port = srv.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(10)
