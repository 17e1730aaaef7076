"""Speed bounds from the roofline: decode is memory-bound, prefill is compute-bound.

decode tokens/s per sequence ≤ bandwidth / (bytes of active weights + bytes of KV cache read)
batched decode tokens/s     ≤ min(batch × bandwidth / bytes per step, peak FLOPs / (2 × active params))
prefill seconds             ≥ (2 × active params × tokens + 2 × layers × tokens² × attention width) / peak
Measured speeds calibrate the bound: efficiency = measured / bound.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from llmatlas.catalog.schema import Model
from llmatlas.estimate.hardware import Hardware
from llmatlas.estimate.memory import estimate_memory

# Fraction of the roofline bounds a serving stack reaches (vLLM/TGI/llama.cpp typically 40–70%):
# the one figure `breakeven` and the advisor's self-host plans use. A measured speed replaces it.
SERVING_EFFICIENCY = 0.5


class SpeedBound(BaseModel):
    model: str
    hardware: str
    quant: str
    context: int
    batch: int
    decode_tokens_per_s: float | None  # per sequence, upper bound
    decode_tokens_per_s_total: float | None  # all sequences of the batch together
    prefill_seconds: float | None  # lower bound for ``prompt_tokens``
    prompt_tokens: int
    bound_by: str | None  # "memory bandwidth" or "compute"
    measured_tokens_per_s: float | None = None
    efficiency: float | None = None  # measured / bound
    notes: list[str] = Field(default_factory=list)


def prefill_flops(model: Model, tokens: int) -> float | None:
    """2·N·T for the matmuls plus the causal attention scores and mixing (2·L·T²·d)."""
    active = model.active_params_b
    if active is None:
        return None
    flops = 2.0 * active * 1e9 * tokens
    arch = model.architecture
    if arch and arch.layers and arch.attention_heads and arch.resolved_head_dim:
        width = arch.attention_heads * arch.resolved_head_dim
        flops += 2.0 * arch.layers * tokens * tokens * width
    return flops


def speed_bounds(
    model: Model,
    hw: Hardware,
    quant: str = "fp16",
    context: int = 2048,
    batch: int = 1,
    prompt_tokens: int = 1024,
    measured_tokens_per_s: float | None = None,
) -> SpeedBound:
    """Upper bounds for decode and lower bound for prefill of ``model`` on ``hw``."""
    notes: list[str] = []
    mem = estimate_memory(model, quant=quant, context=context, batch=batch)
    active_b = model.active_params_b
    decode = total = None
    bound_by = None
    if active_b is not None and mem.kv_cache_bytes is not None and hw.bandwidth_gb_s:
        active_weights = active_b * 1e9 * mem.bits_per_weight / 8
        step_bytes = active_weights + mem.kv_cache_bytes  # one decode step reads weights once for the batch
        mem_total = batch * hw.bandwidth_gb_s * 1e9 / step_bytes
        total = mem_total
        bound_by = "memory bandwidth"
        if hw.peak_tflops:
            compute_total = hw.peak_tflops * 1e12 / (2.0 * active_b * 1e9)
            if compute_total < mem_total:
                total, bound_by = compute_total, "compute"
        decode = total / batch
        if model.parameters and model.parameters.active_b:
            notes.append("mixture of experts: bytes read per token use active parameters only")
    else:
        notes.append("decode bound unknown: parameters, architecture or bandwidth undisclosed")
    flops = prefill_flops(model, prompt_tokens)
    prefill = flops / (hw.peak_tflops * 1e12) if flops is not None and hw.peak_tflops else None
    if prefill is None:
        notes.append("prefill bound unknown: parameters or peak FLOPs undisclosed")
    eff = measured_tokens_per_s / decode if measured_tokens_per_s and decode else None
    return SpeedBound(
        model=model.id,
        hardware=hw.id,
        quant=quant,
        context=context,
        batch=batch,
        decode_tokens_per_s=decode,
        decode_tokens_per_s_total=total,
        prefill_seconds=prefill,
        prompt_tokens=prompt_tokens,
        bound_by=bound_by,
        measured_tokens_per_s=measured_tokens_per_s,
        efficiency=eff,
        notes=notes,
    )
