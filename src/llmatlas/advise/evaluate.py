"""``recommend --eval``: measure the shortlist here, on the tasks the requirements weight.

A shortlisted model is runnable when it is packaged with llmatlas (SmolLM2, Qwen2.5-Coder), when
its developer's API key is in the environment (``openai:``/``anthropic:`` with the catalog id),
or when the user maps it to a spec (``--eval-model glm-4-9b-chat=openai:glm-4-9b-chat?base_url=…``
for a local vLLM server). The measured scores replace the reported ones and the ranking is redone.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from llmatlas.advise.measured import measurement_of
from llmatlas.advise.quality import category_tasks
from llmatlas.advise.schema import Candidate, Measurement
from llmatlas.backends.embedded import PACKAGED_CATALOG_IDS
from llmatlas.catalog.catalog import Catalog
from llmatlas.catalog.offers import offer_spec, offers_for
from llmatlas.core.errors import InputError, LlmatlasError, option
from llmatlas.engine.events import OnEvent, ignore
from llmatlas.engine.results import RunResult

API_KEYS = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}


@dataclass
class EvalPlan:
    """Which candidate runs as which spec on which tasks; and what could not run, and why."""

    runs: list[tuple[str, str, str]] = field(default_factory=list)  # (catalog id, spec, task)
    skipped: list[str] = field(default_factory=list)


def parse_mapping(items: list[str], catalog: Catalog) -> dict[str, str]:
    """``CATALOG_ID=SPEC`` pairs from the command line."""
    out: dict[str, str] = {}
    for item in items:
        mid, sep, spec = item.partition("=")
        if not sep or not mid.strip() or not spec.strip():
            raise InputError(
                f"{option('eval_model')} '{item}' must be CATALOG_ID=SPEC, e.g. glm-4-9b-chat=openai:glm-4"
            )
        out[catalog.get(mid.strip()).id] = spec.strip()
    return out


def spec_for(model_id: str, developer: str, mapping: dict[str, str]) -> tuple[str | None, str]:
    """A spec to run the model with, or None and why not."""
    if model_id in mapping:
        return mapping[model_id], "given with --eval-model"
    local = {cid: alias for alias, cid in PACKAGED_CATALOG_IDS.items()}
    if model_id in local:
        return local[model_id], "packaged with llmatlas"
    env = API_KEYS.get(developer)
    if env and os.environ.get(env):
        return f"{developer}:{model_id}", f"{env} is set"
    if env:
        return None, f"set {env} or pass --eval-model {model_id}=SPEC"
    return None, f"not runnable here: pass --eval-model {model_id}=SPEC (e.g. an OpenAI-compatible server)"


def tasks_for(weights: dict[str, float]) -> list[str]:
    """The llmatlas tasks that measure the weighted categories (in weight order)."""
    out: list[str] = []
    for cat, _ in sorted(weights.items(), key=lambda kv: -kv[1]):
        for task in category_tasks().get(cat, ()):
            if task not in out:
                out.append(task)
    return out


def hosted_spec_for(c: Candidate, catalog: Catalog) -> tuple[str | None, str]:
    """The spec that calls a candidate's hosted offer, when its provider's key is in the environment."""
    offer = next(
        (
            o
            for o in offers_for(catalog, catalog.get(c.model))
            if o.provider == c.provider and o.provider_model_id == c.provider_model_id
        ),
        None,
    )
    prov = catalog.providers.get(c.provider or "")
    spec = offer_spec(catalog, offer) if offer is not None else None
    if spec is None or prov is None:
        return None, f"{c.provider} documents no OpenAI-compatible endpoint: pass --eval-model {c.model}=SPEC"
    if not os.environ.get(prov.key_env):
        return None, f"set {prov.key_env} (your {prov.name} key) or pass --eval-model {c.model}=SPEC"
    return spec, f"{prov.key_env} is set"


def plan_evals(
    shortlist: list[Candidate], weights: dict[str, float], mapping: dict[str, str], catalog: Catalog | None = None
) -> EvalPlan:
    """Which shortlisted candidate runs where: a hosted API candidate through its provider's endpoint
    (so the measured speed is that offer's), others as :func:`spec_for` says."""
    plan = EvalPlan()
    tasks = tasks_for(weights)
    if not tasks:
        plan.skipped.append("none of the weighted task categories has a benchmark llmatlas can run")
        return plan
    for c in shortlist:
        hosted = c.deployment == "api" and c.provider is not None and c.provider != c.developer
        if hosted and catalog is not None and c.model not in mapping:
            spec, why = hosted_spec_for(c, catalog)
        else:
            spec, why = spec_for(c.model, c.developer, mapping)
        if spec is None:
            plan.skipped.append(f"{c.model}: {why}")
            continue
        plan.runs.extend((c.model, spec, t) for t in tasks)
    return plan


def run_evals(
    plan: EvalPlan,
    catalog: Catalog,
    limit: int | None,
    data_dir: str | None,
    on_event: OnEvent | None = None,
    runner: Callable[[str, str, int | None, str | None, OnEvent, str], RunResult] | None = None,
) -> tuple[list[Measurement], list[str]]:
    """Run the plan; a run that fails (missing data, server down) is reported, not fatal."""
    run = runner or _run_one
    measured: list[Measurement] = []
    problems: list[str] = []
    for model_id, spec, task in plan.runs:
        try:
            result = run(spec, task, limit, data_dir, on_event or ignore, model_id)
        except LlmatlasError as exc:
            problems.append(f"{model_id} on {task}: {exc}")
            continue
        result.config = {**result.config, "catalog_id": model_id}
        m = measurement_of(result, catalog)
        if m is not None:
            measured.append(m)
    return measured, problems


def _run_one(
    spec: str, task: str, limit: int | None, data_dir: str | None, on_event: OnEvent, catalog_id: str
) -> RunResult:
    from llmatlas.engine.runner import EvalConfig, evaluate

    config = EvalConfig(limit=limit, data_dir=data_dir, catalog_id=catalog_id)
    (result,) = evaluate(spec, [task], config, on_event=on_event)
    return result
