"""The public library API: what the CLI, the web UI and scripts call, with typed answers.

Each function does the work once (the estimators, the catalog's offers); the CLI and the web only
parse their input, call it and render or serialize the answer, so ``llmatlas fit --json`` and the
web's ``/api/memory`` are the same :class:`FitResult`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from pydantic import BaseModel, Field

from llmatlas.catalog.catalog import Catalog
from llmatlas.catalog.loader import load_text
from llmatlas.catalog.schema import Model
from llmatlas.core.errors import InputError
from llmatlas.core.paths import user_models_dir
from llmatlas.engine.results import PairedComparison
from llmatlas.estimate.breakeven import BreakEven
from llmatlas.estimate.breakeven import break_even as _break_even
from llmatlas.estimate.cost import CostEstimate, offer_costs
from llmatlas.estimate.hardware import get_hardware, parse_size
from llmatlas.estimate.memory import DEFAULT_OVERHEAD_BYTES, MemoryEstimate, estimate_memory, weights_bytes
from llmatlas.estimate.speed import SERVING_EFFICIENCY, SpeedBound, speed_bounds

if TYPE_CHECKING:
    from rich.console import Console

    from llmatlas.engine.results import RunResult

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
        raise InputError("give --memory or --gpu, not both", field="memory")
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
    rate = gpu_hour_usd if gpu_hour_usd is not None else hw.price_per_hour_usd
    if rate is None:
        raise InputError(f"no price per hour known for {hw.id}; pass --gpu-hour-usd", field="gpu_hour_usd")
    per_req = offer_costs(catalog, api_m, input_tokens, output_tokens, provider=provider)[0]  # cheapest offer
    if per_req.total_usd is None:
        raise InputError(f"{api_m.id}: {per_req.reason}; cannot compare", field="api_model")
    mem = estimate_memory(open_m, quant=quant, context=input_tokens + output_tokens, batch=batch)
    min_gpus = 1
    if mem.total_bytes is not None:
        min_gpus = max(1, -(-mem.total_bytes // hw.memory_bytes))
    notes = []
    if throughput is None:
        bound = speed_bounds(open_m, hw, quant=quant, context=input_tokens + output_tokens, batch=batch)
        if bound.decode_tokens_per_s_total is None:
            raise InputError("cannot bound throughput (undisclosed size); pass --throughput", field="throughput")
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
    catalog_id: str | None = None,
    journal_path: str | Path | None = None,
    console: Console | None = None,
) -> list[RunResult]:
    """Run ``tasks`` on the model ``spec`` names (``smollm2``, ``llama:x.gguf``, ``openai:…``), journaled
    and resumable; a generation run against an API is priced with ``catalog`` (its offers)."""
    from llmatlas.engine.runner import EvalConfig
    from llmatlas.engine.runner import evaluate as run_evaluation  # imported when used: keeps the CLI quick

    config = EvalConfig(
        limit=limit,
        num_fewshot=num_fewshot,
        data_dir=data_dir,
        samples=samples,
        temperature=temperature,
        max_tokens=max_tokens,
        catalog_id=catalog_id,
        catalog=catalog,
    )
    return run_evaluation(spec, tasks, config, judge=judge, journal_path=journal_path, console=console)


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


def import_model(path: str | Path, model_id: str | None = None, *, save: bool = True) -> ImportResult:
    """Read a GGUF, a Hugging Face ``config.json`` or a model folder (``smollm2`` = the embedded
    model) into a catalog entry; validated by the catalog loader before anything is written, and
    written atomically to the user catalog folder when ``save``."""
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
    )
