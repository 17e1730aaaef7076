"""GPU prices in the hardware table: sourced and dated per cloud, the rule that picks the one a plan
uses, the user's own price winning, and the on-premises Chinese-finance scenario they unblock."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from llmatlas import api
from llmatlas.advise.advisor import recommend
from llmatlas.advise.deploy import OWNED, YOUR_PRICE
from llmatlas.advise.requirements import EXAMPLES_DIR, HardwareSpec, Requirements, example_names, load_requirements
from llmatlas.catalog import Catalog
from llmatlas.cli.main import app
from llmatlas.estimate.hardware import GpuPrice, Hardware, get_hardware, hardware_table
from llmatlas.report.html import render_html
from llmatlas.report.markdown import render_markdown

CATALOG_DATE = dt.date(2026, 12, 2)  # the examples' fixed decision date (see test_advise.py)
SCENARIO = "chinese_onprem_a100"


def offer(provider: str, gpus: int, usd: float, as_of: dt.date = dt.date(2026, 10, 1), name: str = "x") -> GpuPrice:
    return GpuPrice(
        provider=provider, offer=name, gpus=gpus, usd_per_hour=usd, source="https://example.com", as_of=as_of
    )


def gpu(*prices: GpuPrice) -> Hardware:
    return Hardware(
        id="g", name="G", memory_gib=80, source="https://example.com", as_of=dt.date(2024, 1, 1), prices=list(prices)
    )


# --------------------------------------------------------------------------------------------- the data


@pytest.mark.parametrize("hw", list(hardware_table().values()), ids=lambda h: h.id)
def test_every_price_is_sourced_and_dated_and_rented_gpus_have_two_clouds(hw: Hardware) -> None:
    for p in hw.prices:
        assert p.source.startswith("https://"), (hw.id, p.provider)
        assert dt.date(2024, 1, 1) <= p.as_of <= dt.date.today(), (hw.id, p.provider, p.as_of)
        assert p.provider and p.offer and p.usd_per_hour > 0
    clouds = {p.provider for p in hw.prices}
    if len(clouds) < 2:  # the documented exceptions: not rented by the hour, or only one cloud's price read
        assert hw.price_note, f"{hw.id}: {len(clouds)} cloud(s) and no price_note saying why"
    if not hw.prices:
        assert hw.rental_price() is None and hw.price_per_hour_usd is None  # unknown, never $0


def test_datacenter_gpus_have_two_clouds_and_only_documented_exceptions_fewer() -> None:
    fewer = {h.id for h in hardware_table().values() if h.prices and len({p.provider for p in h.prices}) < 2}
    assert fewer == {"t4", "rtx-3090"}
    for gid in ("h100-sxm", "h100-pcie", "h200", "a100-80gb", "a100-40gb", "l40s", "a10g", "l4", "rtx-4090"):
        assert len({p.provider for p in get_hardware(gid).prices}) >= 2, gid
    unrented = {h.id for h in hardware_table().values() if not h.prices}
    assert unrented == {"m2-max", "m2-ultra", "cpu-ddr5", "laptop-16gb"}


def test_instance_price_and_per_gpu_price_must_agree() -> None:
    ok = GpuPrice(
        provider="AWS",
        offer="p4de",
        gpus=8,
        usd_per_hour=3.4309,
        instance_usd_per_hour=27.44705,
        source="s",
        as_of=dt.date(2026, 1, 1),
    )
    assert ok.describe() == "$3.4309/GPU-hour, AWS on-demand p4de, 8-GPU instance at $27.4471/h, as of 2026-01-01"
    with pytest.raises(ValidationError, match="instance_usd_per_hour / gpus"):
        GpuPrice(
            provider="AWS",
            offer="p4de",
            gpus=8,
            usd_per_hour=27.44,
            instance_usd_per_hour=27.44,
            source="s",
            as_of=dt.date(2026, 1, 1),
        )


# --------------------------------------------------------------------------------------------- the rule


def test_rule_is_the_lowest_on_demand_price_among_instances_the_plan_can_rent() -> None:
    hw = gpu(offer("Big", 8, 2.0, name="8x"), offer("Mid", 1, 3.0), offer("Dear", 1, 5.0))
    any_size = hw.rental_price()
    assert any_size is not None and (any_size.price.provider, any_size.usd_per_hour, any_size.considered) == (
        "Big",
        2.0,
        3,
    )
    two = hw.rental_price(2)  # the 8-GPU-only instance cannot be rented for 2 GPUs
    assert two is not None and (two.price.provider, two.considered, two.max_gpus) == ("Mid", 2, 2)
    assert two.basis == (
        "$3/GPU-hour, Mid on-demand x, as of 2026-10-01; "
        "the lowest of 2 on-demand prices for instances of at most 2 GPUs in the hardware table"
    )
    eight = hw.rental_price(8)
    assert eight is not None and eight.price.provider == "Big" and eight.max_gpus is None
    only_big = gpu(offer("Big", 8, 2.0, name="8x"), offer("Other", 8, 4.0, name="8y"))
    fallback = only_big.rental_price(2)  # nothing that small: all offers count, and the basis says 8-GPU instance
    assert fallback is not None and fallback.price.provider == "Big" and "8-GPU instance" in fallback.basis
    assert gpu().rental_price() is None


def test_each_offer_counts_at_its_latest_reading_on_the_decision_date() -> None:
    old, new = dt.date(2024, 6, 1), dt.date(2026, 11, 9)
    hw = gpu(offer("AWS", 8, 12.29, old, "p5"), offer("AWS", 8, 6.88, new, "p5"), offer("Neo", 1, 9.0, new, "n"))
    today = hw.rental_price()
    assert today is not None and today.usd_per_hour == 6.88 and today.considered == 2  # one offer, two readings
    then = hw.rental_price(on=dt.date(2025, 1, 1))
    assert then is not None and then.usd_per_hour == 12.29 and then.considered == 1
    assert hw.rental_price(on=dt.date(2024, 1, 1)) is None  # nothing read yet: unknown, not free


def test_table_a100_price_is_the_cheapest_offer_and_names_it() -> None:
    a100 = get_hardware("a100-80gb")
    choice = a100.rental_price(2)
    assert choice is not None
    assert choice.usd_per_hour == min(p.usd_per_hour for p in a100.offers_on() if p.gpus <= 2)
    assert choice.basis.startswith(f"${choice.usd_per_hour:g}/GPU-hour, {choice.price.provider} on-demand")
    assert f"as of {choice.price.as_of}" in choice.basis
    assert a100.price_per_hour_usd == a100.rental_price().usd_per_hour  # type: ignore[union-attr]


# --------------------------------------------------------------------------------------------- the user wins


def _scenario(**hardware: object) -> Requirements:
    req = load_requirements(EXAMPLES_DIR / f"{SCENARIO}.yaml")
    spec = HardwareSpec.model_validate({"gpu": "a100-80gb", "count": 2, **hardware})
    return req.model_copy(update={"as_of": CATALOG_DATE, "hosting": req.hosting.model_copy(update={"hardware": spec})})


def test_users_gpu_hour_usd_wins_over_the_table(cat: Catalog) -> None:
    rec = recommend(_scenario(gpu_hour_usd=2.5), cat)
    assert rec.candidates
    for c in rec.candidates:
        assert c.plan is not None and c.plan.gpu_hour_usd == 2.5 and c.plan.gpu_price_basis == YOUR_PRICE
        gpus = c.plan.gpus_per_replica * c.plan.replicas
        assert c.plan.monthly_usd == pytest.approx(gpus * 2.5 * 730)
        assert not any(s.startswith("hwprice:") for s in c.monthly_cost.sources)  # no table offer is cited
    owned = recommend(_scenario(owned=True), cat)
    for c in owned.candidates:
        assert c.plan is not None and c.plan.gpu_hour_usd is None and c.plan.gpu_price_basis == OWNED
        assert c.monthly_cost.text == "owned hardware (no rental)"


def test_breakeven_names_its_price_and_the_user_price_wins(cat: Catalog) -> None:
    table = api.break_even(cat, "gpt-4o", "llama-3-70b-instruct", gpu="h100-sxm")
    choice = get_hardware("h100-sxm").rental_price()
    assert choice is not None and table.gpu_hour_usd == choice.usd_per_hour
    assert table.gpu_price_basis.startswith(choice.price.describe())  # the offer, its date, and the rule
    mine = api.break_even(cat, "gpt-4o", "llama-3-70b-instruct", gpu="h100-sxm", gpu_hour_usd=9.0)
    assert mine.gpu_hour_usd == 9.0 and mine.gpu_price_basis == "your gpu_hour_usd"
    r = CliRunner().invoke(app, ["breakeven", "gpt-4o", "llama-3-70b-instruct", "--gpu", "h100-sxm"])
    assert r.exit_code == 0, r.stdout
    assert f"GPU price: {table.gpu_price_basis}" in " ".join(r.stdout.split())


def test_breakeven_on_unrented_hardware_asks_for_a_price(cat: Catalog) -> None:
    from llmatlas.core.errors import InputError

    with pytest.raises(InputError, match="gpu_hour_usd") as err:
        api.break_even(cat, "gpt-4o", "llama-3-8b-instruct", gpu="m2-ultra")
    assert "Not rented by the hour" in str(err.value)


# --------------------------------------------------------------------------------------------- the scenario


def test_chinese_onprem_scenario_yields_a_shortlist_priced_from_the_table(cat: Catalog) -> None:
    """Chinese Q&A, data on premises, two rented A100 80GB and no price of its own: before the table
    priced the A100 every plan was 'cost unknown' under the budget and nothing was left."""
    assert SCENARIO in example_names()
    req = load_requirements(EXAMPLES_DIR / f"{SCENARIO}.yaml")
    assert req.hosting.hardware is not None and req.hosting.hardware.gpu_hour_usd is None
    assert not req.hosting.hardware.owned and req.on_premises
    rec = api.recommend(SCENARIO, cat, use_store=False, as_of=CATALOG_DATE)
    assert rec.candidates, [e.reason for e in rec.excluded if e.filter == "budget"][:3]
    choice = get_hardware("a100-80gb").rental_price(2, CATALOG_DATE)
    assert choice is not None
    for c in rec.candidates:
        assert c.deployment == "self-host" and c.plan is not None and c.plan.hardware == "a100-80gb"
        assert c.plan.gpu_hour_usd == choice.usd_per_hour and c.plan.gpu_price_basis == choice.basis
        assert c.monthly_cost.value is not None and c.monthly_cost.value <= 3000
        (sid,) = [s for s in c.monthly_cost.sources if s.startswith("hwprice:")]
        src = rec.sources[sid]
        assert src.url == choice.price.source and src.as_of == choice.price.as_of
    assert all(e.filter != "budget" for e in rec.excluded)  # no more "cost unknown"
    assert f"GPU price: {choice.basis}" in render_markdown(rec)
    assert f"<dt>GPU price</dt><dd>{choice.basis}</dd>" in render_html(rec)


def test_reports_print_the_price_basis_or_say_whose_price_it_is() -> None:
    from tests.advise_fixtures import sample_recommendation

    rec = sample_recommendation()
    md, html = render_markdown(rec), render_html(rec)
    table = "$4.1/GPU-hour, AWS on-demand p4d.24xlarge, 8-GPU instance at $32.77/h, us-east-1, as of 2024-06-01"
    assert f"GPU price: {table}" in md and f"<dd>{table}</dd>" in html
    assert "GPU price: $1.01 per GPU-hour (your gpu_hour_usd)" in md
    assert "(your gpu_hour_usd)</dd>" in html


def test_unnamed_hardware_searches_only_gpus_two_providers_rent() -> None:
    """A default plan never rests on one provider's price: single-source GPUs are costed only when named."""
    from llmatlas.advise.deploy import rigs
    from llmatlas.advise.requirements import EXAMPLES_DIR, load_requirements
    from llmatlas.estimate.hardware import hardware_table

    req = load_requirements(EXAMPLES_DIR / "bulk_classification.yaml")
    searched = {r.hw.id for r in rigs(req)}
    single = {h.id for h in hardware_table().values() if len({p.provider for p in h.prices}) == 1}
    assert single and not searched & single
    assert {"a100-80gb", "h100-sxm", "l40s"} <= searched
