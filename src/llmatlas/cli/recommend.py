"""``llmatlas recommend``: requirements file → ranked, explained shortlist → reports."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from rich.console import Console

from llmatlas.advise.advisor import recommend
from llmatlas.advise.evaluate import parse_mapping, plan_evals, run_evals
from llmatlas.advise.measured import api_speed, best_measurements, stored_results
from llmatlas.advise.requirements import load_requirements
from llmatlas.advise.schema import Recommendation
from llmatlas.catalog.catalog import Catalog

EXAMPLES = Path(__file__).resolve().parents[1] / "advise" / "examples"


def example_names() -> list[str]:
    return sorted(p.stem for p in EXAMPLES.glob("*.yaml"))


def resolve_requirements(path: str | Path) -> Path:
    """A requirements file, or the name of a packaged example (``customer_support_chatbot``)."""
    p = Path(path)
    if p.exists() or p.suffix:
        return p
    example = EXAMPLES / f"{p.name}.yaml"
    return example if example.exists() else p


def run_recommend(
    path: str | Path,
    cat: Catalog,
    *,
    use_store: bool = True,
    evaluate: bool = False,
    eval_models: list[str] | None = None,
    eval_limit: int | None = 100,
    data_dir: str | None = None,
    console: Console | None = None,
    as_of: dt.date | None = None,
) -> Recommendation:
    """Rank the catalog for a requirements file; with ``evaluate``, measure the shortlist first.

    ``as_of`` replays the decision on a past date (it overrides the file's own ``as_of``).
    """
    path = resolve_requirements(path)
    req = load_requirements(path)
    if as_of is not None:
        req = req.model_copy(update={"as_of": as_of})
    mapping = parse_mapping(eval_models or [], cat)
    results = stored_results() if use_store else []
    measured = best_measurements(results, cat)
    speeds = api_speed(results, cat)
    rec = recommend(req, cat, measurements=measured, api_speeds=speeds, requirements_path=path)
    if not evaluate:
        return rec
    plan = plan_evals(rec.shortlist, req.task_weights, mapping, cat)
    if console is not None:
        for why in plan.skipped:
            console.print(f"[dim]--eval: skipped {why}[/dim]")
        if plan.runs:
            console.print(f"--eval: {len(plan.runs)} runs ({eval_limit or 'all'} items each) on the shortlist")
    new, problems = run_evals(plan, cat, eval_limit, data_dir, console)
    for m in new:
        measured[(m.model, m.benchmark)] = m  # this run's figure, whatever the store had
    rec = recommend(req, cat, measurements=measured, api_speeds=speeds, requirements_path=path)
    rec.extra["eval"] = {
        "runs": [m.run_id for m in new],
        "skipped": plan.skipped,
        "problems": problems,
        "limit": eval_limit,
    }
    return rec
