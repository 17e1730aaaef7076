"""The JSON API against its own OpenAPI schema, property-based (schemathesis + Hypothesis).

Every GET endpoint and every JSON POST endpoint is called with inputs generated from the schema
(served models are mock backends): no call may answer 5xx, and every answer must match the schema
the pages rely on (status, content type, body). Half the generated catalog ids, quantizations, GPUs
and model specs are swapped for real ones, so the calls reach the estimators and the backends
instead of stopping at a 404/422. The SSE endpoint is checked for server errors only (its body is
an event stream, not JSON). Bounded: a few examples per operation, no deadline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmatlas.web.app import Settings, create_app

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.checks import (  # noqa: E402 - only once schemathesis is known to be there
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)

SPECS = ["mock:alpha", "mock:beta"]
MODELS = ["gpt-4o", "llama-2-70b", "mixtral-8x7b", "ernie-bot-4", "coral", "bert-base", "claude-3-haiku"]
QUANTS = ["fp16", "bf16", "int8", "int4", "Q4_K_M", "Q8_0", "Q2_K"]
GPUS = ["rtx-4090", "h100-sxm", "a100-40gb", "laptop-16gb"]
SORTS = ["id", "-mmlu", "params_b", "-context", "input_price"]
EXAMPLES = 12


def _maybe(real: st.SearchStrategy[Any], generated: Any) -> st.SearchStrategy[Any]:
    """Either what schemathesis generated or a value the server knows (to reach the code behind)."""
    return st.one_of(st.just(generated), real)


def flatmap_query(context: Any, query: dict[str, Any] | None) -> st.SearchStrategy[Any]:
    if not query:
        return st.just(query)
    path = context.operation.path
    parts: dict[str, st.SearchStrategy[Any]] = {k: st.just(v) for k, v in query.items()}
    if path == "/api/cost" and "model" in query:
        parts["model"] = _maybe(st.lists(st.sampled_from(MODELS), min_size=1, max_size=3), query["model"])
        if "cached_input_tokens" in query and "input_tokens" in query:
            parts["cached_input_tokens"] = _maybe(st.just(0), query["cached_input_tokens"])
    if path == "/api/memory":  # as generated, or with every name one the server knows
        known = {"model": st.sampled_from(MODELS), "quant": st.sampled_from(QUANTS), "gpu": st.sampled_from(GPUS)}
        valid = st.fixed_dictionaries({**parts, **{k: v for k, v in known.items() if k in query or k == "model"}})
        return st.one_of(st.just(query), valid)
    if path == "/api/models" and "sort" in query:
        parts["sort"] = _maybe(st.sampled_from(SORTS), query["sort"])
    return st.fixed_dictionaries(parts)


def flatmap_body(context: Any, body: Any) -> st.SearchStrategy[Any]:
    if isinstance(body, dict) and "model" in body and context.operation.path.startswith("/api/generate"):
        return st.builds(lambda spec: {**body, "model": spec}, _maybe(st.sampled_from(SPECS), body["model"]))
    return st.just(body)


def path_parameters(battles: list[str]) -> Any:
    """Catalog ids for model pages, and ids of battles that exist (a first vote, then a second: 409)."""

    def flatmap_path_parameters(context: Any, params: dict[str, Any] | None) -> st.SearchStrategy[Any]:
        if params and "model_id" in params:
            return st.builds(lambda v: {**params, "model_id": v}, _maybe(st.sampled_from(MODELS), params["model_id"]))
        if params and "battle_id" in params:
            return st.builds(
                lambda v: {**params, "battle_id": v}, _maybe(st.sampled_from(battles), params["battle_id"])
            )
        return st.just(params)

    return flatmap_path_parameters


OPERATIONS = [
    ("GET", "/api/health"),
    ("GET", "/api/models"),
    ("GET", "/api/models/{model_id}"),
    ("GET", "/api/gpus"),
    ("GET", "/api/cost"),
    ("GET", "/api/memory"),
    ("GET", "/api/leaderboard"),
    ("GET", "/api/backends"),
    ("GET", "/api/endpoints"),
    ("GET", "/api/advisor/examples"),
    ("POST", "/api/advisor/check"),
    ("POST", "/api/advisor/recommend"),
    ("GET", "/api/advisor/{rid}"),
    ("GET", "/api/advisor/{rid}/report.{fmt}"),
    ("GET", "/api/advisor/{rid}/requirements.yaml"),
    ("POST", "/api/advisor/{rid}/measure"),
    ("GET", "/api/arena/ratings"),
    ("POST", "/api/generate"),
    ("POST", "/api/generate/stream"),
    ("POST", "/api/arena/battles"),
    ("POST", "/api/arena/battles/{battle_id}/vote"),
]


@pytest.fixture
def api_schema(tmp_path: Path) -> Any:
    # One app per test: schemathesis ends the app's ASGI lifespan when each test ends.
    app = create_app(Settings(models=SPECS, arena_path=str(tmp_path / "arena.sqlite")))
    battles = [app.state.arena.create_battle(f"q{i}", *SPECS, "a", "b") for i in range(8)]
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    for hook in (flatmap_query, flatmap_body, path_parameters(battles)):
        schema.hook(hook)
    return schema


def test_every_api_operation_is_checked(api_schema: Any) -> None:
    """The property test below covers every operation of the schema: a new endpoint must join it."""
    ops = {(method.upper(), path) for path, methods in api_schema.items() for method in methods}
    assert ops == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_api_matches_its_openapi_schema(api_schema: Any, method: str, path: str) -> None:
    # (schemathesis' own pytest loader, ``from_fixture``, breaks on pytest 9: the strategy is used directly)
    operation = api_schema[path][method]
    if path == "/api/generate/stream":
        checks = [not_a_server_error]  # an event stream, not a JSON body
    else:
        checks = [not_a_server_error, content_type_conformance, response_schema_conformance]

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def check(case: Any) -> None:
        case.call_and_validate(checks=checks)

    check()
