"""The user's endpoints file and what `serve` offers: real models only, mocks only with --demo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from llmatlas.backends.endpoints import endpoints_path, load_endpoints
from llmatlas.cli.main import app
from llmatlas.core.errors import InputError
from llmatlas.web.app import Settings, create_app

SECRET = "sk-test-DO-NOT-LEAK-0123456789abcdef"
FILE = """endpoints:
  gpt-mini:
    spec: openai:gpt-4.1-mini
    api_key_env: MY_OPENAI_KEY
  local-qwen: "openai:qwen2.5-7b?base_url=http://127.0.0.1:8001/v1"
"""


def write(text: str) -> Path:
    p = endpoints_path()
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    return p


def test_no_file_means_no_endpoints() -> None:
    assert load_endpoints() == []


def test_short_and_long_forms_and_key_variable() -> None:
    write(FILE)
    got = {e.name: e.spec for e in load_endpoints()}
    assert got == {
        "gpt-mini": "openai:gpt-4.1-mini?api_key_env=MY_OPENAI_KEY",
        "local-qwen": "openai:qwen2.5-7b?base_url=http://127.0.0.1:8001/v1",
    }


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ("endpoints:\n  x: openai:m?api_key=sk-123\n", 2, "environment"),
        ("endpoints:\n  x:\n    spec: nosuch:model\n", 3, "unknown backend 'nosuch'"),
        ("endpoints:\n  x:\n    spec: openai:m\n    api_key_env: 'not a var'\n", 4, "environment variable name"),
        ("endpoints:\n  x:\n    spec: openai:m\n    key_env: K\n", 4, "unknown key 'key_env'"),
        ("endpoints:\n  'a:b': openai:m\n", None, "endpoint name"),
        ("- openai:m\n", 1, "YAML mapping"),
    ],
)
def test_bad_files_name_file_and_line(text: str, line: int | None, says: str) -> None:
    p = write(text)
    with pytest.raises(InputError) as info:
        load_endpoints()
    assert says in str(info.value)
    assert str(p) in str(info.value)
    if line is not None:
        assert info.value.line == line


def specs(client: TestClient) -> list[dict[str, Any]]:
    r = client.get("/api/backends")
    assert r.status_code == 200
    body: list[dict[str, Any]] = r.json()
    return body


def test_default_serve_offers_no_mock_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_OPENAI_KEY", SECRET)
    write(FILE)
    cfg = Settings(arena_path=str(tmp_path / "arena.sqlite"))
    with TestClient(create_app(cfg)) as c:
        served = specs(c)
        assert not [b for b in served if b["backend"] == "mock" or b["demo"]]
        labels = {b["label"] for b in served}
        assert {"gpt-mini", "local-qwen"} <= labels
        info = c.get("/api/endpoints").json()
        assert info["file"] == str(endpoints_path())
        assert info["configured"] == ["gpt-mini", "local-qwen"]
        assert "api_key_env" in info["example"] and info["demo"] is False
        for path in ("/api/backends", "/api/endpoints", "/openapi.json"):
            assert SECRET not in c.get(path).text


def test_demo_adds_the_mock_models(tmp_path: Path) -> None:
    cfg = Settings(models=[], demo=True, arena_path=str(tmp_path / "arena.sqlite"))
    with TestClient(create_app(cfg)) as c:
        served = specs(c)
        assert [b["spec"] for b in served] == ["mock:alpha", "mock:beta"]
        assert all(b["demo"] for b in served)
        assert c.get("/api/endpoints").json()["demo"] is True


def run_serve(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[str, list[str]]:
    """`llmatlas serve ARGS` with uvicorn stubbed: what it printed and the models the app serves."""
    import uvicorn

    seen: list[str] = []

    def fake_run(application: Any, **_: Any) -> None:
        with TestClient(application) as c:
            seen.extend(b["label"] for b in specs(c))

    monkeypatch.setattr(uvicorn, "run", fake_run)
    r = CliRunner().invoke(app, ["serve", *args])
    assert r.exit_code == 0, r.output
    return r.output, seen


def test_serve_command_lists_endpoints_and_mocks_only_on_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("llmatlas.web.app.embedded_models", lambda: [])
    out, seen = run_serve(monkeypatch)
    assert seen == [] and "models: none" in out and str(endpoints_path()) in out.replace("\n", "")
    write(FILE)
    out, seen = run_serve(monkeypatch)
    assert seen == ["gpt-mini", "local-qwen"] and "mock" not in out
    out, seen = run_serve(monkeypatch, "--demo")
    assert seen == ["gpt-mini", "local-qwen", "alpha", "beta"] and "mock:alpha" in out
    out, seen = run_serve(monkeypatch, "--model", "local-qwen")  # an endpoint by its name
    assert seen == ["local-qwen"]
