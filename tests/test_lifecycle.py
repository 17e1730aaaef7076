"""Model lifecycle on a date (issue 12): status from sourced facts, and everyone using it the same way."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from llmatlas.advise.advisor import recommend
from llmatlas.advise.requirements import Requirements
from llmatlas.catalog import Catalog
from llmatlas.catalog.lifecycle import lifecycle_on
from llmatlas.catalog.loader import load_text
from llmatlas.catalog.schema import Lifecycle
from llmatlas.estimate.cost import workload_cost

D = dt.date
SRC = "https://example.com/deprecations"

CATALOG = """
developer: {id: acme, name: Acme}
references:
  - {id: deps, title: Acme deprecations page, url: "https://acme.example/deprecations", as_of: 2026-11-01}
  - {id: prices, title: Acme pricing, url: "https://acme.example/pricing", as_of: 2026-11-01}
models:
  - id: old-api
    name: Old API
    family: acme
    release: {date: "2023-05", source: deps}
    context: {tokens: 32000, source: deps}
    license: {name: Acme terms, commercial_use: "yes", source: deps}
    access: {modes: [api], self_hostable: false, source: deps}
    pricing:
      - {source: prices, input_per_m: 1.0, output_per_m: 2.0, effective_from: 2023-05-01}
    benchmarks:
      - {benchmark: mmlu, value: 70, source: deps}
    lifecycle: {status: retired, announced: 2025-01-10, shutdown: 2025-07-21, replacement: new-api, source: deps}
  - id: new-api
    extends: old-api
    name: New API
    release: {date: "2025-05-22", source: deps}
    pricing:
      - {source: prices, input_per_m: 3.0, output_per_m: 15.0, effective_from: 2025-05-22}
    benchmarks:
      - {benchmark: mmlu, value: 88, source: deps}
    lifecycle: {status: deprecated, announced: 2026-10-01, shutdown: 2027-03-01, replacement: newest-api, source: deps}
  - id: newest-api
    extends: old-api
    name: Newest API
    release: {date: "2026-09-01", source: deps}
    pricing:
      - {source: prices, input_per_m: 3.0, output_per_m: 15.0, effective_from: 2026-09-01}
    benchmarks:
      - {benchmark: mmlu, value: 90, source: deps}
    lifecycle: {status: active, announced: null, shutdown: null, replacement: null, source: deps}
  - id: unknown-api
    extends: old-api
    name: Unknown API
    lifecycle: null
  - id: open-model
    extends: old-api
    name: Open model
    parameters: {total_b: 7.0, source: deps}
    architecture: {layers: 32, hidden_size: 4096, attention_heads: 32, kv_heads: 8, source: deps}
    license: {name: Apache-2.0, commercial_use: "yes", source: deps}
    access: {modes: [api, open_weights], self_hostable: true, source: deps}
"""


@pytest.fixture(scope="module")
def acme() -> Catalog:
    c = Catalog()
    c.add(load_text(CATALOG, "acme.yaml"))
    return c


def test_status_follows_the_dates(acme: Catalog) -> None:
    old = acme.get("old-api")
    assert lifecycle_on(old, D(2024, 6, 1)).status == "active"
    assert lifecycle_on(old, D(2025, 3, 1)).status == "deprecated"
    on = lifecycle_on(old, D(2025, 7, 21))
    assert on.status == "retired" and on.retired and not on.usable
    assert on.text() == "retired 2025-07-21, replaced by new-api"
    assert lifecycle_on(old, D(2023, 4, 1)).status == "unreleased"
    new = acme.get("new-api")
    soon = lifecycle_on(new, D(2026, 12, 2))
    assert soon.status == "deprecated" and soon.days_left() == 89 and soon.shutdown_soon()
    assert lifecycle_on(new, D(2025, 6, 1)).status == "active"  # before the deprecation was announced
    assert lifecycle_on(acme.get("unknown-api"), D(2026, 12, 2)).status is None  # undisclosed, not "active"


def test_lifecycle_block_is_checked() -> None:
    with pytest.raises(ValidationError):
        Lifecycle(source=SRC, status="active", shutdown=D(2026, 1, 1))  # a shutdown means deprecated
    with pytest.raises(ValidationError):
        Lifecycle(source=SRC, status="retired", announced=D(2026, 1, 1), shutdown=D(2025, 1, 1))
    with pytest.raises(ValidationError):
        Lifecycle(source=SRC, status="gone")  # type: ignore[arg-type]


def test_cost_refuses_a_retired_api_but_keeps_history(acme: Catalog) -> None:
    old = acme.get("old-api")
    gone = workload_cost(old, 1000, 100, on=D(2026, 12, 2))
    assert gone.total_usd is None and gone.reason and gone.reason.startswith("retired 2025-07-21")
    then = workload_cost(old, 1000, 100, on=D(2024, 6, 1))
    assert then.total_usd == pytest.approx((1000 * 1.0 + 100 * 2.0) / 1e6)
    early = workload_cost(acme.get("newest-api"), 1000, 100, on=D(2025, 1, 1))
    assert early.total_usd is None and early.reason and "not released" in early.reason
    dep = workload_cost(acme.get("new-api"), 1000, 100, on=D(2026, 12, 2))
    assert dep.total_usd is not None and dep.lifecycle and "deprecated" in dep.lifecycle


def _req(as_of: dt.date | None = None) -> Requirements:
    return Requirements.model_validate(
        {
            "name": "t",
            "use_case": "u",
            "tasks": {"knowledge": 1.0},
            "workload": {"requests_per_day": 100, "input_tokens": 500, "output_tokens": 100},
            "hosting": {"mode": "either"},
            "as_of": as_of,
        }
    )


def test_advisor_excludes_retired_with_reason_and_warns_of_shutdowns(acme: Catalog) -> None:
    rec = recommend(_req(D(2026, 12, 2)), acme)
    out = {e.model: e for e in rec.excluded}
    assert out["old-api"].filter == "lifecycle"
    assert out["old-api"].reason.startswith("retired 2025-07-21, replaced by new-api")
    assert out["old-api"].sources, "the exclusion cites the deprecation page"
    assert rec.sources[out["old-api"].sources[0]].url == "https://acme.example/deprecations"
    cands = {c.model: c for c in rec.candidates}
    assert {"new-api", "newest-api", "unknown-api", "open-model"} <= set(cands)
    assert any("shutdown announced for 2027-03-01" in w and "newest-api" in w for w in cands["new-api"].warnings)
    assert any("lifecycle undisclosed" in w for w in cands["unknown-api"].warnings)
    # released weights never retire: the open model stays, self-hosted, its retired API dropped
    assert cands["open-model"].deployment == "self-host"


def test_recommend_as_of_replays_the_market_of_that_date(acme: Catalog) -> None:
    rec = recommend(_req(D(2024, 6, 1)), acme)
    cands = {c.model for c in rec.candidates}
    assert "old-api" in cands
    out = {e.model: e for e in rec.excluded}
    assert out["new-api"].filter == "lifecycle" and "after the decision date 2024-06-01" in out["new-api"].reason
    assert out["newest-api"].filter == "lifecycle"
    api = next(c for c in rec.candidates if c.model == "old-api")
    # the price in force then: 100/day × 365/12 × (500 × $1 + 100 × $2) / 1e6
    assert api.monthly_cost.value == pytest.approx(100 * 365 / 12 * (500 * 1.0 + 100 * 2.0) / 1e6)
