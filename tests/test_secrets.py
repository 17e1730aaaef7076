"""No secret anywhere (issue 13, part 2): keys planted through every route — an error body that
puts the key across the 300-character cut, a model that echoes its request headers (plain and
streamed, the key split across two events), credentials inside base_url — never reach a journal,
a samples file, the arena store, a web response or the console."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from llmatlas.backends.base import GenerationRequest
from llmatlas.backends.registry import load_backend, public_spec
from llmatlas.cli.main import app
from llmatlas.web.app import Settings, create_app

KEY = "sk-live-PLANTED-7f3a9c1e5b2d4f6a8c0e"
URL_PASSWORD = "pw-PLANTED-url-secret-93b1"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "tasks"


class Echo(BaseHTTPRequestHandler):
    """OpenAI wire format; the reply repeats the request's Authorization header."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
        auth = self.headers.get("Authorization", "")
        if body.get("model") == "fail":
            payload = ("x" * 290 + KEY + "y" * 40).encode()  # the key straddles the 300-character cut
            self.send_response(400)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        text = f"you sent {auth} to me"
        if body.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            cut = len("you sent Bearer ") + 9  # the key split across two events
            for piece in (text[:cut], text[cut:]):
                event = {"choices": [{"index": 0, "delta": {"content": piece}, "text": piece}]}
                self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                self.wfile.flush()
            self.wfile.write(b"data: [DONE]\n\n")
            return
        choice = {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}, "text": text}
        payload = json.dumps({"choices": [choice], "usage": {"prompt_tokens": 3, "completion_tokens": 5}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def echo() -> Iterator[str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()
    srv.server_close()


def leaked(text: str) -> list[str]:
    """Any 8-character piece of a planted secret found in ``text`` (a cut key leaks its prefix)."""
    pieces = {s[i : i + 8] for s in (KEY, URL_PASSWORD) for i in range(len(s) - 7)}
    return sorted(p for p in pieces if p in text)


def all_files(root: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in root.rglob("*") if p.is_file())


def test_backend_outputs_errors_and_streams_are_redacted(echo: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    be = load_backend(f"openai:gpt-x?base_url={echo}&max_attempts=1&timeout=5")
    (gen,) = be.generate([GenerationRequest("hi", max_tokens=8)])
    assert gen.error is None and "[redacted]" in gen.text and not leaked(gen.text)
    pieces = [p for p in be.stream(GenerationRequest("hi", max_tokens=8)) if isinstance(p, str)]
    assert len(pieces) >= 1 and "[redacted]" in "".join(pieces) and not leaked(" ".join(pieces))
    fail = load_backend(f"openai:fail?base_url={echo}&max_attempts=1&timeout=5")
    (bad,) = fail.generate([GenerationRequest("hi", max_tokens=8)])
    assert bad.error and not leaked(bad.error), bad.error
    be.close()
    fail.close()


def test_credentials_in_base_url_are_never_shown(echo: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    host = echo.replace("http://", f"http://user:{URL_PASSWORD}@")
    spec = f"openai:gpt-x?base_url={host}&max_attempts=1&timeout=5"
    assert URL_PASSWORD not in public_spec(spec) and public_spec(spec).startswith("openai:gpt-x?base_url=http://127")
    arena = tmp_path / "arena.sqlite"
    texts: list[str] = []
    with TestClient(create_app(Settings(models=[spec, "mock:alpha"], arena_path=str(arena)))) as c:
        backends = c.get("/api/backends").json()
        texts.append(json.dumps(backends))
        shown = next(b["spec"] for b in backends if b["backend"] == "openai")
        r = c.post("/api/generate", json={"model": shown, "prompt": "hi", "max_tokens": 8})
        assert r.status_code == 200 and r.json()["error"] is None, r.text
        texts.append(r.text)
        with c.stream("POST", "/api/generate/stream", json={"model": shown, "prompt": "hi", "max_tokens": 8}) as s:
            texts.append("".join(s.iter_lines()))
        for _ in range(3):
            b = c.post("/api/arena/battles", json={"prompt": "hi"}).json()
            texts.append(json.dumps(b))
            texts.append(c.post(f"/api/arena/battles/{b['id']}/vote", json={"winner": "a"}).text)
        texts += [c.get("/api/arena/ratings").text, c.get("/api/leaderboard").text]
    texts.append(arena.read_bytes().decode("utf-8", "replace"))
    for t in texts:
        assert not leaked(t), t[:300]


def test_cli_journal_samples_and_console_hold_no_key(
    echo: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_home: Path
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    out = tmp_path / "out"
    r = CliRunner().invoke(
        app,
        [
            "eval",
            "--model",
            f"openai:gpt-x?base_url={echo}&max_attempts=1&timeout=5",
            "--task",
            str(EXAMPLES / "capitals.yaml"),
            "--limit",
            "3",
            "--out",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.stdout
    assert not leaked(r.stdout + (r.stderr or ""))
    samples = all_files(out)
    assert "[redacted]" in samples and not leaked(samples)
    assert not leaked(all_files(isolated_home))  # runs.sqlite (journal) and anything else written
