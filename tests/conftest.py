"""Shared fixtures: every test gets its own user directory, so nothing touches ~/.config."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from llmatlas.catalog import Catalog, load_catalog


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "llmatlas-home"
    monkeypatch.setenv("LLMATLAS_HOME", str(home))
    monkeypatch.setenv("COLUMNS", "160")
    yield home


@pytest.fixture(scope="session")
def cat() -> Catalog:
    return load_catalog(include_user=False)
