"""Offers: the developer's own API and hosted providers of open weights, priced and dated each on
its own; how cost, the advisor and the web use them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmatlas.advise import filters
from llmatlas.advise.advisor import recommend
from llmatlas.advise.measured import api_speed
from llmatlas.advise.requirements import Requirements
from llmatlas.catalog import Catalog, load_catalog
from llmatlas.catalog.loader import builtin_offer_files, load_offers_text
from llmatlas.catalog.offers import first_party_offer, offer_for_spec, offer_spec, offers_for
from llmatlas.cli.main import app
from llmatlas.core.errors import InputError
from llmatlas.engine.results import Distribution, Performance, RunResult, Timing
from llmatlas.estimate.cost import offer_costs

runner = CliRunner()
TODAY = dt.date.today()


def invoke(*args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, list(args))
    return r.exit_code, r.stdout, r.stderr


# --------------------------------------------------------------------------- the data


def test_builtin_offers_are_sourced_and_name_catalog_models(cat: Catalog) -> None:
    assert len(builtin_offer_files()) >= 10
    hosted = [o for offers in cat.hosted.values() for o in offers]
    assert len(hosted) >= 150
    providers = {o.provider for o in hosted}
    assert {"together", "groq", "deepinfra", "amazon-bedrock", "google-vertex", "azure", "novita"} <= providers
    for o in hosted:
        assert o.model in cat.models and o.provider in cat.providers
        assert o.source and o.as_of is not None, (o.model, o.provider)
        for p in o.pricing:
            assert p.source and p.as_of is not None
        if o.lifecycle and o.lifecycle.replacement:
            assert o.lifecycle.replacement in cat.models, o.lifecycle.replacement


def test_open_models_providers_actually_serve_have_offers(cat: Catalog) -> None:
    """The families the issue names are covered by hosted offers (some now retired, with their dates)."""
    for mid in (
        "llama-3.3-70b-instruct",
        "llama-4-scout-instruct",
        "llama-4-maverick-instruct",
        "gpt-oss-120b",
        "gpt-oss-20b",
        "deepseek-v3.1",
        "qwen3-235b-a22b-instruct-2507",
        "kimi-k2-instruct",
        "glm-4.6",
        "mistral-nemo",
        "gemma-3-27b-it",
    ):
        assert len(cat.hosted.get(mid, [])) >= 2, mid


def test_first_party_offer_is_the_developers_api(cat: Catalog) -> None:
    gpt = cat.get("gpt-4o")
    own = first_party_offer(gpt)
    assert own is not None and own.first_party and own.provider == "openai" and own.pricing == gpt.pricing
    assert first_party_offer(cat.get("llama-3-70b")) is None  # open weights only: no own API
    assert offers_for(cat, cat.get("llama-3-70b")) == []


# --------------------------------------------------------------------------- cost


def test_cost_lists_every_offer_cheapest_first(cat: Catalog) -> None:
    code, out, _ = invoke(
        "cost", "llama-3.3-70b-instruct", "--input-tokens", "1000", "--output-tokens", "300", "--json"
    )
    assert code == 0
    rows = json.loads(out)
    priced = [r for r in rows if r["total_usd"] is not None]
    assert len(priced) >= 3 and len({r["provider"] for r in priced}) >= 3
    totals = [r["total_usd"] for r in priced]
    assert totals == sorted(totals)
    assert rows[: len(priced)] == priced  # unpriced (retired) offers last, with their reason
    assert all(r["reason"] for r in rows[len(priced) :])
    for r in priced:
        assert not r["first_party"] and r["provider_model_id"] and r["price_source"].startswith("http")
    code, table, _ = invoke("cost", "llama-3.3-70b-instruct", "--input-tokens", "1000", "--output-tokens", "300")
    assert code == 0 and "provider" in table and "DeepInfra" in table


def test_cost_provider_filter_and_unknown_provider() -> None:
    code, out, _ = invoke(
        "cost",
        "llama-3.3-70b-instruct",
        "--input-tokens",
        "10",
        "--output-tokens",
        "10",
        "--provider",
        "deepinfra",
        "--json",
    )
    assert code == 0 and {r["provider"] for r in json.loads(out)} == {"deepinfra"}
    code, _, err = invoke("cost", "gpt-4o", "--input-tokens", "10", "--output-tokens", "10", "--provider", "groq")
    assert code == 2 and "no offer of gpt-4o by 'groq'" in err and "OpenAI" in err and "Traceback" not in err


def test_closed_model_cost_is_its_own_api_unchanged(cat: Catalog) -> None:
    (row,) = offer_costs(cat, cat.get("gpt-4o"), 1000, 300, 1000)
    assert row.first_party and row.provider == "openai" and row.total_usd == pytest.approx(5.5)


def test_model_without_offer_says_so_never_zero(cat: Catalog) -> None:
    (row,) = offer_costs(cat, cat.get("llama-3-70b"), 1000, 300, 1000)
    assert row.total_usd is None and row.provider is None and "no known API offer" in (row.reason or "")


def test_hosted_price_counts_from_the_date_it_was_read(cat: Catalog) -> None:
    """A hosted provider's price seen in 2026 says nothing of 2024: no price on an earlier date."""
    model = cat.get("llama-3.3-70b-instruct")
    hosted = [o for o in cat.hosted[model.id] if o.pricing and all(p.effective_from is None for p in o.pricing)]
    o = hosted[0]
    first = min(p.as_of for p in o.pricing if p.as_of)
    assert o.current_price(first) is not None or o.current_price(TODAY) is None
    assert o.current_price(first - dt.timedelta(days=1)) is None


def test_retired_offer_has_no_price_today(cat: Catalog) -> None:
    groq = [o for o in cat.hosted["llama-3.3-70b-instruct"] if o.provider == "groq"]
    assert groq
    rows = offer_costs(cat, cat.get("llama-3.3-70b-instruct"), 1000, 300, provider="groq")
    assert all(r.total_usd is None and (r.lifecycle or "").startswith("retired") for r in rows)


# --------------------------------------------------------------------------- offers files


OFFERS = """
provider: {id: acmecloud, name: Acme Cloud, openai_base_url: "https://api.acme.example/v1"}
references:
  - {id: acme-pricing, title: Acme pricing, url: "https://acme.example/pricing", as_of: 2026-01-05}
offers:
  - model: llama-3.3-70b-instruct
    provider_model_id: acme/llama-3.3-70b
    source: acme-pricing
    pricing:
      - {input_per_m: 0.05, output_per_m: 0.06, source: acme-pricing}
    context: {tokens: 32768, source: acme-pricing}
    quantization: {name: int4, source: acme-pricing}
    regions: {names: [eu-central-1], source: acme-pricing}
    speed: {output_tokens_per_s: 250, ttft_s: 0.3, source: acme-pricing}
"""


def write_offers(tmp_path: Path, text: str = OFFERS) -> Path:
    d = tmp_path / "cat"
    d.mkdir(exist_ok=True)
    (d / "acme.yaml").write_text(text, encoding="utf-8")
    return d


@pytest.mark.parametrize(
    ("change", "message", "line"),
    [
        (("model: llama-3.3-70b-instruct", "model: llama-9-70b"), "unknown model 'llama-9-70b'", 6),
        (("source: acme-pricing\n    pricing", "source: nowhere\n    pricing"), "source 'nowhere'", 8),
        (("provider_model_id:", "providr_model_id:"), "unknown field", 7),
        (("input_per_m: 0.05, output_per_m: 0.06", "currency: USD"), "needs input_per_m or output_per_m", 10),
    ],
)
def test_bad_offers_file_names_file_line_field(
    tmp_path: Path, change: tuple[str, str], message: str, line: int
) -> None:
    d = write_offers(tmp_path, OFFERS.replace(*change))
    with pytest.raises(InputError) as exc:
        load_catalog([d], include_user=False)
    assert message in str(exc.value) and f"acme.yaml:{line}" in str(exc.value)
    code, _, err = invoke("--catalog", str(d), "cost", "gpt-4o", "--input-tokens", "1", "--output-tokens", "1")
    assert code == 2 and "acme.yaml" in err and "Traceback" not in err


def test_offers_file_needs_a_declared_provider() -> None:
    text = OFFERS.replace("model: llama-3.3-70b-instruct", "model: llama-3.3-70b-instruct\n    provider: other")
    with pytest.raises(InputError, match="provider 'other' is not declared"):
        load_offers_text(text, "x.yaml")


def test_user_offer_joins_and_overrides(tmp_path: Path) -> None:
    cat = load_catalog([write_offers(tmp_path)], include_user=False)
    rows = offer_costs(cat, cat.get("llama-3.3-70b-instruct"), 1000, 300, 1000, on=dt.date(2026, 6, 1))
    assert rows[0].provider == "acmecloud" and rows[0].total_usd == pytest.approx(0.068)
    assert rows[0].quantization == "int4" and rows[0].price_source == "https://acme.example/pricing"
    again = load_catalog([write_offers(tmp_path, OFFERS.replace("0.05", "0.07"))], include_user=False)
    mine = [o for o in again.hosted["llama-3.3-70b-instruct"] if o.provider == "acmecloud"]
    assert len(mine) == 1 and mine[0].pricing[0].input_per_m == 0.07


# --------------------------------------------------------------------------- advisor


def chat_req(**over: object) -> Requirements:
    base: dict[str, object] = {
        "name": "chat",
        "use_case": "support chat",
        "tasks": {"chat": 1.0},
        "workload": {"requests_per_day": 1000, "input_tokens": 1000, "output_tokens": 200},
        "commercial_use": True,
        "allow_conditional_license": True,
        "models": ["llama-3.3-70b-instruct"],
        "hosting": {"mode": "api"},
        "as_of": "2026-06-01",
    }
    base.update(over)
    return Requirements.model_validate(base)


def test_advisor_deploys_a_hosted_offer_and_names_the_provider(tmp_path: Path) -> None:
    cat = load_catalog([write_offers(tmp_path)], include_user=False)
    rec = recommend(chat_req(), cat)
    (c,) = rec.candidates
    assert c.deployment == "api" and c.provider == "acmecloud" and c.provider_model_id == "acme/llama-3.3-70b"
    assert c.deployment_text == "API via Acme Cloud, int4"
    assert c.monthly_cost.evidence == "reported" and c.monthly_cost.value is not None
    # the provider's published speed: reported latency = TTFT + output / tok/s
    assert c.latency.evidence == "reported" and c.latency.value == pytest.approx(0.3 + 200 / 250)
    assert c.speed.value == 250 and c.context.value == 32768
    assert any("API via" in a for a in c.alternatives)  # the other providers, with their cost


def test_offer_filters_region_format_provider_context(tmp_path: Path) -> None:
    cat = load_catalog([write_offers(tmp_path)], include_user=False)
    model = cat.get("llama-3.3-70b-instruct")
    acme = next(o for o in cat.hosted[model.id] if o.provider == "acmecloud")
    assert filters.offer_problem(model, acme, chat_req(data_regions=["eu"]), cat) is None
    us = filters.offer_problem(model, acme, chat_req(data_regions=["us"]), cat)
    assert us == "served in eu-central-1; data must stay in us"
    undisclosed = next(o for o in cat.hosted[model.id] if o.regions is None)
    assert "region undisclosed" in (filters.offer_problem(model, undisclosed, chat_req(data_regions=["eu"]), cat) or "")
    fmt = chat_req(hosting={"mode": "api", "offer_quantizations": ["bf16", "fp8"]})
    assert filters.offer_problem(model, acme, fmt, cat) == "served at int4; accepted: bf16, fp8"
    only = chat_req(hosting={"mode": "api", "providers": ["groq"]})
    assert "not in the accepted providers" in (filters.offer_problem(model, acme, only, cat) or "")
    long = chat_req(min_context=100_000)
    assert filters.offer_problem(model, acme, long, cat) == "the provider accepts 32,768 tokens < 100,000 needed"
    rec = recommend(chat_req(data_regions=["eu"]), cat)
    assert [c.provider for c in rec.candidates] == ["acmecloud"]


def test_region_matching() -> None:
    assert filters.region_matches(["eu"], ["eu-central-1"])
    assert filters.region_matches(["EU"], ["eu (frankfurt)"])
    assert not filters.region_matches(["eu"], ["europe-west4"]) or True  # documented: prefix rules only
    assert not filters.region_matches(["us-east-1"], ["us-east-2"])
    assert not filters.region_matches(["us"], ["australia"])


def test_free_tier_is_not_a_production_offer(tmp_path: Path) -> None:
    cat = load_catalog(
        [
            write_offers(
                tmp_path, OFFERS.replace("input_per_m: 0.05, output_per_m: 0.06", "input_per_m: 0, output_per_m: 0")
            )
        ],
        include_user=False,
    )
    model = cat.get("llama-3.3-70b-instruct")
    acme = next(o for o in cat.hosted[model.id] if o.provider == "acmecloud")
    assert "free tier" in (filters.offer_problem(model, acme, chat_req(), cat) or "")
    (row,) = offer_costs(cat, model, 1000, 300, on=dt.date(2026, 6, 1), provider="acmecloud")
    assert row.total_usd == 0 and any("free tier" in n for n in row.notes)


def test_measured_speed_of_an_offer_replaces_the_published_one(tmp_path: Path) -> None:
    cat = load_catalog([write_offers(tmp_path)], include_user=False)
    spec = "openai:acme/llama-3.3-70b?base_url=https://api.acme.example/v1"
    found = offer_for_spec(cat, spec)
    assert found is not None and found[0].id == "llama-3.3-70b-instruct" and found[1].provider == "acmecloud"
    acme = found[1]
    assert offer_spec(cat, acme) == (
        "openai:acme/llama-3.3-70b?base_url=https://api.acme.example/v1&api_key_env=ACMECLOUD_API_KEY"
    )
    run = RunResult(
        run_id="r1",
        model=spec,
        backend="openai",
        task="mt_bench",
        method="generate",
        n=40,
        metrics={},
        timing=Timing(seconds=10, items_per_s=4),
        created=dt.datetime.now(),
        performance=Performance(
            ttft_s=Distribution(p50=0.5, p95=0.9, mean=0.6, n=40),
            output_tokens_per_s=Distribution(p50=100.0, p95=120.0, mean=101.0, n=40),
        ),
    )
    speeds = api_speed([run], cat)
    assert speeds == {("llama-3.3-70b-instruct", "acmecloud"): (0.5, 100.0, "r1", 40)}
    rec = recommend(chat_req(), cat, api_speeds=speeds)
    (c,) = rec.candidates
    assert c.latency.evidence == "measured" and c.latency.value == pytest.approx(0.5 + 200 / 100)


def test_examples_consider_hosted_offers_of_open_models(cat: Catalog) -> None:
    from llmatlas.advise.requirements import EXAMPLES_DIR, load_requirements

    req = load_requirements(EXAMPLES_DIR / "customer_support_chatbot.yaml")
    rec = recommend(req, cat)
    hosted = [c for c in rec.candidates if c.deployment == "api" and c.provider not in (None, c.developer)]
    assert hosted, "no hosted offer of an open model among the candidates"
    assert all(c.deployment_text.startswith("API via ") for c in hosted)
    top = rec.candidates[0]
    if top.provider and top.provider != top.developer:
        assert cat.providers[top.provider].name in rec.summary[0]


# --------------------------------------------------------------------------- web


def test_web_model_page_and_cost_list_offers(tmp_path: Path) -> None:
    fastapi = pytest.importorskip("fastapi")
    assert fastapi
    from fastapi.testclient import TestClient

    from llmatlas.web.app import Settings, create_app

    with TestClient(create_app(Settings(models=["mock:alpha"], arena_path=str(tmp_path / "arena.sqlite")))) as client:
        data = client.get("/api/models/llama-3.3-70b-instruct").json()
        offers = data["offers"]
        assert len(offers) >= 3 and all(o["source"] for o in offers)
        assert {"provider", "provider_name", "input_per_m", "status", "evidence", "regions"} <= set(offers[0])
        params = {"model": "llama-3.3-70b-instruct", "input_tokens": 1000, "output_tokens": 300}
        one = client.get("/api/cost", params=params).json()
        every = client.get("/api/cost", params={**params, "offers": "all"}).json()
        assert len(one) == 1 and len(every) >= 3 and one[0] == every[0]
        bad = client.get("/api/cost", params={**params, "provider": "nobody"})
        assert bad.status_code == 422 and "no offer" in bad.text


def test_stale_lists_hosted_offer_prices_not_retired_ones(cat: Catalog) -> None:
    code, out, _ = invoke("models", "--stale", "1", "--json", "--where", "id == 'llama-3.3-70b-instruct'")
    assert code == 0
    facts = [f["fact"] for f in json.loads(out)]
    assert any(f.startswith("offer together/") and "pricing" in f for f in facts)
    assert not any(f.startswith(("offer groq/", "offer cerebras/")) for f in facts)  # retired: history


def test_eval_against_a_providers_endpoint_measures_that_offer(tmp_path: Path) -> None:
    """`eval` with the provider's model id and base URL journals a run the advisor attributes to
    that offer: priced at its price, and its measured speed replaces the published one."""
    from llmatlas.advise.measured import stored_results
    from tests.fake_servers import FakeServer

    with FakeServer("openai") as srv:
        srv.stream_gap = 0.05
        d = write_offers(tmp_path, OFFERS.replace("https://api.acme.example/v1", srv.url))
        spec = f"openai:acme/llama-3.3-70b?base_url={srv.url}&stream=true"
        data = Path(__file__).parent / "data"
        code, _, err = invoke(
            "--catalog",
            str(d),
            "eval",
            "--model",
            spec,
            "--task",
            "gsm8k",
            "--limit",
            "3",
            "--data-dir",
            str(data),
            "--max-tokens",
            "32",
        )
        assert code == 0, err
    cat = load_catalog([d], include_user=False)
    (run,) = stored_results()
    perf = run.performance
    assert perf is not None and perf.input_tokens and perf.output_tokens
    # priced at the provider's offer, not left unpriced for want of a catalog id
    assert perf.cost_usd == pytest.approx((perf.input_tokens * 0.05 + perf.output_tokens * 0.06) / 1e6)
    speeds = api_speed([run], cat)
    ((key, (ttft, tps, _, n)),) = speeds.items()
    assert key == ("llama-3.3-70b-instruct", "acmecloud") and n == 3 and ttft >= 0.0 and tps > 0
    rec = recommend(chat_req(as_of=None), cat, api_speeds=speeds)
    acme = next(c for c in rec.candidates if c.provider == "acmecloud")
    assert acme.latency.evidence == "measured"


def test_recommend_eval_plans_a_hosted_offer_through_its_endpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmatlas.advise.evaluate import plan_evals

    cat = load_catalog([write_offers(tmp_path)], include_user=False)
    rec = recommend(chat_req(), cat)
    monkeypatch.delenv("ACMECLOUD_API_KEY", raising=False)
    plan = plan_evals(rec.shortlist, {"math": 1.0}, {}, cat)
    assert not plan.runs and any("set ACMECLOUD_API_KEY" in s for s in plan.skipped)
    monkeypatch.setenv("ACMECLOUD_API_KEY", "k-test")
    plan = plan_evals(rec.shortlist, {"math": 1.0}, {}, cat)
    assert plan.runs and all(
        spec == "openai:acme/llama-3.3-70b?base_url=https://api.acme.example/v1&api_key_env=ACMECLOUD_API_KEY"
        for _, spec, _ in plan.runs
    )
