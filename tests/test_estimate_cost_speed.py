"""Cost, speed-bound and break-even estimators against hand-computed values."""

from __future__ import annotations

import datetime as dt

import pytest

from llmatlas.catalog import Catalog
from llmatlas.catalog.schema import AccessInfo, ExchangeRate, Model, Price
from llmatlas.estimate.breakeven import HOURS_PER_MONTH, SECONDS_PER_MONTH, break_even
from llmatlas.estimate.cost import blended_price, workload_cost
from llmatlas.estimate.hardware import get_hardware, parse_size
from llmatlas.estimate.speed import speed_bounds

SRC = "https://example.com/pricing"


def priced(*prices: Price) -> Model:
    return Model(id="m", name="M", family="m", pricing=list(prices))


def test_cost_hand_computed() -> None:
    m = priced(Price(source=SRC, input_per_m=10, output_per_m=30, cached_input_per_m=5))
    est = workload_cost(m, input_tokens=1000, output_tokens=500, requests=1000, cached_input_tokens=200)
    # 1000 × (800 × 10 + 200 × 5) / 1e6 = 9.0 ; 1000 × 500 × 30 / 1e6 = 15.0
    assert est.input_cost_usd == pytest.approx(9.0)
    assert est.output_cost_usd == pytest.approx(15.0)
    assert est.total_usd == pytest.approx(24.0)
    assert est.blended_per_m_usd == pytest.approx((3 * 10 + 30) / 4)


def test_cached_tokens_without_cached_price_are_billed_as_input() -> None:
    m = priced(Price(source=SRC, input_per_m=10, output_per_m=30))
    est = workload_cost(m, 1000, 0, 1, cached_input_tokens=1000)
    assert est.total_usd == pytest.approx(0.01)
    assert est.notes


def test_unpriced_model_is_not_free() -> None:
    m = Model(id="x", name="X", family="x", access=AccessInfo(modes=["api"], source=SRC))
    est = workload_cost(m, 1000, 1000, 10)
    assert est.total_usd is None and est.input_cost_usd is None
    assert est.reason and "undisclosed" in est.reason
    open_m = Model(id="o", name="O", family="o", access=AccessInfo(modes=["open_weights"], source=SRC))
    assert "self-host" in (workload_cost(open_m, 1, 1).reason or "")


def test_price_history_picks_price_in_force() -> None:
    m = priced(
        Price(
            source=SRC,
            input_per_m=5,
            output_per_m=15,
            effective_from=dt.date(2024, 5, 13),
            effective_to=dt.date(2024, 8, 6),
        ),
        Price(source=SRC, input_per_m=2.5, output_per_m=10, effective_from=dt.date(2024, 8, 6)),
    )
    assert workload_cost(m, 1_000_000, 0, on=dt.date(2024, 6, 1)).total_usd == pytest.approx(5.0)
    assert workload_cost(m, 1_000_000, 0, on=dt.date(2024, 9, 1)).total_usd == pytest.approx(2.5)
    before = workload_cost(m, 1_000_000, 0, on=dt.date(2023, 1, 1))
    assert before.total_usd is None and before.reason == "no price in force on that date"


def test_cny_converted_with_sourced_rate() -> None:
    m = priced(Price(source=SRC, currency="CNY", input_per_m=120, output_per_m=120))
    rate = ExchangeRate(source=SRC, as_of=dt.date(2024, 1, 2), currency="CNY", usd_per_unit=0.14)
    est = workload_cost(m, 1_000_000, 1_000_000, 1, rate=rate)
    assert est.currency == "CNY" and est.total == pytest.approx(240)
    assert est.total_usd == pytest.approx(240 * 0.14)
    no_rate = workload_cost(m, 1_000_000, 0)
    assert no_rate.total == pytest.approx(120) and no_rate.total_usd is None


def test_blended_requires_both_prices() -> None:
    assert blended_price(Price(source=SRC, input_per_m=1.0)) is None


def test_gpt4_launch_price_in_catalog(cat: Catalog) -> None:
    est = workload_cost(cat.get("gpt-4"), 1000, 1000, 1000, on=dt.date(2023, 6, 1))
    assert est.total_usd == pytest.approx(30 + 60)


def test_decode_bound_is_bandwidth_over_bytes(cat: Catalog) -> None:
    m = cat.get("llama-2-7b")
    h100 = get_hardware("h100-sxm")
    b = speed_bounds(m, h100, quant="fp16", context=1, batch=1)
    bytes_per_token = 6.74e9 * 2 + 2 * 32 * 32 * 128 * 1 * 2
    assert b.decode_tokens_per_s == pytest.approx(3350e9 / bytes_per_token, rel=1e-9)
    assert b.bound_by == "memory bandwidth"


def test_decode_bound_becomes_compute_bound_at_large_batch(cat: Catalog) -> None:
    m = cat.get("llama-2-7b")
    b = speed_bounds(m, get_hardware("h100-sxm"), quant="fp16", context=1, batch=4096)
    assert b.bound_by == "compute"
    assert b.decode_tokens_per_s_total == pytest.approx(989.4e12 / (2 * 6.74e9))


def test_moe_decode_reads_active_weights_only(cat: Catalog) -> None:
    b = speed_bounds(cat.get("mixtral-8x7b"), get_hardware("a100-80gb"), quant="fp16", context=1)
    assert b.decode_tokens_per_s == pytest.approx(2039e9 / (12.9e9 * 2 + 2 * 32 * 8 * 128 * 2), rel=1e-9)


def test_prefill_bound_and_calibration(cat: Catalog) -> None:
    m = cat.get("llama-2-7b")
    b = speed_bounds(m, get_hardware("a100-80gb"), prompt_tokens=1000, measured_tokens_per_s=60.0)
    flops = 2 * 6.74e9 * 1000 + 2 * 32 * 1000 * 1000 * 4096
    assert b.prefill_seconds == pytest.approx(flops / 312e12)
    assert b.efficiency == pytest.approx(60.0 / b.decode_tokens_per_s)  # type: ignore[operator]


def test_break_even_hand_computed() -> None:
    be = break_even(
        api_cost_per_request_usd=0.01,
        requests_per_month=100_000,
        gpu_hour_usd=2.0,
        output_tokens_per_request=500,
        throughput_tokens_per_s=1000,
        utilization=0.5,
    )
    per_gpu = 1000 * 0.5 * SECONDS_PER_MONTH / 500
    assert be.capacity_requests_per_month_per_gpu == pytest.approx(per_gpu)
    assert be.gpus_needed == 1
    assert be.selfhost_monthly_usd == pytest.approx(2.0 * HOURS_PER_MONTH)
    assert be.api_monthly_usd == pytest.approx(1000.0)
    assert be.breakeven_requests_per_month == pytest.approx(2.0 * HOURS_PER_MONTH / 0.01)  # 146,000
    assert be.cheaper == "api"  # $1,000 < $1,460 at 100,000 requests
    above = break_even(0.01, 200_000, 2.0, 500, 1000, utilization=0.5)
    assert above.cheaper == "self-host" and above.api_monthly_usd == pytest.approx(2000.0)


def test_break_even_scales_by_whole_replicas() -> None:
    per_gpu = 100 * SECONDS_PER_MONTH / 100  # 100 tok/s, 100 tokens per request, full utilization
    be = break_even(1.0, 3 * per_gpu, 1.0, 100, 100, min_gpus=2, utilization=1.0)
    assert be.gpus_needed == 4  # two replicas of two GPUs carry 4 × per_gpu >= 3 × per_gpu


def test_break_even_never_when_api_is_cheaper_per_request() -> None:
    be = break_even(0.0001, 1e6, 10.0, 1000, 10, utilization=1.0)
    assert be.breakeven_requests_per_month is None
    assert be.cheaper == "api"
    assert be.gpus_needed == -(-1e6 // (10 * SECONDS_PER_MONTH / 1000))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24GB", 24 * 2**30),
        ("16GiB", 16 * 2**30),
        ("80G", 80 * 2**30),
        ("512MiB", 512 * 2**20),
        ("1.5", int(1.5 * 2**30)),
    ],
)
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


def test_hardware_lookup_suggests() -> None:
    from llmatlas.core.errors import InputError

    assert get_hardware("4090").id == "rtx-4090"
    with pytest.raises(InputError, match="h100"):
        get_hardware("h10")


def test_long_context_tier_applies_above_its_threshold() -> None:
    # Gemini 2.5 Pro style: $1.25/$10 up to 200K prompt tokens, $2.50/$15 above.
    m = priced(
        Price(source=SRC, input_per_m=1.25, output_per_m=10.0, effective_from=dt.date(2025, 6, 17)),
        Price(source=SRC, input_per_m=2.5, output_per_m=15.0, prompt_tokens_above=200_000, tier=">200K",
              effective_from=dt.date(2025, 6, 17)),
    )  # fmt: skip
    short = workload_cost(m, 200_000, 1_000, on=dt.date(2025, 7, 1))
    long = workload_cost(m, 200_001, 1_000, on=dt.date(2025, 7, 1))
    assert short.total_usd == pytest.approx(200_000 * 1.25 / 1e6 + 1_000 * 10 / 1e6)
    assert long.total_usd == pytest.approx(200_001 * 2.5 / 1e6 + 1_000 * 15 / 1e6)
    assert long.tier == ">200K" and any("long-context" in n for n in long.notes)
    assert m.current_price(dt.date(2025, 7, 1)).input_per_m == 1.25  # no prompt size: the base price


def test_cache_write_and_read_and_batch_prices() -> None:
    # Claude Sonnet 4 style: $3 in, $15 out, cache write $3.75, cache read $0.30, batch $1.50/$7.50.
    m = priced(
        Price(source=SRC, input_per_m=3, output_per_m=15, cached_input_per_m=0.3, cache_write_per_m=3.75,
              batch_input_per_m=1.5, batch_output_per_m=7.5),
    )  # fmt: skip
    est = workload_cost(m, 10_000, 1_000, requests=100, cached_input_tokens=6_000, cache_write_tokens=2_000)
    # 100 × (2,000 × 3 + 6,000 × 0.30 + 2,000 × 3.75) / 1e6 = 1.53 ; 100 × 1,000 × 15 / 1e6 = 1.5
    assert est.input_cost_usd == pytest.approx(1.53)
    assert est.output_cost_usd == pytest.approx(1.5)
    batch = workload_cost(m, 10_000, 1_000, requests=100, batch_api=True)
    assert batch.total_usd == pytest.approx(100 * (10_000 * 1.5 + 1_000 * 7.5) / 1e6)
    with pytest.raises(ValueError):
        workload_cost(m, 1_000, 0, cached_input_tokens=600, cache_write_tokens=600)


def test_batch_api_without_batch_price_is_unpriced_not_standard() -> None:
    m = priced(Price(source=SRC, input_per_m=3, output_per_m=15))
    est = workload_cost(m, 1_000, 100, batch_api=True)
    assert est.total_usd is None and est.reason is not None and "batch" in est.reason
