"""The web UI's JSON API: catalog, estimators, leaderboard, playground (streamed), arena, safety."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from llmatlas.backends.registry import load_backend
from llmatlas.engine.journal import Journal, default_path
from llmatlas.engine.runner import EvalConfig, run_task
from llmatlas.web.app import Settings, create_app
from tests.conftest import live_server

DATA = Path(__file__).parent / "data"
XSS = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
SECRET = "sk-test-DO-NOT-LEAK-0123456789abcdef"


def settings(tmp_path: Path, **over: object) -> Settings:
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps({"xss": XSS}), encoding="utf-8")
    base: dict[str, object] = {
        "models": ["mock:alpha", "mock:beta", f"mock:evil?replies={replies}"],
        "arena_path": str(tmp_path / "arena.sqlite"),
    }
    base.update(over)
    return Settings(**base)  # type: ignore[arg-type]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings(tmp_path))) as c:
        yield c


def test_catalog_search_filter_sort(client: TestClient) -> None:
    r = client.get("/api/models", params={"q": "llama 70b", "sort": "-mmlu"})
    assert r.status_code == 200
    body = r.json()
    ids = [m["id"] for m in body["models"]]
    assert body["total"] == len(ids) and "llama-2-70b" in ids and all("70b" in i for i in ids)
    scores = [m["mmlu"] for m in body["models"] if m["mmlu"] is not None]
    assert scores == sorted(scores, reverse=True)
    r = client.get("/api/models", params={"access": "open_weights", "commercial": "yes", "max_params_b": 8})
    assert all(m["open_weights"] and m["commercial"] == "yes" and m["params_b"] <= 8 for m in r.json()["models"])
    assert client.get("/api/models", params={"sort": "nonsense"}).status_code == 422


def test_catalog_status_hides_retired_apis_and_model_page_says_why(client: TestClient) -> None:
    live = {m["id"]: m for m in client.get("/api/models", params={"limit": 1000}).json()["models"]}
    every = {m["id"]: m for m in client.get("/api/models", params={"status": "all", "limit": 1000}).json()["models"]}
    assert "claude-3-haiku" not in live and every["claude-3-haiku"]["status"] == "retired"
    assert every["claude-3-haiku"]["input_price"] is None  # a retired API has no price today
    assert "mixtral-8x7b" in live  # its API retired, its weights did not
    retired = client.get("/api/models", params={"status": "retired", "limit": 1000}).json()["models"]
    assert retired and all(m["status"] == "retired" for m in retired)
    page = client.get("/api/models/claude-3-haiku").json()
    lc = page["lifecycle"]
    assert lc["status"] == "retired" and lc["shutdown"] == "2026-04-20" and lc["replacement"]
    assert lc["source"].startswith("https://") and lc["text"].startswith("retired 2026-04-20")
    assert client.get("/api/models", params={"status": "gone"}).status_code == 422


def test_model_page_has_every_fact_with_source(client: TestClient) -> None:
    r = client.get("/api/models/gpt-4o")
    assert r.status_code == 200
    facts = r.json()["facts"]
    assert facts["pricing"][0]["source"].startswith("http") and facts["pricing"][0]["source_title"]
    assert client.get("/api/models/no-such-model").status_code == 404


def test_calculators(client: TestClient) -> None:
    r = client.get(
        "/api/cost",
        params={"model": ["gpt-4o", "llama-3-70b"], "input_tokens": 1000, "output_tokens": 300, "requests": 10},
    )
    assert r.status_code == 200
    gpt, llama = r.json()
    assert gpt["total_usd"] > 0 and llama["total_usd"] is None and llama["reason"]
    r = client.get(
        "/api/memory", params={"model": "llama-2-70b", "quant": "Q4_K_M", "context": 4096, "gpu": "rtx-4090"}
    )
    m = r.json()
    assert (
        m["fits"] is False and m["estimate"]["total_bytes"] > m["available_bytes"] and m["speed"]["decode_tokens_per_s"]
    )
    assert client.get("/api/memory", params={"model": "llama-2-70b", "quant": "Q9_Z"}).status_code == 422
    assert any(g["id"] == "h100-sxm" for g in client.get("/api/gpus").json())


def test_generate_and_stream(client: TestClient) -> None:
    specs = [b["spec"] for b in client.get("/api/backends").json()]
    assert specs[:2] == ["mock:alpha", "mock:beta"]
    body = {"model": "mock:alpha", "prompt": "Say hello", "max_tokens": 16}
    plain = client.post("/api/generate", json=body).json()
    assert plain["text"] and plain["output_tokens"] and plain["latency_s"] is not None
    assert plain["cost_usd"] is None and "local model" in plain["cost_note"]
    with client.stream("POST", "/api/generate/stream", json=body) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: ")]
    deltas = [e["text"] for e in events if e["type"] == "delta"]
    assert len(deltas) >= 2 and events[-1]["type"] == "done"
    assert "".join(deltas) == events[-1]["text"] == plain["text"]
    assert client.post("/api/generate", json={**body, "model": "mock:not-served"}).status_code == 404
    assert client.post("/api/generate", json={**body, "max_tokens": 0}).status_code == 422


def test_model_output_is_returned_as_data(client: TestClient) -> None:
    evil = [b["spec"] for b in client.get("/api/backends").json()][2]
    r = client.post("/api/generate", json={"model": evil, "prompt": "xss"})
    assert r.json()["text"] == XSS  # verbatim in JSON; the page renders it as text (browser test)
    assert r.headers["content-type"].startswith("application/json")


def test_security_headers(client: TestClient) -> None:
    r = client.get("/")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"


def test_token_when_exposed(tmp_path: Path) -> None:
    with TestClient(create_app(settings(tmp_path, host="0.0.0.0", token="t0k3n-abcdefgh"))) as c:
        assert c.get("/api/health").status_code == 401
        assert c.get("/api/health", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/api/health", headers={"Authorization": "Bearer t0k3n-abcdefgh"}).status_code == 200
        r = c.get("/", params={"token": "t0k3n-abcdefgh"})
        assert "llmatlas_token" in r.headers.get("set-cookie", "")
        assert c.get("/api/health").status_code == 200  # the cookie now carries it


def test_no_api_key_reaches_the_browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with socket.socket() as s:  # a port nobody listens on: the request fails
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    spec = f"openai:gpt-4o?base_url=http://127.0.0.1:{dead}/v1&max_attempts=1&timeout=2"
    with TestClient(create_app(settings(tmp_path, models=["mock:alpha", spec]))) as c:
        texts = [c.get("/api/backends").text, c.get("/api/models/gpt-4o").text]
        texts.append(c.post("/api/generate", json={"model": spec, "prompt": "hi", "max_tokens": 4}).text)
        with c.stream("POST", "/api/generate/stream", json={"model": spec, "prompt": "hi", "max_tokens": 4}) as r:
            texts.append("".join(r.iter_lines()))
        texts.append(c.get("/openapi.json").text)
    assert all(SECRET not in t for t in texts)
    assert "error" in texts[2]  # the failure itself is reported


def test_arena_hides_models_until_the_vote(client: TestClient) -> None:
    r = client.post("/api/arena/battles", json={"prompt": "Name a prime number."})
    assert r.status_code == 200
    b = r.json()
    assert set(b) == {"id", "prompt", "answer_a", "answer_b"}
    v = client.post(f"/api/arena/battles/{b['id']}/vote", json={"winner": "a"}).json()
    assert v["model_a"] != v["model_b"] and {v["model_a"], v["model_b"]} <= {
        "mock:alpha",
        "mock:beta",
        *[s["spec"] for s in client.get("/api/backends").json()],
    }
    assert client.post(f"/api/arena/battles/{b['id']}/vote", json={"winner": "b"}).status_code == 409
    assert client.post("/api/arena/battles/nope/vote", json={"winner": "a"}).status_code == 404
    assert client.post(f"/api/arena/battles/{b['id']}/vote", json={"winner": "maybe"}).status_code == 422
    ratings = client.get("/api/arena/ratings").json()
    assert {r["model"] for r in ratings} == {v["model_a"], v["model_b"]}


def test_leaderboard_measured_and_reported(tmp_path: Path) -> None:
    journal = Journal(default_path())
    try:
        run_task(load_backend("mock:m"), "arc_easy", EvalConfig(limit=20, data_dir=str(DATA)), journal)
    finally:
        journal.close()
    with TestClient(create_app(settings(tmp_path))) as c:
        board = c.get("/api/leaderboard").json()
    arc = board["tasks"]["arc_easy"]
    measured = [s for s in arc if s["evidence"] == "measured"]
    assert measured and measured[0]["model"] == "mock:m" and measured[0]["n"] == 20
    assert measured[0]["ci_low"] <= measured[0]["value"] <= measured[0]["ci_high"]
    assert any(s["evidence"] == "reported" and s["source"].startswith("http") for s in board["tasks"]["mmlu"])
    assert any(p["frontier"] for p in board["pareto"]) and not all(p["frontier"] for p in board["pareto"])
    assert board["overall"][0]["evidence"] == "measured"


def test_fifty_concurrent_voters_lose_no_vote(tmp_path: Path) -> None:
    """A real uvicorn server on loopback; 50 voters at once, each: battle, then vote."""
    cfg = settings(tmp_path, models=["mock:alpha?delay=0.01", "mock:beta?delay=0.01", "mock:gamma"])
    with live_server(create_app(cfg)) as base:

        def voter(i: int) -> tuple[str, float]:
            with httpx.Client(base_url=base, timeout=60) as h:
                t = time.perf_counter()
                b = h.post("/api/arena/battles", json={"prompt": f"question {i}", "max_tokens": 8}).json()
                r = h.post(f"/api/arena/battles/{b['id']}/vote", json={"winner": ("a", "b", "tie")[i % 3]})
                r.raise_for_status()
                return b["id"], time.perf_counter() - t

        start = time.perf_counter()
        with ThreadPoolExecutor(50) as ex:
            done = list(ex.map(voter, range(50)))
        wall = time.perf_counter() - start
        votes = httpx.get(f"{base}/api/leaderboard", timeout=60).json()["arena"]["votes"]
    assert len({bid for bid, _ in done}) == 50
    assert votes == 50
    assert wall < 60, f"50 voters took {wall:.1f}s"
    print(f"50 concurrent voters: {wall:.2f}s wall, slowest voter {max(t for _, t in done):.2f}s")


@pytest.mark.slow
def test_playground_streams_the_embedded_model(tmp_path: Path) -> None:
    """SmolLM2 through llama-cpp-python, token by token, with TTFT and tokenizer counts."""
    with TestClient(create_app(settings(tmp_path, models=["smollm2", "mock:alpha"]))) as c:
        body = {"model": "smollm2", "prompt": "Name three colours.", "max_tokens": 24}
        with c.stream("POST", "/api/generate/stream", json=body) as r:
            events = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: ")]
    deltas = [e["text"] for e in events if e["type"] == "delta"]
    done = events[-1]
    assert done["type"] == "done" and len(deltas) > 3 and "".join(deltas) == done["text"]
    assert done["output_tokens"] > 0 and done["ttft_s"] is not None and done["ttft_s"] <= done["latency_s"]
    assert done["cost_usd"] is None and "local model" in done["cost_note"]


def test_fit_json_and_api_memory_are_one_schema(client: TestClient) -> None:
    """`llmatlas fit --json` and `/api/memory` are the same answer, computed once (llmatlas.api)."""
    import json as _json

    from typer.testing import CliRunner

    from llmatlas.cli.main import app as cli

    args = {"model": "llama-2-70b", "quant": "Q4_K_M", "context": 4096, "gpu": "h100-sxm", "count": 2}
    web = client.get("/api/memory", params=args).json()
    r = CliRunner().invoke(
        cli,
        ["fit", "llama-2-70b", "--quant", "Q4_K_M", "--context", "4096", "--gpu", "h100-sxm", "--count", "2", "--json"],
    )
    assert r.exit_code == 0
    assert _json.loads(r.stdout) == web
    assert web["fits"] is True and web["estimate"]["total_bytes"] == web["total_bytes"] and web["gpus"] == 2
    bad = client.get("/api/memory", params={"model": "llama-2-70b", "cached_input_tokens": 1, "gpu": "nope"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "gpu"]
