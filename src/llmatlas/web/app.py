"""``llmatlas serve``: one FastAPI app, one JSON API (OpenAPI at /docs), static pages that use it.

Safety rules (DESIGN.md): bound to 127.0.0.1 unless told otherwise, and then every API call needs
the token printed at start; model output is data (JSON), the pages render it as text, and a strict
Content-Security-Policy forbids inline scripts and event handlers; no API key ever leaves the
server (backend specs carry none, error messages are scrubbed of the environment's secrets).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import secrets
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from fastapi import FastAPI, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles

from llmatlas import __version__, api
from llmatlas.advise.leaderboard import ARENA_ROUNDS, Leaderboard
from llmatlas.advise.measured import catalog_id_for_spec
from llmatlas.api import FitResult
from llmatlas.arena.ratings import Rating
from llmatlas.arena.store import ArenaStore
from llmatlas.backends.base import Backend, Generation, GenerationRequest
from llmatlas.backends.endpoints import EXAMPLE, endpoints_path, load_endpoints
from llmatlas.backends.registry import load_backend, parse_spec, public_spec
from llmatlas.catalog.catalog import Catalog, load_catalog
from llmatlas.catalog.query import select
from llmatlas.core.errors import InputError, LlmatlasError
from llmatlas.estimate.cost import CostEstimate
from llmatlas.estimate.hardware import Hardware, hardware_table
from llmatlas.web.advisor_api import Advice, advisor_routes
from llmatlas.web.schemas import (
    BackendSpec,
    BattleRequest,
    BattleView,
    EndpointsInfo,
    GenerateRequest,
    GenerateResult,
    ModelList,
    VoteRequest,
    VoteResult,
)

if TYPE_CHECKING:
    from llmatlas.engine.outputs import Pricer

STATIC = Path(str(resources.files("llmatlas.web") / "static"))
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
API_DOC_PAGES = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})  # no model output on these
SECRET_ENV_HINTS = ("KEY", "TOKEN", "SECRET", "PASSWORD")


def embedded_models() -> list[str]:
    """The embedded SmolLM2, when llama-cpp-python and the model package are installed."""
    try:
        import llama_cpp  # noqa: F401

        from llmatlas.backends.embedded import smollm2_path

        smollm2_path()
    except (ImportError, LlmatlasError):
        return []
    return ["smollm2"]


DEMO_MODELS = ("mock:alpha", "mock:beta")


def served_models(models: list[str] | None, demo: bool) -> tuple[list[str], dict[str, str]]:
    """The specs ``serve`` offers, and each endpoint's name by its public spec (for the pickers).

    ``models`` as given, where an endpoints.yaml name stands for its spec; None: the embedded
    model and every endpoint. Mock models only in demo mode (``--demo``): a user is never offered
    a fake model by default. The endpoints file is read once, here."""
    named = {e.name: e.spec for e in load_endpoints()}
    specs = [named.get(m, m) for m in models] if models is not None else [*embedded_models(), *named.values()]
    specs += [m for m in DEMO_MODELS if demo and m not in specs]
    return specs, {public_spec(spec): name for name, spec in named.items()}


@dataclass
class Settings:
    """How the server was started (set by ``llmatlas serve`` or by tests)."""

    host: str = "127.0.0.1"
    token: str | None = None  # required on every API call when set
    models: list[str] | None = None  # specs or endpoint names; None: the embedded model and the endpoints
    demo: bool = False  # mock models added (``serve --demo``; the tests)
    arena_path: str | None = None
    journal_path: str | None = None
    catalog_dirs: list[str] = field(default_factory=list)

    @property
    def exposed(self) -> bool:
        return self.host not in LOOPBACK


def unprocessable(param: str, exc: Exception) -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors, as the OpenAPI schema promises for 422."""
    return HTTPException(422, [{"loc": ["query", param], "msg": str(exc), "type": "value_error"}])


def scrub(text: str) -> str:
    """Remove any secret-looking environment value from a message bound for the browser."""
    for name, value in os.environ.items():
        if value and len(value) >= 8 and any(h in name.upper() for h in SECRET_ENV_HINTS):
            text = text.replace(value, "***")
    return text


class Pool:
    """Backends loaded once, on first use; one generation at a time per backend (llama.cpp is not
    thread-safe), any number of backends in parallel."""

    def __init__(self, specs: list[str], catalog: Catalog, labels: dict[str, str] | None = None) -> None:
        # Outside this class a backend is known by its public spec (credentials in a URL removed):
        # that is what the API returns, the arena stores and the console prints.
        self._real = {public_spec(spec): spec for spec in reversed(specs)}
        self.specs = list(dict.fromkeys(public_spec(spec) for spec in specs))
        self.catalog = catalog
        self.labels = labels or {}
        self._backends: dict[str, Backend] = {}
        self._locks: dict[str, threading.Lock] = {spec: threading.Lock() for spec in self.specs}
        self._guard = threading.Lock()

    def describe(self) -> list[BackendSpec]:
        out = []
        for spec in self.specs:
            backend, target = parse_spec(spec)
            label = target.split("?", 1)[0] if backend != "llama" else spec.split("?", 1)[0]
            out.append(
                BackendSpec(
                    spec=spec,
                    label=self.labels.get(spec, label),
                    backend=backend,
                    catalog_id=self.catalog_id(spec),
                    demo=backend == "mock",
                )
            )
        return out

    def catalog_specs(self) -> dict[str, str]:
        """Catalog id -> the spec that runs it, for the served models the catalog knows."""
        out: dict[str, str] = {}
        for spec in self.specs:
            cid = self.catalog_id(spec)
            if cid is not None and cid not in out:
                out[cid] = self._real[spec]
        return out

    def catalog_id(self, spec: str) -> str | None:
        return catalog_id_for_spec(spec, self.catalog)

    def get(self, spec: str) -> tuple[Backend, threading.Lock]:
        if spec not in self._locks:
            raise HTTPException(404, f"model '{spec}' is not served here; GET /api/backends lists them")
        with self._guard:
            if spec not in self._backends:
                try:
                    self._backends[spec] = load_backend(self._real[spec])
                except LlmatlasError as exc:
                    raise HTTPException(503, scrub(str(exc))) from None
            return self._backends[spec], self._locks[spec]

    def close(self) -> None:
        for b in self._backends.values():
            b.close()
        self._backends.clear()


def _result(spec: str, gen: Generation, pricer: Pricer) -> GenerateResult:
    """A generation as the playground shows it: the same per-output figures a run journals."""
    out = api.priced_output(gen, pricer)
    fields = out.model_dump(exclude={"extra", "error"})  # a backend's extras stay on the server
    return GenerateResult(**fields, model=spec, cost_note=pricer.note, error=scrub(out.error) if out.error else None)


def _status_matches(r: dict[str, Any], status: str) -> bool:
    """The catalog filter on today's API lifecycle ('live' keeps what can still be used)."""
    if status == "all":
        return True
    if status == "live":
        return bool(r["available"])
    if status == "undisclosed":
        return r["status"] is None
    return bool(r["status"] == status)


MAX_ECHO = 200  # characters of an invalid input a 422 repeats


def _secured(response: Response, request: Request) -> Response:
    """The security headers every reply carries, the token guard's 401 included."""
    if request.url.path not in API_DOC_PAGES:  # FastAPI's Swagger/ReDoc pages load their own scripts
        response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _bounded_error(err: Any) -> dict[str, Any]:
    """One validation error with its input cut to ``MAX_ECHO`` characters and made JSON-safe."""
    out = {k: v for k, v in dict(err).items() if k in ("type", "loc", "msg")}
    value = err.get("input")
    if isinstance(value, float) and not math.isfinite(value):
        out["input"] = str(value)
    elif isinstance(value, str | int | float | bool) or value is None:
        out["input"] = value[:MAX_ECHO] + "…" if isinstance(value, str) and len(value) > MAX_ECHO else value
    else:
        text = json.dumps(value, default=str, allow_nan=True)
        out["input"] = text[:MAX_ECHO] + ("…" if len(text) > MAX_ECHO else "")
    return out


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app; tests build it directly, ``llmatlas serve`` runs it with uvicorn."""
    cfg = settings or Settings()
    catalog = load_catalog(cfg.catalog_dirs)
    served, labels = served_models(cfg.models, cfg.demo)
    pool = Pool(served, catalog, labels)
    arena = ArenaStore(cfg.arena_path)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        pool.close()

    app = FastAPI(
        lifespan=lifespan,
        title="llmatlas",
        version=__version__,
        description="Catalog, estimators, leaderboard, playground and arena of llmatlas, as JSON.",
    )
    app.state.settings, app.state.pool, app.state.arena, app.state.catalog = cfg, pool, arena, catalog
    app.include_router(advisor_routes(Advice(catalog, pool, cfg.journal_path)))

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """Token check when exposed beyond loopback; security headers on every response."""
        if cfg.token and request.url.path.startswith("/api/"):
            sent = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            sent = sent or request.cookies.get("llmatlas_token", "") or request.query_params.get("token", "")
            if not secrets.compare_digest(sent, cfg.token):
                denied = JSONResponse({"detail": "missing or wrong token (printed by `llmatlas serve`)"}, 401)
                return _secured(denied, request)
        response = await call_next(request)
        _secured(response, request)
        if cfg.token and request.query_params.get("token") == cfg.token:
            response.set_cookie("llmatlas_token", cfg.token, httponly=True, samesite="strict")
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        """422 in FastAPI's shape, but bounded: the offending input is shortened, never echoed whole,
        and a value JSON cannot carry (NaN, Infinity) is described instead of crashing the reply."""
        return JSONResponse({"detail": [_bounded_error(e) for e in exc.errors()[:20]]}, 422)

    # ------------------------------------------------------------------ catalog and estimators

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        return {"ok": True, "version": __version__, "models": len(catalog)}

    @app.get("/api/models", response_model=ModelList)
    def models(
        q: str | None = Query(None, max_length=200, description="Words to find in id, name, developer, family."),
        developer: str | None = Query(None, max_length=100),
        kind: str | None = Query(None, max_length=20),
        access: str | None = Query(None, pattern="^(api|open_weights|chat_product)$"),
        commercial: str | None = Query(None, pattern="^(yes|no|conditional)$"),
        max_params_b: float | None = Query(None, ge=0),
        status: str = Query(
            "live",
            pattern="^(live|all|active|preview|deprecated|retired|undisclosed)$",
            description="API lifecycle today: 'live' (default) hides models only reachable through a retired API.",
        ),
        sort: str = Query("id", max_length=40, description="A field; '-' for descending (e.g. -mmlu)."),
        limit: int = Query(500, ge=1, le=1000),
    ) -> ModelList:
        try:
            rows = select(catalog, None, sort)
        except LlmatlasError as exc:
            raise unprocessable("sort", exc) from None
        words = (q or "").lower().split()

        def keep(r: dict[str, Any]) -> bool:
            text = " ".join(str(r[k] or "") for k in ("id", "name", "developer", "family")).lower()
            return (
                all(w in text for w in words)
                and (developer is None or r["developer"] == developer)
                and (kind is None or r["kind"] == kind)
                and (access is None or access in r["access"])
                and (commercial is None or r["commercial"] == commercial)
                and (max_params_b is None or (r["params_b"] is not None and r["params_b"] <= max_params_b))
                and _status_matches(r, status)
            )

        hits = [r for r in rows if keep(r)]
        return ModelList(total=len(hits), models=hits[:limit])

    @app.get("/api/models/{model_id}")
    def model(model_id: str) -> dict[str, Any]:
        """Every fact of one model with its source URL, title and date."""
        try:
            return api.model_detail(catalog, model_id).model_dump(mode="json")
        except LlmatlasError as exc:
            raise HTTPException(404, str(exc)) from None

    @app.get("/api/gpus", response_model=list[Hardware])
    def gpus() -> list[Hardware]:
        return list(hardware_table().values())

    @app.get("/api/cost", response_model=list[CostEstimate])
    def cost(
        model: list[str] = Query(..., description="Catalog ids (repeat the parameter)."),  # noqa: B008
        input_tokens: int = Query(..., ge=0, le=10_000_000),
        output_tokens: int = Query(..., ge=0, le=10_000_000),
        requests: int = Query(1, ge=0, le=10**12),
        cached_input_tokens: int = Query(0, ge=0, le=10_000_000),
        offers: Literal["cheapest", "all"] = Query(
            "cheapest", description="Each model's cheapest API offer, or every offer (cheapest first)."
        ),
        provider: str | None = Query(None, max_length=60, description="Only this provider's offer."),
    ) -> list[CostEstimate]:
        out = []
        for mid in model[:50]:
            try:
                rows = api.price(
                    catalog,
                    mid,
                    input_tokens,
                    output_tokens,
                    requests,
                    cached_input_tokens=cached_input_tokens,
                    provider=provider,
                )
            except LlmatlasError as exc:
                field = exc.field if isinstance(exc, InputError) else None
                param = field if field in ("provider", "cached_input_tokens") else "model"
                raise unprocessable(param or "model", exc) from None
            out.extend(rows if offers == "all" else rows[:1])
        return out

    @app.get("/api/memory", response_model=FitResult)
    def memory(
        model: str = Query(..., max_length=200),
        quant: str = Query("fp16", max_length=20),
        context: int | None = Query(None, ge=1, le=10_000_000),
        batch: int = Query(1, ge=1, le=4096),
        gpu: str | None = Query(None, max_length=60),
        count: int = Query(1, ge=1, le=64),
    ) -> FitResult:
        """The same answer as `llmatlas fit --json` (one schema, computed once in llmatlas.api)."""
        try:
            return api.fit(catalog, model, quant=quant, context=context, batch=batch, gpu=gpu, gpus=count)
        except LlmatlasError as exc:
            field = exc.field if isinstance(exc, InputError) and exc.field in ("quant", "gpu") else "model"
            raise unprocessable(field, exc) from None

    # ------------------------------------------------------------------ results

    @app.get("/api/leaderboard", response_model=Leaderboard)
    def board() -> Leaderboard:
        return api.leaderboard(catalog, journal_path=cfg.journal_path, arena=arena)

    # ------------------------------------------------------------------ playground

    @app.get("/api/backends", response_model=list[BackendSpec])
    def backends() -> list[BackendSpec]:
        return pool.describe()

    @app.get("/api/endpoints", response_model=EndpointsInfo)
    def endpoints() -> EndpointsInfo:
        """Where the served models come from and how to add one (the file's path, an example)."""
        return EndpointsInfo(
            file=str(endpoints_path()),
            configured=sorted(labels.values()),
            example=EXAMPLE,
            demo=cfg.demo,
        )

    def request_of(body: GenerateRequest) -> GenerationRequest:
        return GenerationRequest(
            prompt=body.prompt, max_tokens=body.max_tokens, temperature=body.temperature, system=body.system
        )

    @app.post("/api/generate", response_model=GenerateResult)
    def generate(body: GenerateRequest) -> GenerateResult:
        backend, lock = pool.get(body.model)
        with lock:
            gen = backend.generate([request_of(body)])[0]
        return _result(body.model, gen, api.pricer_for_spec(catalog, body.model))

    @app.post(
        "/api/generate/stream",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}, "description": "Server-sent events"}},
    )
    def generate_stream(body: GenerateRequest) -> StreamingResponse:
        """Server-sent events: ``{"type": "delta", "text"}`` as the model writes, then ``{"type":
        "done", ...GenerateResult}`` (or ``{"type": "error", "message"}``)."""
        backend, lock = pool.get(body.model)
        price = api.pricer_for_spec(catalog, body.model)

        def events() -> Iterator[str]:
            start = time.perf_counter()
            first: float | None = None
            try:
                with lock:
                    for item in backend.stream(request_of(body)):
                        if isinstance(item, Generation):
                            item.latency_s = item.latency_s or time.perf_counter() - start
                            item.ttft_s = item.ttft_s if item.ttft_s is not None else first
                            done = _result(body.model, item, price).model_dump()
                            yield f"data: {json.dumps({'type': 'done', **done})}\n\n"
                            return
                        if first is None:
                            first = time.perf_counter() - start
                        yield f"data: {json.dumps({'type': 'delta', 'text': item})}\n\n"
            except Exception as exc:  # shown in the page, never a dropped connection
                yield f"data: {json.dumps({'type': 'error', 'message': scrub(f'{type(exc).__name__}: {exc}')})}\n\n"

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    # ------------------------------------------------------------------ arena

    @app.post("/api/arena/battles", response_model=BattleView)
    def battle(body: BattleRequest) -> BattleView:
        """Two different served models, drawn at random, answer the prompt; their names stay hidden."""
        if len(pool.specs) < 2:
            raise HTTPException(409, "the arena needs at least two models (`llmatlas serve --model SPEC ...`)")
        a, b = random.sample(pool.specs, 2)
        req = GenerationRequest(prompt=body.prompt, max_tokens=body.max_tokens, temperature=0.7)

        def answer(spec: str) -> str:
            backend, lock = pool.get(spec)
            with lock:
                gen = backend.generate([req])[0]
            return gen.text if not gen.error else f"[error: {scrub(gen.error)}]"

        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="arena") as both:  # the two answer at once
            fa, fb = both.submit(answer, a), both.submit(answer, b)
            text_a, text_b = fa.result(), fb.result()
        bid = arena.create_battle(body.prompt, a, b, text_a, text_b)
        return BattleView(id=bid, prompt=body.prompt, answer_a=text_a, answer_b=text_b)

    @app.post("/api/arena/battles/{battle_id}/vote", response_model=VoteResult)
    def vote(battle_id: str, body: VoteRequest) -> VoteResult:
        if arena.battle(battle_id) is None:
            raise HTTPException(404, f"no battle '{battle_id}'")
        try:
            done = arena.vote(battle_id, body.winner)
        except LlmatlasError as exc:  # voted already (the winner itself is validated by VoteRequest)
            raise HTTPException(409, str(exc)) from None
        return VoteResult(id=done.id, winner=body.winner, model_a=done.model_a, model_b=done.model_b)

    @app.get("/api/arena/ratings", response_model=list[Rating])
    def ratings(rounds: int = Query(ARENA_ROUNDS, ge=10, le=2000)) -> list[Rating]:
        return api.arena_ratings(arena, rounds)

    # ------------------------------------------------------------------ pages

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    return app
