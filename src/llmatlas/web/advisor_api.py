"""The advisor in the browser: requirements in (an example, an uploaded file, a form), the
recommendation out, with its charts and downloads, and "measure the shortlist" streamed.

A recommendation is kept in memory under an id (the last ``KEEP``), so its downloads are plain
GET links and are the answer the page shows, including a re-ranking after measurement.
"""

from __future__ import annotations

import base64
import json
import queue
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response, StreamingResponse

from llmatlas import api
from llmatlas.advise.evaluate import plan_evals
from llmatlas.advise.filters import filter_name
from llmatlas.advise.requirements import (
    EXAMPLES_DIR,
    InvalidRequirements,
    Requirements,
    checked_requirements,
    example_names,
    load_requirements,
    parse_requirements,
    requirements_yaml,
)
from llmatlas.advise.schema import Recommendation
from llmatlas.backends.registry import public_spec
from llmatlas.catalog.catalog import Catalog
from llmatlas.core.errors import LlmatlasError
from llmatlas.engine.events import RunEvent, RunFinished, RunStarted, StepSaved
from llmatlas.report import render
from llmatlas.report.charts import build_charts
from llmatlas.web.schemas import (
    AdviceRequest,
    AdviceView,
    ChartView,
    CheckRequest,
    CheckResult,
    ExampleInfo,
    FieldProblem,
    MeasurePlan,
    MeasureRequest,
)

if TYPE_CHECKING:
    from llmatlas.web.app import Pool

KEEP = 32  # recommendations kept for their downloads and for measuring
REPORTS: dict[str, tuple[str, str, str]] = {  # format -> (renderer's name, media type, file suffix)
    "html": ("html", "text/html; charset=utf-8", "html"),
    "md": ("markdown", "text/markdown; charset=utf-8", "md"),
    "json": ("json", "application/json", "json"),
}


def _svg_data_url(svg: str) -> str:
    """A chart as an image URL: the page shows it with <img>, so nothing in it can run."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def problems_detail(exc: InvalidRequirements) -> list[dict[str, Any]]:
    """A 422's detail in FastAPI's shape, each with the uploaded file's line."""
    return [
        {"type": "value_error", "loc": ["body", "yaml", *p.loc], "msg": p.msg, "line": p.line} for p in exc.problems
    ]


class Advice:
    """Recommendations by id, and what measuring one would run."""

    def __init__(self, catalog: Catalog, pool: Pool, journal_path: str | None) -> None:
        self.catalog = catalog
        self.pool = pool
        self.journal_path = journal_path
        self._kept: OrderedDict[str, AdviceView] = OrderedDict()
        self._guard = threading.Lock()
        self.measuring = threading.Lock()  # one measurement at a time: it loads models and runs them

    def requirements_of(self, body: AdviceRequest) -> Requirements:
        if body.requirements is not None:
            return body.requirements
        if body.yaml is not None:
            try:
                return parse_requirements(body.yaml, body.filename or "requirements.yaml")
            except InvalidRequirements as exc:
                raise HTTPException(422, problems_detail(exc)) from None
        name = body.example or ""
        if name not in example_names():
            raise HTTPException(
                422, [{"type": "value_error", "loc": ["body", "example"], "msg": f"no shipped example '{name}'"}]
            )
        return load_requirements(EXAMPLES_DIR / f"{name}.yaml")

    def eval_models(self) -> list[str]:
        """Served models with a catalog entry, as ``CATALOG_ID=SPEC``: measuring may run them."""
        return [f"{cid}={spec}" for cid, spec in self.pool.catalog_specs().items()]

    def plan(self, rec: Recommendation) -> MeasurePlan:
        p = plan_evals(rec.shortlist, rec.requirements.task_weights, self.pool.catalog_specs(), self.catalog)
        runs = [{"model": m, "spec": public_spec(spec), "task": t} for m, spec, t in p.runs]
        return MeasurePlan(runs=runs, skipped=p.skipped)

    def keep(self, rec: Recommendation) -> AdviceView:
        rid = uuid.uuid4().hex[:12]
        charts = [
            ChartView(key=c.key, title=c.title, caption=c.caption, image=_svg_data_url(c.svg))
            for c in build_charts(rec)
        ]
        downloads = {fmt: f"/api/advisor/{rid}/report.{suffix}" for fmt, (_, _, suffix) in REPORTS.items()}
        downloads["requirements"] = f"/api/advisor/{rid}/requirements.yaml"
        view = AdviceView(
            id=rid,
            recommendation=rec,
            requirements_yaml=requirements_yaml(rec.requirements),
            charts=charts,
            downloads=downloads,
            measure=self.plan(rec),
            filter_names={e.filter: filter_name(e.filter) for e in rec.excluded},
        )
        with self._guard:
            self._kept[rid] = view
            while len(self._kept) > KEEP:
                self._kept.popitem(last=False)
        return view

    def get(self, rid: str) -> AdviceView:
        with self._guard:
            found = self._kept.get(rid)
        if found is None:
            raise HTTPException(404, f"no recommendation '{rid}' here (the server keeps the last {KEEP})")
        return found

    def recommend(self, req: Requirements, **kw: Any) -> AdviceView:
        try:
            rec = api.recommend(req, self.catalog, journal_path=self.journal_path, **kw)
        except LlmatlasError as exc:  # an unknown model id in `models`, a bad date: the input's fault
            raise HTTPException(422, [{"type": "value_error", "loc": ["body"], "msg": str(exc)}]) from None
        return self.keep(rec)


def _event(kind: str, **data: Any) -> str:
    return f"data: {json.dumps({'type': kind, **data}, default=str)}\n\n"


def _progress(send: Callable[[str], None]) -> Callable[[RunEvent], None]:
    """Run events as the page's progress: a run's start, each saved step, its end."""

    def on(e: RunEvent) -> None:
        if isinstance(e, RunStarted):
            send(_event("run", task=e.task, model=e.model, run_id=e.run_id, total=e.total, done=e.done))
        elif isinstance(e, StepSaved):
            send(_event("progress", task=e.task, run_id=e.run_id, done=e.done, todo=e.todo))
        elif isinstance(e, RunFinished):
            r = e.result
            send(_event("finished", task=e.task, run_id=e.run_id, n=r.n, items_per_s=r.timing.items_per_s))

    return on


def advisor_routes(advice: Advice) -> APIRouter:
    router = APIRouter(prefix="/api/advisor", tags=["advisor"])

    @router.get("/examples", response_model=list[ExampleInfo])
    def examples() -> list[ExampleInfo]:
        """The shipped requirements files, with their text (the page starts from one)."""
        out = []
        for name in example_names():
            path = EXAMPLES_DIR / f"{name}.yaml"
            req = load_requirements(path)
            out.append(
                ExampleInfo(
                    name=name, title=req.name, use_case=req.use_case, yaml=path.read_text("utf-8"), requirements=req
                )
            )
        return out

    @router.post("/check", response_model=CheckResult)
    def check(body: CheckRequest) -> CheckResult:
        """Validate requirements without ranking: the page marks each mistake next to its field
        (or lists it with the uploaded file's line) before it asks for a recommendation."""
        try:
            if body.yaml is not None:
                req = parse_requirements(body.yaml, body.filename or "requirements.yaml")
            else:
                req = checked_requirements(body.requirements)
        except InvalidRequirements as exc:
            found = [FieldProblem(loc=list(p.loc), msg=p.msg, line=p.line) for p in exc.problems]
            return CheckResult(ok=False, problems=found)
        return CheckResult(ok=True, problems=[], requirements=req)

    @router.post("/recommend", response_model=AdviceView, responses={422: {"description": "Invalid requirements"}})
    def recommend(body: AdviceRequest) -> AdviceView:
        """Rank the catalog for the requirements: give exactly one of ``example``, ``yaml`` (a file's
        text; errors carry its line) or ``requirements`` (the form, as JSON)."""
        return advice.recommend(advice.requirements_of(body))

    @router.get("/{rid}", response_model=AdviceView)
    def kept(rid: str) -> AdviceView:
        return advice.get(rid)

    @router.get(
        "/{rid}/report.{fmt}",
        response_class=Response,
        responses={200: {"content": {m: {} for _, m, _ in REPORTS.values()}, "description": "The report file"}},
    )
    def report(rid: str, fmt: Literal["html", "md", "json"]) -> Response:
        """The report as the command line writes it (``recommend --report FILE``), as a download."""
        view = advice.get(rid)
        renderer, media, suffix = REPORTS[fmt]
        text = render(view.recommendation, renderer)
        name = f"llmatlas-recommendation-{rid}.{suffix}"
        return Response(text, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @router.get(
        "/{rid}/requirements.yaml",
        response_class=Response,
        responses={200: {"content": {"application/yaml": {}}, "description": "The requirements file"}},
    )
    def requirements(rid: str) -> Response:
        """The requirements as a file for ``llmatlas recommend FILE``."""
        view = advice.get(rid)
        headers = {"Content-Disposition": 'attachment; filename="requirements.yaml"'}
        return Response(view.requirements_yaml, media_type="application/yaml", headers=headers)

    @router.post(
        "/{rid}/measure",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}, "description": "Server-sent events"}},
    )
    def measure(rid: str, body: MeasureRequest) -> StreamingResponse:
        """Run the weighted tasks on the shortlisted models this server can reach, then rank again.
        Events: ``run``/``progress``/``finished`` per run, ``message`` lines, then ``done`` with the
        new recommendation (a new id), or ``error``."""
        from llmatlas.web.app import scrub  # the app module imports this one

        req = advice.get(rid).recommendation.requirements
        if not advice.measuring.acquire(blocking=False):
            raise HTTPException(409, "a measurement is already running; wait for it to finish")
        events: queue.Queue[str | None] = queue.Queue()

        def work() -> None:
            try:
                view = advice.recommend(
                    req,
                    eval_shortlist=True,
                    eval_models=advice.eval_models(),
                    eval_limit=body.limit,
                    on_message=lambda text: events.put(_event("message", text=text)),
                    on_event=_progress(events.put),
                )
                events.put(_event("done", **view.model_dump(mode="json")))
            except HTTPException as exc:
                events.put(_event("error", message=scrub(str(exc.detail))))
            except (LlmatlasError, OSError) as exc:
                events.put(_event("error", message=scrub(f"{type(exc).__name__}: {exc}")))
            finally:
                advice.measuring.release()
                events.put(None)

        threading.Thread(target=work, name="advisor-measure", daemon=True).start()

        def stream() -> Iterator[str]:
            while (item := events.get()) is not None:
                yield item

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    return router
