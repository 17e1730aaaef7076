"""How a candidate would be deployed, and what it costs: an API at its price, or self-hosted GPUs.

Self-hosting is planned with the estimators: the memory estimator picks the smallest replica
(GPUs × format) that holds the weights, the KV cache of one request at the needed context, and
the runtime overhead; the speed estimator's roofline bounds, times a stated serving efficiency,
give the replica's capacity; the break-even estimator turns the workload into GPUs and dollars
per month. Everything it assumes is written into the plan's notes.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from llmatlas.advise.requirements import HardwareSpec, Requirements
from llmatlas.advise.schema import Evidence, Fact, SelfHostPlan
from llmatlas.advise.sources import SourceBook
from llmatlas.catalog.catalog import Catalog
from llmatlas.catalog.schema import Model, Offer, Price
from llmatlas.estimate.breakeven import HOURS_PER_MONTH, break_even
from llmatlas.estimate.cost import CostEstimate, offer_cost
from llmatlas.estimate.hardware import GIB, GpuPrice, Hardware, get_hardware, hardware_table, parse_size
from llmatlas.estimate.memory import DEFAULT_OVERHEAD_BYTES, estimate_memory
from llmatlas.estimate.quant import bits_per_weight
from llmatlas.estimate.speed import SERVING_EFFICIENCY, speed_bounds

MAX_BATCH = 64  # concurrent sequences per replica considered (KV memory permitting)
# Without a speed target, batches stay small enough that each reply streams at least this fast
# (about reading speed): a plan that packs 64 users onto a GPU at 3 tok/s each is not a plan.
DEFAULT_MIN_TOKENS_PER_S = 10.0
SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class Rig:
    """One way to host: a GPU type, how many may be used, whether it is fixed by the user."""

    hw: Hardware
    max_gpus: int
    fixed: bool  # the user named this hardware: it is all there is
    gpu_hour_usd: float | None
    owned: bool
    price_basis: str | None = None  # where gpu_hour_usd comes from, as a plan prints it
    offer: GpuPrice | None = None  # the hardware table's price used, when it is one


YOUR_PRICE = "your gpu_hour_usd"
OWNED = "owned hardware: no rental counted (give gpu_hour_usd to count power and amortization)"


def _table_rig(hw: Hardware, max_gpus: int, fixed: bool, gpus: int | None, on: dt.date) -> Rig:
    """A rented rig priced by the hardware table's rule (Hardware.rental_price) on the decision date."""
    choice = hw.rental_price(gpus, on)
    if choice is None:
        return Rig(hw, max_gpus, fixed, None, False)
    return Rig(hw, max_gpus, fixed, choice.usd_per_hour, False, choice.basis, choice.price)


def rigs(req: Requirements) -> list[Rig]:
    """The user's hardware, or every rentable GPU of the hardware table (priced per hour).

    A price the user gives wins; owned hardware without one counts no rental; otherwise the
    table's on-demand price for the GPUs rented is used, and the rig says which offer it is.
    Unnamed, only GPUs that two or more providers rent are searched: a default plan does not rest
    on one provider's price (T4 and RTX 3090 are costed when named)."""
    spec: HardwareSpec | None = req.hosting.hardware
    if spec is None:
        rented = [hw for hw in hardware_table().values() if len({p.provider for p in hw.prices}) >= 2]
        table = [_table_rig(hw, req.hosting.max_gpus, False, None, req.on) for hw in rented]
        return [rig for rig in table if rig.gpu_hour_usd is not None]  # rented by the decision date
    if spec.gpu is not None:
        hw = get_hardware(spec.gpu)
        if spec.gpu_hour_usd is not None:
            return [Rig(hw, spec.count, True, spec.gpu_hour_usd, spec.owned, YOUR_PRICE)]
        if spec.owned:
            return [Rig(hw, spec.count, True, None, True, OWNED)]
        return [_table_rig(hw, spec.count, True, spec.count, req.on)]
    size = parse_size(spec.memory or "")
    hw = Hardware(
        id=f"memory:{spec.memory}",
        name=f"{spec.memory} of memory",
        memory_gib=size / GIB,
        source="requirements",
        as_of=dt.date.today(),
        note="bandwidth unknown: speed and capacity cannot be estimated",
    )
    basis = YOUR_PRICE if spec.gpu_hour_usd is not None else (OWNED if spec.owned else None)
    return [Rig(hw, 1, True, spec.gpu_hour_usd, spec.owned, basis)]


def _one_request(
    model: Model, req: Requirements, catalog: Catalog, offer: Offer | None = None
) -> tuple[Price | None, CostEstimate]:
    """One request of the workload at the offer's price in force (the developer's own API without
    an offer; a month's volume is not a whole number, so monthly costs scale this)."""
    w = req.workload
    price = (offer or model).current_price(req.on, prompt_tokens=w.input_tokens)
    est = offer_cost(catalog, model, offer, w.input_tokens, w.output_tokens, 1, w.cached_input_tokens, req.on)
    return price, est


def api_cost(model: Model, req: Requirements, catalog: Catalog, book: SourceBook, offer: Offer | None = None) -> Fact:
    """Monthly API cost of the workload at the offer's price in force; unknown (never 0) without a price."""
    w = req.workload
    price, est = _one_request(model, req, catalog, offer)
    if est.total_usd is None or price is None:
        return Fact(
            text="unknown", evidence="unknown", note=est.reason or "no price", sources=[book.estimate("api-cost")]
        )
    owner = offer if offer is not None and not offer.first_party else model
    evidence: Evidence = "dataset" if est.price_evidence == "dataset" else "reported"
    sources = [book.catalog_fact(owner, price), book.estimate("api-cost")]
    note = "; ".join(
        [
            f"{w.requests_per_month:,.0f} requests × ({w.input_tokens:,} in + {w.output_tokens:,} out tokens) at "
            f"${price.input_per_m:g}/${price.output_per_m:g} per 1M"
            if price.currency == "USD"
            else f"{w.requests_per_month:,.0f} requests at ¥{price.input_per_m:g}/¥{price.output_per_m:g} per 1M",
            *est.notes,
        ]
    )
    monthly = est.total_usd * w.requests_per_month
    return Fact(
        value=monthly,
        text=f"${monthly:,.0f}/month",
        unit="USD/month",
        evidence=evidence,
        sources=sources,
        note=note,
    )


def per_request_usd(model: Model, req: Requirements, catalog: Catalog, offer: Offer | None = None) -> float | None:
    return _one_request(model, req, catalog, offer)[1].total_usd


def _scaled(hw: Hardware, k: int) -> Hardware:
    """k GPUs of one type as one device (tensor parallel): memory, bandwidth and FLOPs add up."""
    return hw.model_copy(
        update={
            "memory_gib": hw.memory_gib * k,
            "bandwidth_gb_s": hw.bandwidth_gb_s * k if hw.bandwidth_gb_s else None,
            "peak_tflops_bf16": hw.peak_tflops_bf16 * k if hw.peak_tflops_bf16 else None,
            "peak_tflops_fp16": hw.peak_tflops_fp16 * k if hw.peak_tflops_fp16 else None,
            "peak_tflops_fp32": hw.peak_tflops_fp32 * k if hw.peak_tflops_fp32 else None,
        }
    )


@dataclass
class PlanResult:
    plan: SelfHostPlan | None
    reason: str | None  # why no plan fits (when ``plan`` is None)
    rig: Rig | None = None  # what the plan runs on, with the table's price it pays (when it is one)


def _option(model: Model, req: Requirements, rig: Rig, k: int, quant: str, api_ref: float) -> SelfHostPlan | str:
    """One replica size and format on one rig; a string says why it does not work."""
    w = req.workload
    per_req_tokens = w.input_tokens + w.output_tokens
    ctx_limit = model.context_tokens or per_req_tokens
    ctx = min(max(req.min_context or 0, per_req_tokens), ctx_limit)
    bpw = bits_per_weight(quant)
    one = estimate_memory(model, quant=quant, context=ctx, batch=1)
    if one.total_bytes is None or one.weights_bytes is None:
        return "; ".join(one.notes) or "size undisclosed"
    overhead = k * DEFAULT_OVERHEAD_BYTES
    need = one.weights_bytes + (one.kv_cache_bytes or 0) + overhead
    avail = int(rig.hw.memory_bytes * k)
    if need > avail:
        return f"{quant} needs {need / GIB:,.1f} GiB > {avail / GIB:,.1f} GiB on {k} × {rig.hw.name}"
    kv_one = estimate_memory(model, quant=quant, context=per_req_tokens, batch=1).kv_cache_bytes or 0
    free = avail - one.weights_bytes - overhead
    max_batch = MAX_BATCH if kv_one == 0 else max(1, min(MAX_BATCH, free // kv_one))
    dev = _scaled(rig.hw, k)
    notes: list[str] = []
    encoder = model.architecture is not None and model.architecture.type == "encoder"
    speed: _Speed | None = None
    # The largest batch (most throughput) whose per-request latency still meets the targets.
    for b in _batches(int(max_batch)):
        speed = _speed(model, dev, quant, w.input_tokens, w.output_tokens, b, encoder)
        if speed is None or _meets(speed, req):
            break
    if speed is None:
        notes.append("speed unknown: parameters or the hardware's bandwidth/FLOP/s undisclosed")
    elif not _meets(speed, req):
        return (
            f"{quant} on {k} × {rig.hw.name}: ≈ {speed.latency:.1f} s per request"
            + (f" at {speed.decode_seq:.0f} tok/s" if speed.decode_seq else "")
            + f" even one at a time (target {_target_text(req)})"
        )
    else:
        notes.append(
            f"{SERVING_EFFICIENCY:.0%} of roofline bounds ({speed.bound_by}-bound decode) at batch {speed.batch}"
            + (" (encoder: one forward pass per request)" if encoder else "")
        )
    batch = speed.batch if speed else int(max_batch)
    capacity = speed.capacity if speed else None
    latency = speed.latency if speed else None
    decode_seq = speed.decode_seq if speed else None
    monthly = be_volume = None
    replicas = 1
    if capacity is not None:
        tok_per_gpu = capacity * w.output_tokens / k
        be = break_even(
            api_ref,
            w.requests_per_month,
            rig.gpu_hour_usd or 0.0,
            w.output_tokens,
            tok_per_gpu,
            k,
            req.hosting.utilization,
        )
        replicas = be.gpus_needed // k
        if rig.fixed and be.gpus_needed > rig.max_gpus:
            return (
                f"the workload ({w.requests_per_day:,.0f} requests/day) needs {be.gpus_needed} × {rig.hw.name} "
                f"at {req.hosting.utilization:.0%} load ({capacity:,.2f} requests/s per {k}-GPU replica); "
                f"you have {rig.max_gpus}"
            )
        if rig.gpu_hour_usd is not None:
            monthly = be.selfhost_monthly_usd
            be_volume = be.breakeven_requests_per_month if api_ref > 0 else None
        notes.extend(be.notes)
    elif rig.fixed:
        notes.append("capacity unknown: one replica assumed")
    if monthly is None and rig.owned and rig.gpu_hour_usd is None:
        notes.append(OWNED)
    if quant.upper().startswith(("Q", "INT")):
        native = next((q.name for q in model.quantizations if q.native), None)
        released = f"the released {native} weights" if native else "16-bit weights"
        notes.append(f"{quant} weights: published scores are for {released}; expect a small loss")
    return SelfHostPlan(
        hardware=rig.hw.id,
        hardware_name=rig.hw.name,
        gpus_per_replica=k,
        replicas=replicas,
        quant=quant,
        bits_per_weight=bpw,
        memory_needed_bytes=need,
        memory_available_bytes=avail,
        batch=int(batch),
        context=ctx,
        decode_tokens_per_s=decode_seq,
        capacity_requests_per_s=capacity,
        latency_s=latency,
        gpu_hour_usd=rig.gpu_hour_usd,
        gpu_price_basis=rig.price_basis,
        monthly_usd=monthly if monthly is not None else (0.0 if rig.owned and rig.gpu_hour_usd is None else None),
        breakeven_requests_per_month=be_volume,
        notes=notes,
    )


@dataclass(frozen=True)
class _Speed:
    batch: int
    latency: float  # seconds for one request at this batch
    decode_seq: float | None  # output tokens/s of one sequence (None for encoders)
    capacity: float  # requests/s of the replica
    bound_by: str


def _batches(max_batch: int) -> list[int]:
    """max_batch, then halving down to 1."""
    out = [max_batch]
    while out[-1] > 1:
        out.append(out[-1] // 2)
    return out


def _speed(model: Model, dev: Hardware, quant: str, inp: int, out: int, batch: int, encoder: bool) -> _Speed | None:
    """Latency and capacity of one replica at ``batch`` from the roofline bounds × efficiency."""
    bound = speed_bounds(model, dev, quant=quant, context=inp + out, batch=batch, prompt_tokens=inp)
    if bound.prefill_seconds is None:
        return None
    prefill = bound.prefill_seconds / SERVING_EFFICIENCY
    if encoder:
        return _Speed(batch, prefill, None, 1.0 / prefill, "compute")
    if bound.decode_tokens_per_s_total is None:
        return None
    total = bound.decode_tokens_per_s_total * SERVING_EFFICIENCY
    decode_seq = total / batch
    busy = prefill + out / total  # replica time per request: its prefill + its share of batched decode
    return _Speed(batch, prefill + out / decode_seq, decode_seq, 1.0 / busy, bound.bound_by or "memory bandwidth")


def min_tokens_per_s(req: Requirements) -> float:
    lat = req.latency
    return lat.min_tokens_per_s if lat and lat.min_tokens_per_s is not None else DEFAULT_MIN_TOKENS_PER_S


def _meets(speed: _Speed, req: Requirements) -> bool:
    lat = req.latency
    if lat is not None and lat.max_seconds is not None and speed.latency > lat.max_seconds:
        return False
    return speed.decode_seq is None or speed.decode_seq >= min_tokens_per_s(req)


def _target_text(req: Requirements) -> str:
    lat = req.latency
    parts = []
    if lat and lat.max_seconds is not None:
        parts.append(f"≤ {lat.max_seconds:g} s")
    parts.append(f"≥ {min_tokens_per_s(req):g} tok/s per reply")
    return ", ".join(parts)


def _plan_key(plan: SelfHostPlan, quants: list[str]) -> tuple[float, int, int]:
    cost = plan.monthly_usd if plan.monthly_usd is not None else math.inf
    return (cost, quants.index(plan.quant), plan.gpus_per_replica * plan.replicas)


def plan_selfhost(model: Model, req: Requirements, api_ref: float = 0.0) -> PlanResult:
    """The cheapest working self-host plan (then the most precise format, then the fewest GPUs)."""
    quants = req.hosting.quantizations
    plans: list[tuple[SelfHostPlan, Rig]] = []
    reasons: list[str] = []
    for rig in rigs(req):
        for k in range(1, rig.max_gpus + 1):
            found = False
            for quant in quants:
                opt = _option(model, req, rig, k, quant, api_ref)
                if isinstance(opt, str):
                    reasons.append(opt)
                    continue
                plans.append((opt, rig))
                found = True
            if found and not rig.fixed:
                break  # renting: more GPUs per replica only cost more once a format fits
    if not plans:
        # The most telling reason: the last one for the largest replica tried on the user's hardware.
        return PlanResult(None, reasons[-1] if reasons else "no hardware to host on")
    best, rig = min(plans, key=lambda pr: _plan_key(pr[0], quants))
    return PlanResult(best, None, rig)


def plan_fact(plan: SelfHostPlan, book: SourceBook, rig: Rig | None) -> Fact:
    """Monthly cost of a self-host plan as a fact with its sources, the GPU price's among them."""
    sources = [book.estimate("selfhost"), book.estimate("memory"), book.estimate("speed")]
    if rig is not None and not rig.hw.id.startswith("memory:"):
        sources.append(book.hardware(rig.hw))
        if rig.offer is not None:
            sources.append(book.hardware_price(rig.hw, rig.offer))
    gpus = plan.gpus_per_replica * plan.replicas
    if plan.monthly_usd is None:
        return Fact(text="unknown", evidence="unknown", sources=sources, note="no price per GPU-hour known")
    if plan.gpu_hour_usd is None:
        return Fact(
            value=0.0,
            text="owned hardware (no rental)",
            unit="USD/month",
            evidence="estimated",
            sources=sources,
            note="power and amortization not counted",
        )
    basis = f" ({plan.gpu_price_basis})" if plan.gpu_price_basis else ""
    return Fact(
        value=plan.monthly_usd,
        text=f"${plan.monthly_usd:,.0f}/month",
        unit="USD/month",
        evidence="estimated",
        sources=sources,
        note=f"{gpus} × {plan.hardware_name} at ${plan.gpu_hour_usd:g}/GPU-hour × {HOURS_PER_MONTH:g} h{basis}",
    )
