"""Public datasets: readers of their wire formats, `catalog check` on the pinned genai-prices, and
`catalog sync` against a loopback server that speaks OpenRouter's models API."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from llmatlas.catalog import Catalog, load_catalog
from llmatlas.cli.main import app
from llmatlas.core.errors import InputError, LlmatlasError
from llmatlas.market.check import check, load_explanations
from llmatlas.market.load import load_snapshot
from llmatlas.market.readers import read_litellm, read_models_dev, read_openrouter
from llmatlas.market.sync import overlay_paths, write_overlay

DATA = Path(__file__).parent / "data"
OPENROUTER = DATA / "openrouter_models.json"
runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, list(args))
    return r.exit_code, r.stdout, r.stderr


# --------------------------------------------------------------------------- readers


def test_openrouter_reader_units_and_skips() -> None:
    snap = read_openrouter(OPENROUTER.read_bytes(), str(OPENROUTER), "2026-05-15")
    by = {e.model_ref: e for e in snap.entries}
    assert set(by) == {
        "meta-llama/llama-3.3-70b-instruct",
        "openai/gpt-oss-120b",
        "google/gemini-2.0-flash-001",
        "nvidia/llama-3.1-nemotron-70b-instruct",
    }
    assert snap.skipped == 2  # the router priced "-1" and the rate-limited ":free" variant
    llama = by["meta-llama/llama-3.3-70b-instruct"]
    assert (llama.input_per_m, llama.output_per_m) == (0.1, 0.32)  # "0.0000001" per token
    assert llama.context_tokens == 131072 and llama.max_output_tokens == 16384
    gem = by["google/gemini-2.0-flash-001"]
    assert gem.cached_input_per_m == 0.025 and gem.hugging_face_id is None  # "" is no id
    assert str(gem.deprecation_date) == "2026-06-01"


LITELLM = {
    "sample_spec": {"max_tokens": "LEGACY parameter", "input_cost_per_token": 0.0},
    "together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo": {
        "input_cost_per_token": 8.8e-07,
        "litellm_provider": "together_ai",
        "mode": "chat",
        "output_cost_per_token": 8.8e-07,
    },
    "groq/llama-3.3-70b-versatile": {
        "input_cost_per_token": 5.9e-07,
        "litellm_provider": "groq",
        "max_input_tokens": 128000,
        "max_output_tokens": 32768,
        "mode": "chat",
        "output_cost_per_token": 7.9e-07,
        "deprecation_date": "2026-08-16",
    },
    "text-embedding-3-small": {"input_cost_per_token": 2e-08, "litellm_provider": "openai", "mode": "embedding"},
}


def test_litellm_reader_strips_provider_prefix_and_converts_per_token() -> None:
    snap = read_litellm(json.dumps(LITELLM), "map.json", "abc123")
    by = {(e.provider, e.model_ref): e for e in snap.entries}
    assert set(by) == {("together_ai", "meta-llama/Llama-3.3-70B-Instruct-Turbo"), ("groq", "llama-3.3-70b-versatile")}
    groq = by[("groq", "llama-3.3-70b-versatile")]
    assert groq.input_per_m == pytest.approx(0.59) and groq.context_tokens == 128000
    assert str(groq.deprecation_date) == "2026-08-16" and snap.skipped == 1


MODELS_DEV = {
    "groq": {
        "id": "groq",
        "name": "Groq",
        "doc": "https://console.groq.com/docs/models",
        "models": {
            "llama-3.3-70b-versatile": {
                "id": "llama-3.3-70b-versatile",
                "name": "Llama 3.3 70B",
                "open_weights": True,
                "limit": {"context": 131072, "output": 32768},
                "cost": {"input": 0.59, "output": 0.79},
            },
            "whisper-large-v3": {"id": "whisper-large-v3", "name": "Whisper"},
        },
    }
}


def test_models_dev_reader() -> None:
    snap = read_models_dev(json.dumps(MODELS_DEV), "api.json", "2026-07-02")
    (e,) = snap.entries
    assert (e.provider, e.model_ref, e.input_per_m, e.output_per_m) == ("groq", "llama-3.3-70b-versatile", 0.59, 0.79)
    assert e.open_weights and e.context_tokens == 131072 and snap.skipped == 1


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"data": [{"id": "a/b", "pricing": {"prompt": "0.1"', "not valid JSON (line 1"),
        (b'{"data": [{"id": "a/b"}]}', "malformed entry at data[0].pricing"),
        (b'{"data": [{"id": "a/b", "pricing": {"prompt": "1"}}]}', "data[0].pricing.completion"),
        (b'{"models": []}', "malformed entry at data"),
        (b"[1, 2]", "malformed entry"),
        (b"\xff\xfe garbage", "not valid JSON"),
    ],
)
def test_openrouter_reader_refuses_malformed_input(raw: bytes, message: str) -> None:
    with pytest.raises(InputError, match="openrouter") as exc:
        read_openrouter(raw, "models.json", "x")
    assert message in str(exc.value)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
ROW = st.fixed_dictionaries(
    {"id": st.text(max_size=12), "pricing": st.dictionaries(st.sampled_from(["prompt", "completion", "x"]), JSON)},
    optional={"context_length": JSON, "hugging_face_id": JSON, "top_provider": JSON, "expiration_date": JSON},
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=st.one_of(JSON, st.fixed_dictionaries({"data": st.lists(ROW, max_size=4)})))
def test_dataset_readers_never_crash(doc: Any) -> None:
    """Any JSON: a snapshot whose prices are finite and non-negative, or one clear InputError."""
    raw = json.dumps(doc)
    for reader in (read_openrouter, read_litellm, read_models_dev):
        try:
            snap = reader(raw, "fuzz.json", "v")
        except InputError:
            continue
        for e in snap.entries:
            for v in (e.input_per_m, e.output_per_m, e.cached_input_per_m, e.cache_write_per_m):
                assert v is None or v >= 0


# --------------------------------------------------------------------------- check


@pytest.fixture(scope="module")
def genai_report(cat: Catalog) -> Any:
    pytest.importorskip("genai_prices", reason="the [datasets] extra pins genai-prices; CI installs it")
    return check([load_snapshot("genai-prices")], cat)


def test_check_against_pinned_genai_prices_has_no_unexplained_disagreement(genai_report: Any) -> None:
    counts = genai_report.counts["genai-prices"]
    assert counts["offers_matched"] >= 150 and counts["agree"] >= 250
    bad = genai_report.unexplained()
    assert not bad, "\n".join(f"{f.provider} {f.model} {f.field}: catalog {f.ours} vs dataset {f.theirs}" for f in bad)


def test_every_explanation_still_applies(genai_report: Any) -> None:
    """An explanation whose dataset value changed no longer explains anything: it must go."""
    used = {(f.provider, f.model_ref.lower(), f.field) for f in genai_report.findings if f.explained}
    for e in load_explanations():
        if e.dataset == "genai-prices":
            assert (e.provider, e.model_ref.lower(), e.field) in used, e


def test_check_flags_a_changed_price_with_both_sources(cat: Catalog, tmp_path: Path) -> None:
    """A wrong price in the catalog is a disagreement naming both values, sources and dates."""
    snap = read_litellm(json.dumps(LITELLM), "map.json", "abc123")
    snap.entries[0].input_per_m = 9.99  # as if Together's price were wrong in the dataset
    rep = check([snap], cat, explanations=[])
    together = [f for f in rep.findings if f.provider == "together" and f.field == "input_per_m"]
    if not together:
        pytest.skip("no curated Together offer of Llama 3.3 70B")
    (f,) = together
    assert f.kind == "disagree" and f.theirs == 9.99 and f.ours is not None and f.our_source and f.our_as_of
    assert f.their_source and "litellm abc123" in f.their_source


def test_check_cli_offline_json() -> None:
    pytest.importorskip("genai_prices")
    code, out, _ = invoke("catalog", "check", "--json")
    assert code == 0
    rep = json.loads(out)
    assert rep["schema_version"] == 1 and rep["datasets"][0]["dataset"] == "genai-prices"
    kinds = {f["kind"] for f in rep["findings"]}
    assert {"agree", "missing_offer", "missing_model"} <= kinds
    code, out, _ = invoke("catalog", "check", "--from", f"openrouter={OPENROUTER}", "--strict")
    assert code == 0 and "openrouter" in out and "offers of catalog models the catalog lacks" in out


# --------------------------------------------------------------------------- sync


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    cut: bool = False  # announce the whole body, send half, close


@dataclass
class DatasetServer:
    """A loopback server for GET requests: scripted replies in order, then ``always``."""

    replies: list[Reply] = field(default_factory=list)
    always: Reply | None = None
    paths: list[str] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/api/v1/models"

    def __enter__(self) -> DatasetServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake.paths.append(self.path)
                reply = fake.replies.pop(0) if fake.replies else fake.always
                assert reply is not None
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply.body)))
                if reply.status in (429, 503):
                    self.send_header("Retry-After", "0")
                self.end_headers()
                self.wfile.write(reply.body[: len(reply.body) // 2] if reply.cut else reply.body)
                if reply.cut:
                    self.close_connection = True

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@pytest.fixture
def served() -> Iterator[DatasetServer]:
    with DatasetServer(always=Reply(body=OPENROUTER.read_bytes())) as srv:
        yield srv


def overlay(home: Path) -> tuple[Path, Path]:
    return overlay_paths(home / "models", "openrouter")


def test_sync_from_fake_openrouter_writes_a_labelled_overlay(served: DatasetServer, isolated_home: Path) -> None:
    code, out, err = invoke("catalog", "sync", "--from", "openrouter", "--url", served.url, "--models")
    assert code == 0, err
    offers_file, models_file = overlay(isolated_home)
    assert offers_file.exists() and models_file.exists() and "wrote 4 offer(s) and 1 model(s)" in out
    doc = offers_file.read_text()
    assert "dataset: openrouter" in doc and "secondary: true" in doc
    # the overlay is part of the catalog now, labelled as dataset evidence everywhere
    code, out, _ = invoke(
        "cost",
        "llama-3.3-70b-instruct",
        "--input-tokens",
        "1000",
        "--output-tokens",
        "300",
        "--provider",
        "openrouter",
        "--json",
    )
    (row,) = json.loads(out)
    assert row["provider"] == "openrouter" and row["total_usd"] == pytest.approx(0.1 * 1e-3 + 0.32 * 3e-4)
    code, out, _ = invoke("show", "llama-3.3-70b-instruct")
    assert code == 0 and "OpenRouter" in out and "price from dataset" in out
    code, out, _ = invoke("show", "llama-3.1-nemotron-70b-instruct", "--json")
    assert code == 0 and json.loads(out)["developer"] == "nvidia"
    cat = load_catalog()
    offer = next(o for o in cat.hosted["llama-3.3-70b-instruct"] if o.provider == "openrouter")
    assert cat.source_kind(offer, offer.source) == "dataset"
    # a second sync finds the same gaps (its own proposals are not counted as curated) and
    # rewrites the same files
    before = offers_file.read_text()
    code, out, _ = invoke("catalog", "sync", "--from", "openrouter", "--url", served.url, "--models")
    assert code == 0 and offers_file.read_text() == before


def test_sync_never_overrides_curated_facts(served: DatasetServer, isolated_home: Path, tmp_path: Path) -> None:
    """A curated offer of the same provider and model is compared, listed as a conflict, not written."""
    curated = tmp_path / "curated"
    curated.mkdir()
    (curated / "or.yaml").write_text(
        "provider: {id: openrouter, name: OpenRouter}\n"
        "references: [{id: p, title: pricing, url: 'https://openrouter.ai/meta-llama', as_of: 2026-11-01}]\n"
        "offers:\n"
        "  - {model: llama-3.3-70b-instruct, provider_model_id: meta-llama/llama-3.3-70b-instruct, source: p,\n"
        "     pricing: [{input_per_m: 0.2, output_per_m: 0.32, source: p}]}\n",
        encoding="utf-8",
    )
    code, out, err = invoke("--catalog", str(curated), "catalog", "sync", "--from", "openrouter", "--url", served.url)
    assert code == 0, err
    assert "Conflicts with curated facts" in out and "llama-3.3-70b-instruct" in out
    offers_file, _ = overlay(isolated_home)
    assert "meta-llama/llama-3.3-70b-instruct" not in offers_file.read_text()
    code, out, _ = invoke(
        "--catalog",
        str(curated),
        "cost",
        "llama-3.3-70b-instruct",
        "--input-tokens",
        "1000000",
        "--output-tokens",
        "0",
        "--provider",
        "openrouter",
        "--json",
    )
    assert json.loads(out)[0]["total_usd"] == pytest.approx(0.2)  # curated price, not the dataset's 0.1


def test_sync_follows_pages_and_retries(isolated_home: Path) -> None:
    rows = json.loads(OPENROUTER.read_text())["data"]
    page1 = {"data": rows[:3], "links": {"next": "/api/v1/models?offset=3&limit=3"}, "total_count": 6}
    page2 = {"data": rows[3:], "links": {"next": None}, "total_count": 6}
    replies = [
        Reply(503, b'{"error": {"message": "busy"}}'),
        Reply(body=json.dumps(page1).encode()),
        Reply(body=json.dumps(page2).encode()),
    ]
    with DatasetServer(replies=replies) as srv:
        code, out, err = invoke("catalog", "sync", "--from", "openrouter", "--url", srv.url, "--models")
        assert code == 0, err
        assert srv.paths == ["/api/v1/models", "/api/v1/models", "/api/v1/models?offset=3&limit=3"]
    assert "wrote 4 offer(s) and 1 model(s)" in out


BAD_REPLIES = {
    "truncated": Reply(body=OPENROUTER.read_bytes()[:700]),
    "cut": Reply(body=OPENROUTER.read_bytes(), cut=True),
    "malformed": Reply(body=b'{"data": [{"id": "x/y", "pricing": {"prompt": "0.1"}}]}'),
    "not-json": Reply(body=b"<html>maintenance</html>"),
    "server-error": Reply(500, b'{"error": {"message": "internal"}}'),
    "wrong-shape": Reply(body=b'{"models": {}}'),
}


@pytest.mark.parametrize("name", sorted(BAD_REPLIES))
def test_sync_bad_input_leaves_the_user_catalog_untouched(
    name: str, served: DatasetServer, isolated_home: Path
) -> None:
    code, _, err = invoke("catalog", "sync", "--from", "openrouter", "--url", served.url, "--models")
    assert code == 0, err
    files = overlay(isolated_home)
    before = {p: p.read_bytes() for p in files}
    with DatasetServer(always=BAD_REPLIES[name]) as bad:
        code, out, err = invoke("catalog", "sync", "--from", "openrouter", "--url", bad.url, "--models")
    assert code == 2, (out, err)
    assert "error:" in err and "Traceback" not in err and "openrouter" in err
    assert {p: p.read_bytes() for p in files} == before
    assert not [p for p in files[0].parent.iterdir() if p.name.endswith(".tmp")]


def test_sync_from_a_file_and_dry_run(isolated_home: Path, tmp_path: Path) -> None:
    code, out, _ = invoke("catalog", "sync", "--from", "openrouter", "--file", str(OPENROUTER), "--dry-run")
    assert code == 0 and "would write 3 offer(s) and 0 model(s)" in out
    assert "1 rows are models the catalog lacks: add --models" in out
    assert not overlay(isolated_home)[0].exists()
    broken = tmp_path / "broken.json"
    broken.write_bytes(OPENROUTER.read_bytes()[:-40])
    code, _, err = invoke("catalog", "sync", "--from", "openrouter", "--file", str(broken))
    assert code == 2 and "not valid JSON" in err and str(broken) in err


def test_sync_rejects_unknown_dataset_and_unreachable_url(isolated_home: Path) -> None:
    code, _, err = invoke("catalog", "sync", "--from", "leaderboard-x")
    assert code == 2 and "unknown dataset 'leaderboard-x'" in err
    with pytest.raises(LlmatlasError, match="could not fetch"):
        load_snapshot("openrouter", url="http://127.0.0.1:9/api/v1/models")


def test_sync_proposals_load_through_the_strict_loader(cat: Catalog, tmp_path: Path) -> None:
    snap = load_snapshot("openrouter", file=OPENROUTER)
    res = write_overlay(snap, cat, tmp_path, with_models=True)
    assert res.offers == 4 and res.models == 1 and not res.conflicts
    again = load_catalog([tmp_path], include_user=False)
    nem = again.get("llama-3.1-nemotron-70b-instruct")
    assert nem.developer == "nvidia" and nem.context_tokens == 131072
    gem = next(o for o in again.hosted["gemini-2.0-flash"] if o.provider == "openrouter")
    assert gem.lifecycle is not None and gem.lifecycle.status == "retired"  # OpenRouter's expiration_date


def test_sync_from_a_litellm_map_file(cat: Catalog, tmp_path: Path) -> None:
    """LiteLLM's JSON is read as data (its package is never imported): a DeepInfra row for a catalog
    model DeepInfra has no curated offer of becomes a labelled proposal."""
    doc = {
        **LITELLM,
        "deepinfra/Qwen/Qwen3-235B-A22B-Instruct-2507": {
            "max_input_tokens": 262144,
            "max_output_tokens": 262144,
            "input_cost_per_token": 9e-08,
            "output_cost_per_token": 5.7e-07,
            "litellm_provider": "deepinfra",
            "mode": "chat",
        },
    }
    path = tmp_path / "model_prices_and_context_window.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    snap = load_snapshot("litellm", file=path, version="abc123")
    assert snap.label == "litellm abc123"
    res = write_overlay(snap, cat, tmp_path / "user")
    assert res.offers >= 1
    again = load_catalog([tmp_path / "user"], include_user=False)
    offer = next(
        o
        for o in again.hosted["qwen3-235b-a22b-instruct-2507"]
        if o.provider == "deepinfra" and o.provider_model_id == "Qwen/Qwen3-235B-A22B-Instruct-2507"
    )
    assert offer.pricing[0].input_per_m == pytest.approx(0.09) and offer.context and offer.context.tokens == 262144
    ref = again.reference(offer, offer.source)
    assert ref is not None and ref.dataset == "litellm abc123" and ref.secondary
