"""The public library API: what the CLI, the web UI and scripts call, with typed answers.

Each function does the work once (the estimators, the catalog's offers); the CLI and the web only
parse their input, call it and render or serialize the answer, so ``llmatlas fit --json`` and the
web's ``/api/memory`` are the same :class:`FitResult`.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, Field

from llmatlas.catalog.catalog import Catalog
from llmatlas.catalog.lifecycle import lifecycle_on
from llmatlas.catalog.loader import load_text
from llmatlas.catalog.offers import offer_summary, offers_for
from llmatlas.catalog.query import row
from llmatlas.catalog.schema import Model
from llmatlas.core.errors import InputError, LlmatlasError, option
from llmatlas.core.paths import user_models_dir
from llmatlas.engine.results import PairedComparison, RunRecord, RunResult
from llmatlas.estimate.breakeven import BreakEven
from llmatlas.estimate.breakeven import break_even as _break_even
from llmatlas.estimate.cost import CostEstimate, offer_costs
from llmatlas.estimate.hardware import get_hardware, parse_size
from llmatlas.estimate.memory import DEFAULT_OVERHEAD_BYTES, MemoryEstimate, estimate_memory, weights_bytes
from llmatlas.estimate.speed import SERVING_EFFICIENCY, SpeedBound, speed_bounds

if TYPE_CHECKING:
    from llmatlas.advise.leaderboard import Leaderboard
    from llmatlas.advise.requirements import Requirements
    from llmatlas.advise.schema import Recommendation
    from llmatlas.arena.ratings import Rating
    from llmatlas.arena.store import ArenaStore
    from llmatlas.backends.base import Generation
    from llmatlas.engine.campaign import CampaignModel, Rollup
    from llmatlas.engine.distributed import Resources
    from llmatlas.engine.events import OnEvent
    from llmatlas.engine.outputs import Pricer
    from llmatlas.engine.plan import EvalPlan
    from llmatlas.engine.results import Output
    from llmatlas.engine.runner import EvalConfig
    from llmatlas.market.check import CheckReport
    from llmatlas.market.sync import SyncResult
    from llmatlas.tasks.mt_bench import PairwiseResult

# The answers `fit` always gives, whatever was asked: a gaming card, a laptop, a datacenter GPU.
STANDARD_TARGETS = {"24 GB GPU": "rtx-4090", "16 GB laptop": "laptop-16gb", "80 GB H100": "h100-sxm"}
DEFAULT_TARGET = "24 GB GPU"


class FitResult(BaseModel):
    """Memory to run a model and whether it fits: the estimate, the target it was checked against,
    the standard targets, and (with a named GPU) the decode/prefill bounds.

    The flat byte counts repeat ``estimate``'s for scripts written against `fit --json` before the
    web and the CLI shared this schema.
    """

    model: str
    estimate: MemoryEstimate
    weights_bytes: int | None
    kv_cache_bytes: int | None
    overhead_bytes: int
    total_bytes: int | None
    quant: str
    bits_per_weight: float
    context: int
    batch: int
    kv_dtype: str
    params_b: float | None
    target: str  # "24 GB GPU", "2× NVIDIA H100 SXM 80GB", "16GiB"
    target_bytes: int
    hardware: str | None = None  # hardware id when a GPU was named
    hardware_name: str | None = None  # its name ("NVIDIA H100 SXM 80GB")
    gpus: int = 1
    available_bytes: int  # same as target_bytes (the web's name)
    fits: bool | None  # None when a needed fact is undisclosed
    fits_on: dict[str, bool | None] = Field(default_factory=dict)
    speed: SpeedBound | None = None
    notes: list[str] = Field(default_factory=list)


def fit(
    catalog: Catalog,
    model_id: str,
    *,
    quant: str = "fp16",
    context: int | None = None,
    batch: int = 1,
    memory: str | None = None,
    gpu: str | None = None,
    gpus: int = 1,
    kv_dtype: str = "fp16",
    overhead: str | None = None,
) -> FitResult:
    """Weights + KV cache + overhead of ``model_id`` at ``quant``, checked against ``memory`` or
    ``gpus`` × ``gpu`` (a 24 GB GPU by default); bad input raises InputError naming the field."""
    if memory and gpu:
        raise InputError(f"give {option('memory')} or {option('gpu')}, not both", field="memory")
    m = catalog.get(model_id)
    over = parse_size(overhead) if overhead else DEFAULT_OVERHEAD_BYTES
    est = estimate_memory(m, quant=quant, context=context, batch=batch, kv_dtype=kv_dtype, overhead_bytes=over)
    hw = get_hardware(gpu) if gpu else None
    target_name, target = DEFAULT_TARGET, get_hardware(STANDARD_TARGETS[DEFAULT_TARGET]).memory_bytes
    if memory:
        target_name, target = memory, parse_size(memory)
    elif hw:
        target_name, target = f"{gpus}× {hw.name}", hw.memory_bytes * gpus
    total = est.total_bytes
    speed = speed_bounds(m, hw, quant=quant, context=est.context, batch=batch) if hw else None
    if speed and gpus > 1 and speed.decode_tokens_per_s:
        speed.notes.append("bounds are for one GPU; tensor parallelism adds communication cost")
    return FitResult(
        model=m.id,
        estimate=est,
        weights_bytes=est.weights_bytes,
        kv_cache_bytes=est.kv_cache_bytes,
        overhead_bytes=est.overhead_bytes,
        total_bytes=total,
        quant=est.quant,
        bits_per_weight=est.bits_per_weight,
        context=est.context,
        batch=est.batch,
        kv_dtype=est.kv_dtype,
        params_b=est.params_b,
        target=target_name,
        target_bytes=target,
        hardware=hw.id if hw else None,
        hardware_name=hw.name if hw else None,
        gpus=gpus,
        available_bytes=target,
        fits=None if total is None else total <= target,
        fits_on={
            name: (None if total is None else total <= get_hardware(hid).memory_bytes)
            for name, hid in STANDARD_TARGETS.items()
        },
        speed=speed,
        notes=est.notes,
    )


def price(
    catalog: Catalog,
    model_id: str,
    input_tokens: int,
    output_tokens: int,
    requests: int = 1,
    *,
    cached_input_tokens: int = 0,
    cache_write_tokens: int = 0,
    batch_api: bool = False,
    on: dt.date | None = None,
    provider: str | None = None,
) -> list[CostEstimate]:
    """The workload's cost at every API offer of the model, cheapest first (see ``offer_costs``)."""
    if cached_input_tokens + cache_write_tokens > input_tokens:
        raise InputError("cached input plus cache-write tokens cannot exceed input tokens", field="cached_input_tokens")
    return offer_costs(
        catalog,
        catalog.get(model_id),
        input_tokens,
        output_tokens,
        requests,
        cached_input_tokens,
        on,
        cache_write_tokens=cache_write_tokens,
        batch_api=batch_api,
        provider=provider,
    )


class BreakEvenResult(BreakEven):
    """Self-hosting an open model vs paying for an API model (its cheapest offer, or a provider's)."""

    api_model: str
    api_provider: str | None
    api_provider_model_id: str | None
    api_first_party: bool
    open_model: str
    gpu: str
    gpu_name: str
    gpu_hour_usd: float
    gpu_price_basis: str  # "your gpu_hour_usd", or the hardware table's offer and date


def break_even(
    catalog: Catalog,
    api_model: str,
    open_model: str,
    *,
    gpu: str = "h100-sxm",
    gpu_hour_usd: float | None = None,
    quant: str = "fp16",
    requests_per_month: float = 1_000_000,
    input_tokens: int = 1000,
    output_tokens: int = 300,
    batch: int = 16,
    throughput: float | None = None,
    utilization: float = 0.6,
    provider: str | None = None,
) -> BreakEvenResult:
    """Monthly cost of each side and the volume where self-hosting becomes cheaper. Throughput is
    measured (``throughput``) or the roofline bound × the serving efficiency the advisor uses."""
    api_m, open_m = catalog.get(api_model), catalog.get(open_model)
    hw = get_hardware(gpu)
    mem = estimate_memory(open_m, quant=quant, context=input_tokens + output_tokens, batch=batch)
    min_gpus = 1
    if mem.total_bytes is not None:
        min_gpus = max(1, -(-mem.total_bytes // hw.memory_bytes))
    if gpu_hour_usd is not None:  # the user's price wins
        rate, basis = gpu_hour_usd, "your gpu_hour_usd"
    elif (choice := hw.rental_price(min_gpus)) is not None:  # the table's rule, for one copy's GPUs
        rate, basis = choice.usd_per_hour, choice.basis
    else:
        why = f" ({hw.price_note})" if hw.price_note else ""
        raise InputError(
            f"no price per hour known for {hw.id}{why}; give {option('gpu_hour_usd')}", field="gpu_hour_usd"
        )
    per_req = offer_costs(catalog, api_m, input_tokens, output_tokens, provider=provider)[0]  # cheapest offer
    if per_req.total_usd is None:
        raise InputError(f"{api_m.id}: {per_req.reason}; cannot compare", field="api_model")
    notes = []
    if throughput is None:
        bound = speed_bounds(open_m, hw, quant=quant, context=input_tokens + output_tokens, batch=batch)
        if bound.decode_tokens_per_s_total is None:
            raise InputError(
                f"cannot bound throughput (undisclosed size); give {option('throughput')}", field="throughput"
            )
        throughput = bound.decode_tokens_per_s_total * SERVING_EFFICIENCY
        notes.append(
            f"throughput = {SERVING_EFFICIENCY:.0%} of the roofline bound {bound.decode_tokens_per_s_total:,.0f} "
            f"tok/s (batch {batch})"
        )
    be = _break_even(per_req.total_usd, requests_per_month, rate, output_tokens, throughput, min_gpus, utilization)
    size = "undisclosed" if mem.total_bytes is None else f"{mem.total_bytes / 1024**3:,.2f} GiB"
    be.notes = [*notes, *be.notes, f"{open_m.id} at {quant} needs ≥ {min_gpus} × {hw.id} ({size})"]
    return BreakEvenResult(
        **be.model_dump(),
        api_model=api_m.id,
        api_provider=per_req.provider,
        api_provider_model_id=per_req.provider_model_id,
        api_first_party=per_req.first_party,
        open_model=open_m.id,
        gpu=hw.id,
        gpu_name=hw.name,
        gpu_hour_usd=rate,
        gpu_price_basis=basis,
    )


def evaluate(
    spec: str,
    tasks: Sequence[str],
    *,
    limit: int | None = None,
    num_fewshot: int | None = None,
    data_dir: str | None = None,
    samples: int | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    judge: str | None = None,
    catalog: Catalog | None = None,
    catalog_dirs: Sequence[str | Path] = (),
    catalog_id: str | None = None,
    journal_path: str | Path | None = None,
    on_event: OnEvent | None = None,
    out_dir: Path | None = None,
    chunk: int | None = None,
) -> list[RunResult]:
    """Run ``tasks`` on the model ``spec`` names (``smollm2``, ``llama:x.gguf``, ``openai:…``), journaled
    and resumable; a generation run against an API is priced with ``catalog`` (its offers).

    ``on_event`` receives the run's progress (``llmatlas.engine.events``); ``out_dir`` receives each
    result and its per-sample records."""
    from llmatlas.engine.events import ignore
    from llmatlas.engine.runner import evaluate as run_evaluation  # imported when used: keeps the CLI quick

    config = _eval_config(
        limit, num_fewshot, data_dir, samples, temperature, max_tokens, catalog, catalog_dirs, catalog_id, chunk
    )
    return run_evaluation(
        spec,
        tasks,
        config,
        judge=judge,
        journal_path=journal_path,
        on_event=on_event or ignore,
        out_dir=out_dir,
    )


class Comparison(PairedComparison):
    """Run B against run A on the items both scored (paired bootstrap of B − A)."""

    run_a: str
    model_a: str
    run_b: str
    model_b: str
    task: str


def compare_runs(
    run_a: str,
    run_b: str,
    *,
    metric: str = "acc",
    resamples: int = 10_000,
    journal_path: str | Path | None = None,
) -> Comparison:
    """Is B's difference from A real? Runs are named by id or unique prefix, as `llmatlas results` lists them."""
    from llmatlas.engine.journal import Journal
    from llmatlas.engine.stats import paired_bootstrap

    jr = Journal(journal_path)
    try:
        ra, rb = jr.result(run_a), jr.result(run_b)
        sa = {s.doc_id: s for s in jr.samples(ra.run_id)}
        sb = {s.doc_id: s for s in jr.samples(rb.run_id)}
    finally:
        jr.close()
    if ra.task != rb.task:
        raise InputError(f"runs are on different tasks ({ra.task} vs {rb.task})", field="run")
    common = [d for d in sa if d in sb]
    if not common:
        raise InputError("the runs share no scored items", field="run")
    if metric not in sa[common[0]].metrics:
        raise InputError(
            f"metric '{metric}' not in these runs; have {', '.join(sa[common[0]].metrics)}", field="metric"
        )
    cmp = paired_bootstrap(
        [sa[d].metrics[metric] for d in common], [sb[d].metrics[metric] for d in common], metric, resamples
    )
    return Comparison(
        **cmp.model_dump(), run_a=ra.run_id, model_a=ra.model, run_b=rb.run_id, model_b=rb.model, task=ra.task
    )


class ImportResult(BaseModel):
    """A catalog entry built from a local model file, validated, and where it was saved."""

    model: str
    saved_to: str | None
    weights_estimate_bytes: int | None
    file_bytes: int | None
    entry: Model
    yaml: str  # the user-catalog file, as written (or as it would be)
    memory: MemoryEstimate | None = None  # with ``context``: weights + KV cache + overhead at that length


def import_model(
    path: str | Path, model_id: str | None = None, *, save: bool = True, context: int | None = None
) -> ImportResult:
    """Read a GGUF, a Hugging Face ``config.json`` or a model folder (``smollm2`` = the embedded
    model) into a catalog entry; validated by the catalog loader before anything is written, and
    written atomically to the user catalog folder when ``save``. With ``context``, ``memory`` is the
    memory to run the file's quantization at that many tokens."""
    from llmatlas.backends.embedded import EMBEDDED_ALIAS, smollm2_path
    from llmatlas.catalog.importers import import_file

    file = smollm2_path() if str(path) == EMBEDDED_ALIAS else Path(path)
    entry = import_file(file, model_id)
    doc = {"developer": {"id": "local", "name": "Local imports"}, "models": [entry]}
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    m = load_text(text, f"<import of {file}>").models[0]  # validate before writing anything
    out_path = None
    if save:
        out_dir = user_models_dir()
        out_dir.mkdir(parents=True, exist_ok=True)
        out_path = out_dir / f"{m.id}.yaml"
        tmp = out_path.with_suffix(".yaml.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out_path)
    q = m.quantizations[0] if m.quantizations else None
    est = weights_bytes(m.total_params_b, q.bits_per_weight) if q and q.bits_per_weight and m.total_params_b else None
    return ImportResult(
        model=m.id,
        saved_to=str(out_path) if out_path else None,
        weights_estimate_bytes=est,
        file_bytes=q.file_bytes if q else None,
        entry=m,
        yaml=text,
        memory=_memory_of(m, context) if context else None,
    )


def _memory_of(m: Model, context: int) -> MemoryEstimate:
    """Memory to run an imported entry at its own quantization (the file's bits per weight)."""
    q = m.quantizations[0] if m.quantizations else None
    if q is None:
        return estimate_memory(m, context=context)
    return estimate_memory(m, quant=q.name, context=context, bpw=q.bits_per_weight)


def plan_eval(
    spec: str,
    tasks: Sequence[str],
    *,
    limit: int | None = None,
    num_fewshot: int | None = None,
    data_dir: str | None = None,
    samples: int | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    judge: str | None = None,
    catalog: Catalog | None = None,
    catalog_dirs: Sequence[str | Path] = (),
    catalog_id: str | None = None,
    journal_path: str | Path | None = None,
    probe_items: int = 4,
) -> EvalPlan:
    """What :func:`evaluate` with the same arguments would do — tokens, time here, API cost — without
    running or journaling anything (a local model runs ``probe_items`` samples to time itself)."""
    from llmatlas.engine.plan import plan_run

    config = _eval_config(
        limit, num_fewshot, data_dir, samples, temperature, max_tokens, catalog, catalog_dirs, catalog_id
    )
    return plan_run(spec, tasks, config, judge=judge, journal_path=journal_path, probe_items=probe_items)


def _eval_config(
    limit: int | None,
    num_fewshot: int | None,
    data_dir: str | None,
    samples: int | None,
    temperature: float | None,
    max_tokens: int | None,
    catalog: Catalog | None,
    catalog_dirs: Sequence[str | Path],
    catalog_id: str | None,
    chunk: int | None = None,
) -> EvalConfig:
    from llmatlas.engine.runner import EvalConfig

    return EvalConfig(
        limit=limit,
        num_fewshot=num_fewshot,
        chunk=chunk,
        data_dir=data_dir,
        samples=samples,
        temperature=temperature,
        max_tokens=max_tokens,
        catalog_id=catalog_id,
        catalog=catalog,
        catalog_dirs=tuple(str(d) for d in catalog_dirs),
    )


class TaskRow(BaseModel):
    """A built-in task as ``llmatlas tasks`` lists it: what it measures and where its data is."""

    task: str
    method: str
    metrics: list[str]
    num_fewshot: int
    benchmark: str | None = None  # the catalog benchmark its results count as
    metric: str | None = None
    category: str | None = None  # the advisor category recommend --eval runs it for
    summary: str = ""
    local_file: str | None = None
    hub: str | None = None


def tasks(data_dir: str | None = None) -> list[TaskRow]:
    """Every registered task with its metadata and the local file it would read (None: hub or --data-dir)."""
    from llmatlas.tasks.datasets import find_file
    from llmatlas.tasks.registry import registered

    out = []
    for name, info in registered().items():
        t = info.factory()
        path = find_file(t.files, data_dir) if t.files else None
        out.append(
            TaskRow(
                task=name,
                method=t.method,
                metrics=list(t.metrics),
                num_fewshot=t.num_fewshot,
                benchmark=info.benchmark,
                metric=info.metric,
                category=info.category,
                summary=info.summary,
                local_file=str(path) if path else None,
                hub=t.hub[0] if t.hub else None,
            )
        )
    return out


# --------------------------------------------------------------------------- catalog


class ModelDetail(BaseModel):
    """One model as `show --json` and the web's model page give it: its flat catalog row, every
    fact with its source (URL and title), its lifecycle on the date and every API offer."""

    row: dict[str, Any]
    facts: dict[str, Any]
    lifecycle: dict[str, Any]  # the state on the date, its text, and its source as a URL
    offers: list[dict[str, Any]]


def model_detail(catalog: Catalog, model_id: str, on: dt.date | None = None) -> ModelDetail:
    """Every fact of ``model_id`` with its source, its status on ``on`` (today) and its offers."""
    m = catalog.get(model_id)
    state = lifecycle_on(m, on)
    lifecycle = {**state.model_dump(mode="json"), "text": state.text()}
    if state.source:
        lifecycle["source"] = catalog.source_url(m, state.source)
    return ModelDetail(
        row=row(m, on),
        facts=catalog.dump(m, titles=True),
        lifecycle=lifecycle,
        offers=[offer_summary(catalog, m, o, on) for o in offers_for(catalog, m)],
    )


def check_catalog(catalog: Catalog, sources: Sequence[tuple[str, str | None]]) -> CheckReport:
    """Compare the catalog with public datasets, each ``(name, file or None)`` (None: its package or URL)."""
    from llmatlas.market.check import check
    from llmatlas.market.load import load_snapshot

    return check([load_snapshot(name, file=path) for name, path in sources], catalog)


def sync_catalog(
    source: str,
    *,
    file: str | Path | None = None,
    url: str | None = None,
    catalog_dirs: Sequence[str | Path] = (),
    with_models: bool = False,
    dry_run: bool = False,
) -> SyncResult:
    """Write labelled proposals for what the catalog lacks into the user catalog folder; the catalog
    they are compared with is loaded without the dataset's earlier proposals."""
    from llmatlas.catalog.catalog import load_catalog
    from llmatlas.market.load import load_snapshot
    from llmatlas.market.sync import overlay_paths, write_overlay

    snap = load_snapshot(source, file=file, url=url)
    directory = user_models_dir()
    cat = load_catalog(list(catalog_dirs), skip=overlay_paths(directory, snap.dataset))
    return write_overlay(snap, cat, directory, with_models=with_models, dry_run=dry_run)


# --------------------------------------------------------------------------- results store


def list_runs(journal_path: str | Path | None = None) -> list[RunRecord]:
    """Every run in the journal, oldest first."""
    from llmatlas.engine.journal import Journal

    jr = Journal(journal_path)
    try:
        return jr.runs()
    finally:
        jr.close()


def judge_pairwise(
    run_a: str, run_b: str, judge: str, *, resamples: int = 2000, journal_path: str | Path | None = None
) -> PairwiseResult:
    """Two MT-Bench runs judged turn by turn by the model ``judge`` names, each turn in both orders."""
    from llmatlas.backends.registry import load_backend
    from llmatlas.engine.journal import Journal
    from llmatlas.tasks.mt_bench import compare_runs_pairwise

    judge_backend = load_backend(judge)
    try:
        jr = Journal(journal_path)
        try:
            return compare_runs_pairwise(jr, run_a, run_b, judge_backend, resamples=resamples)
        finally:
            jr.close()
    finally:
        judge_backend.close()


def arena_ratings(arena: ArenaStore, rounds: int) -> list[Rating]:
    """Bradley–Terry ratings of the arena's votes with bootstrap 95% intervals (``rounds`` resamples)."""
    from llmatlas.arena.ratings import ratings_with_ci

    return ratings_with_ci(arena.votes(), rounds=rounds)


def leaderboard(
    catalog: Catalog, *, journal_path: str | Path | None = None, arena: ArenaStore | None = None
) -> Leaderboard:
    """The results store's newest complete run per (model, task) beside the catalog's reported
    scores, the MMLU-vs-price frontier, and the arena's ratings (the default store's without ``arena``)."""
    from llmatlas.advise.leaderboard import build
    from llmatlas.advise.measured import stored_results
    from llmatlas.arena.store import ArenaStore

    store = arena if arena is not None else ArenaStore()
    return build(stored_results(str(journal_path) if journal_path else None), catalog, store.votes())


# --------------------------------------------------------------------------- campaigns


def run_campaign(
    path: str | Path,
    *,
    ray: str | None = None,
    journal_path: str | Path | None = None,
    catalog: Catalog | None = None,
    on_event: OnEvent | None = None,
) -> Rollup:
    """Run a campaign file (models × tasks) and roll its runs up into one table with 95% intervals.

    Resumable: started again after a crash, it scores only what the journal lacks. ``ray`` runs it
    on a Ray cluster (an address, or "local" to start one here), each task cut into the file's
    ``shards``; each model worker asks for the memory the estimator gives for its catalog model.
    Its runs are ordinary journal runs, so the leaderboard and ``recommend`` use them as measured
    evidence."""
    from llmatlas.engine.campaign import load_campaign, rollup, run_local
    from llmatlas.engine.events import ignore

    campaign, journal = load_campaign(path)
    journal = Path(journal_path) if journal_path else journal
    events = on_event or ignore
    if ray is None:
        return rollup(campaign, journal, run_local(campaign, journal, events))
    from llmatlas.engine.distributed import import_ray, run_on_ray

    import_ray()  # the install hint before any catalog is read
    resources = [_worker_resources(m, catalog) for m in campaign.models]
    results = run_on_ray(campaign, journal, resources, address=ray, on_event=events)
    return rollup(campaign, journal, results, executor=f"ray ({ray})")


def _worker_resources(model: CampaignModel, catalog: Catalog | None) -> Resources:
    """A model worker's Ray resources: its CPUs and GPUs as the file gives them, and memory as the
    file gives it or else the estimator's total for the catalog model at fp16 and 4,096 tokens."""
    from llmatlas.advise.measured import catalog_id_for_spec
    from llmatlas.engine.distributed import Resources

    def res(memory: int | None, basis: str) -> Resources:
        return Resources(num_cpus=model.num_cpus, num_gpus=model.num_gpus, memory_bytes=memory, basis=basis)

    if model.memory_gb is not None:
        return res(int(model.memory_gb * 1024**3), "campaign file")
    from llmatlas.catalog.catalog import load_catalog

    cat = catalog if catalog is not None else load_catalog()
    cid = model.catalog_id or catalog_id_for_spec(model.specs[0], cat)
    if cid is None or cid not in cat.models:
        return res(None, "unknown: no catalog model; give memory_gb")
    est = estimate_memory(cat.models[cid], quant="fp16", context=4096)
    if est.total_bytes is None:
        return res(None, f"unknown: {cid}'s size is undisclosed; give memory_gb")
    return res(est.total_bytes, f"estimator: {cid} at fp16, 4,096 tokens")


# --------------------------------------------------------------------------- advisor


def recommend(
    requirements: str | Path | Requirements,
    catalog: Catalog,
    *,
    as_of: dt.date | None = None,
    use_store: bool = True,
    eval_shortlist: bool = False,
    eval_models: Sequence[str] | None = None,
    eval_limit: int | None = 100,
    data_dir: str | None = None,
    journal_path: str | Path | None = None,
    on_message: Callable[[str], None] | None = None,
    on_event: OnEvent | None = None,
    plan_only: bool = False,
) -> Recommendation:
    """Rank the catalog for a requirements file (a path, or a packaged example's name such as
    ``customer_support_chatbot``, or :class:`Requirements` already made), with the scores and API
    speeds measured in the results store unless ``use_store`` is off. ``as_of`` replays the
    decision on a past date (it overrides the file's own). With ``eval_shortlist``, the shortlist
    is measured here first on the weighted tasks (``eval_models``: ``CATALOG_ID=SPEC`` pairs saying
    how to run a model) and the ranking redone; what was run, skipped and failed is in
    ``extra["eval"]``. ``on_message`` receives the plan's lines (what runs, what is skipped and
    why); ``on_event`` the runs' progress. With ``plan_only`` nothing runs:
    ``extra["eval"]["plans"]`` holds each model's :func:`plan_eval` (tokens, time here, API cost)
    and the ranking is the unmeasured one."""
    from llmatlas.advise.advisor import recommend as rank
    from llmatlas.advise.evaluate import parse_mapping, plan_evals, run_evals
    from llmatlas.advise.measured import api_speed, best_measurements, stored_results
    from llmatlas.advise.requirements import Requirements, load_requirements, resolve_requirements

    say = on_message or (lambda _: None)
    if isinstance(requirements, Requirements):  # a form's or an upload's, already validated
        path, req = None, requirements
    else:
        path = resolve_requirements(requirements)
        req = load_requirements(path)
    if as_of is not None:
        req = req.model_copy(update={"as_of": as_of})
    mapping = parse_mapping(list(eval_models or []), catalog)
    results = stored_results(str(journal_path) if journal_path else None) if use_store else []
    measured = best_measurements(results, catalog)
    speeds = api_speed(results, catalog)
    rec = rank(req, catalog, measurements=measured, api_speeds=speeds, requirements_path=path)
    if not eval_shortlist:
        return rec
    plan = plan_evals(rec.shortlist, req.task_weights, mapping, catalog)
    for why in plan.skipped:
        say(f"--eval: skipped {why}")
    if plan.runs:
        say(f"--eval: {len(plan.runs)} runs ({eval_limit or 'all'} items each) on the shortlist")
    if plan_only:
        rec.extra["eval"] = _plan_shortlist(plan, catalog, eval_limit, data_dir, journal_path)
        return rec

    def run_one(
        spec: str, task: str, limit: int | None, data: str | None, events: OnEvent, catalog_id: str
    ) -> RunResult:
        (result,) = evaluate(
            spec,
            [task],
            limit=limit,
            data_dir=data,
            catalog=catalog,
            catalog_id=catalog_id,
            journal_path=journal_path,
            on_event=events,
        )
        return result

    new, problems = run_evals(plan, catalog, eval_limit, data_dir, on_event, runner=run_one)
    for m in new:
        measured[(m.model, m.benchmark)] = m  # this run's figure, whatever the store had
    rec = rank(req, catalog, measurements=measured, api_speeds=speeds, requirements_path=path)
    rec.extra["eval"] = {
        "runs": [m.run_id for m in new],
        "skipped": plan.skipped,
        "problems": problems,
        "limit": eval_limit,
    }
    return rec


def _plan_shortlist(
    plan: Any, catalog: Catalog, limit: int | None, data_dir: str | None, journal_path: str | Path | None
) -> dict[str, Any]:
    """``recommend --eval --plan``: each shortlisted model's plan over its tasks, nothing run."""
    by_model: dict[tuple[str, str], list[str]] = {}
    for model_id, spec, task in plan.runs:
        by_model.setdefault((model_id, spec), []).append(task)
    plans, problems = [], []
    for (model_id, spec), tasks in by_model.items():
        try:
            p = plan_eval(
                spec, tasks, limit=limit, data_dir=data_dir, catalog=catalog, catalog_id=model_id,
                journal_path=journal_path,
            )  # fmt: skip
        except LlmatlasError as exc:
            problems.append(f"{model_id} ({spec}): {exc}")
            continue
        plans.append({"catalog_id": model_id, "spec": spec, **p.model_dump(mode="json")})
    return {"plans": plans, "runs": [], "skipped": plan.skipped, "problems": problems, "limit": limit}


# --------------------------------------------------------------------------- speed check

SPEED_PROMPT = "In two sentences, why does grouped-query attention shrink the KV cache?"


class SpeedCheck(BaseModel):
    """One timed greedy generation. With the model's catalog entry, the decode rate is turned into
    the memory bandwidth it implies (bytes read per token × tokens/s), which calibrates the
    estimator's speed bounds."""

    model: str  # the spec
    prompt: str
    text: str
    input_tokens: int | None
    output_tokens: int
    load_seconds: float  # loading the model, before the prompt is sent
    ttft_seconds: float | None
    seconds: float  # the generation, first prompt token to last output token
    tokens_per_s: float | None  # output tokens / seconds
    decode_tokens_per_s: float | None  # after the first token: (output tokens − 1) / (seconds − TTFT)
    threads: int | None
    bytes_read_per_token: int | None = None  # weights + the KV cache of a short sequence
    effective_bandwidth_gb_s: float | None = None
    decode_runs: list[float] = Field(default_factory=list)  # decode tok/s of each repeat; the figure is their median
    spread: float | None = None  # (slowest to fastest) / median: how much the repeats disagree
    busy: bool = False  # the repeats disagree by more than BUSY_SPREAD: another job shares the CPU

    @property
    def calibrates(self) -> bool:
        """Whether the measured bandwidth can calibrate the estimator (it was steady)."""
        return self.effective_bandwidth_gb_s is not None and not self.busy


BUSY_SPREAD = 0.15  # repeats of one generation differing by more than this say the machine is busy
BUSY_MIN_TOKENS = 16  # below this a few milliseconds of jitter alone move the rate by 15%: no verdict


def speed_check(
    spec: str = "smollm2",
    tokens: int = 64,
    *,
    prompt: str = SPEED_PROMPT,
    model: Model | None = None,
    on_text: Callable[[str], None] | None = None,
    repeats: int = 3,
) -> SpeedCheck:
    """Load the model ``spec`` names, generate up to ``tokens`` tokens for ``prompt`` once (shown,
    and a warm-up), then ``repeats`` times more, timed: the decode rate is their median, and repeats
    that disagree by more than ``BUSY_SPREAD`` say the machine is busy (no calibration from them).
    ``model`` is its catalog entry (its first quantization is the one run) for the bandwidth
    calibration; ``on_text`` receives the first generation's text as it is written."""
    from llmatlas.backends.base import Generation, GenerationRequest
    from llmatlas.backends.embedded import INSTALL_HINT
    from llmatlas.backends.registry import load_backend, parse_spec

    if parse_spec(spec)[0] == "llama" and importlib.util.find_spec("llama_cpp") is None:
        raise LlmatlasError(f"running {spec} needs llama-cpp-python: {INSTALL_HINT}")

    def decode_rate(g: Generation, fallback_s: float) -> float | None:
        n, secs = g.output_tokens or 0, g.latency_s if g.latency_s is not None else fallback_s
        decode_s = secs - (g.ttft_s or 0.0)
        return (n - 1) / decode_s if n > 1 and decode_s > 0 else None

    start = time.perf_counter()
    backend = load_backend(spec)
    try:
        gen: Generation | None = None
        rates: list[float] = []
        # the first generation is shown and warms up (caches, clocks); then the same one is timed
        # `repeats` times: is the speed steady?
        for run in range(1 + max(0, repeats)):
            t0 = time.perf_counter()
            for item in backend.stream(GenerationRequest(prompt=prompt, max_tokens=tokens, temperature=0.0)):
                if isinstance(item, Generation):
                    if item.error:
                        raise LlmatlasError(f"{spec} did not generate: {item.error}")
                    gen = gen or item
                    r = decode_rate(item, time.perf_counter() - t0)
                    if r is not None and (run > 0 or repeats == 0):
                        rates.append(r)
                    break
                if on_text is not None and run == 0:
                    on_text(item)
            if run == 0:
                total = time.perf_counter() - start
        threads = backend.info().details.get("threads")
    finally:
        backend.close()
    if gen is None:
        raise LlmatlasError(f"{spec} did not generate: no result")
    seconds = gen.latency_s if gen.latency_s is not None else total
    n = gen.output_tokens or 0
    rate = float(statistics.median(rates)) if rates else None
    spread = (max(rates) - min(rates)) / rate if rate and len(rates) > 1 else None
    per_token = None
    if model is not None:
        short = _memory_of(model, 64)
        if short.weights_bytes is not None:
            per_token = short.weights_bytes + (short.kv_cache_bytes or 0)
    return SpeedCheck(
        model=spec,
        prompt=prompt,
        text=gen.text.strip(),
        input_tokens=gen.input_tokens,
        output_tokens=n,
        load_seconds=max(0.0, total - seconds),
        ttft_seconds=gen.ttft_s,
        seconds=seconds,
        tokens_per_s=n / seconds if n and seconds > 0 else None,
        decode_tokens_per_s=rate,
        threads=threads if isinstance(threads, int) else None,
        bytes_read_per_token=per_token,
        effective_bandwidth_gb_s=rate * per_token / 1e9 if rate and per_token else None,
        decode_runs=rates,
        spread=spread,
        busy=spread is not None and spread > BUSY_SPREAD and n > BUSY_MIN_TOKENS,
    )


def pricer_for_spec(catalog: Catalog, spec: str) -> Pricer:
    """How answers of the model a spec names are priced: the offer it calls (a hosted provider's model
    at its endpoint), else the catalog model the spec stands for, else no price and why."""
    from llmatlas.advise.measured import catalog_id_for_spec
    from llmatlas.backends.registry import parse_spec
    from llmatlas.catalog.offers import offer_for_spec
    from llmatlas.engine.outputs import Pricer

    backend, _ = parse_spec(spec)
    found = offer_for_spec(catalog, spec)  # resolved once: the model and the offer it calls
    model_id = found[0].id if found else catalog_id_for_spec(spec, catalog)
    return Pricer(model_id, backend, catalog=catalog, offer=found)


def priced_output(generation: Generation, pricer: Pricer, turn: int = 0) -> Output:
    """One generation with its speed and cost: the figures a run journals per output."""
    from llmatlas.engine.outputs import to_output

    return to_output(generation, turn, pricer)
