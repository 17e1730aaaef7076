"""Memory needed to run a model: weights + KV cache + a runtime overhead stated separately.

weights  = parameters × bits per weight / 8 (all experts of a mixture-of-experts stay resident);
           a build that mixes storage types (gpt-oss: experts in MXFP4, the rest in BF16) sums its
           parts, each at its own bits per weight
KV cache = 2 (K and V) × layers × kv_heads × head_dim × tokens × batch × bytes per element,
           where a layer with a sliding window holds at most ``window`` tokens; with multi-head
           latent attention (DeepSeek-V2/V3, Kimi K2) it is layers × (kv_lora_rank +
           qk_rope_head_dim) × tokens × batch × bytes: one compressed latent and one shared RoPE key
           per token and layer, whatever the number of heads.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from llmatlas.catalog.schema import Architecture, Model, Quantization
from llmatlas.core.errors import InputError
from llmatlas.estimate.quant import bits_per_weight

GIB = 1024**3
DEFAULT_OVERHEAD_BYTES = 512 * 1024**2  # CUDA/Metal context, allocator slack, small compute buffers
KV_DTYPE_BYTES = {"fp32": 4.0, "fp16": 2.0, "bf16": 2.0, "fp8": 1.0, "q8_0": 34 / 32, "q4_0": 18 / 32}


class MemoryEstimate(BaseModel):
    """What ``fit`` reports; ``None`` means a needed fact is undisclosed (see ``notes``)."""

    model: str
    quant: str
    bits_per_weight: float
    context: int
    batch: int
    kv_dtype: str
    params_b: float | None
    weights_bytes: int | None
    kv_cache_bytes: int | None
    overhead_bytes: int
    total_bytes: int | None
    notes: list[str] = Field(default_factory=list)


def weights_bytes(params_b: float, bpw: float) -> int:
    """Bytes of the weights: parameters (billions) × bits per weight / 8."""
    return round(params_b * 1e9 * bpw / 8)


def kv_layer_tokens(layers: int, tokens: int, sliding_window: int | None = None, pattern: int | None = None) -> int:
    """Sum over layers of the tokens each layer keeps in its cache."""
    if not sliding_window:
        return layers * tokens
    windowed = min(tokens, sliding_window)
    if not pattern:
        return layers * windowed
    global_layers = layers // pattern
    return global_layers * tokens + (layers - global_layers) * windowed


def kv_cache_bytes(
    layers: int,
    kv_heads: int,
    head_dim: int,
    tokens: int,
    batch: int = 1,
    bytes_per_element: float = 2.0,
    sliding_window: int | None = None,
    sliding_window_pattern: int | None = None,
) -> int:
    """2 × layers × kv_heads × head_dim × tokens × batch × bytes, with sliding windows respected."""
    layer_tokens = kv_layer_tokens(layers, tokens, sliding_window, sliding_window_pattern)
    return round(2 * layer_tokens * kv_heads * head_dim * batch * bytes_per_element)


def mla_cache_bytes(
    layers: int, kv_lora_rank: int, qk_rope_head_dim: int, tokens: int, batch: int = 1, bytes_per_element: float = 2.0
) -> int:
    """Latent cache of multi-head latent attention: layers × (kv_lora_rank + rope dim) × tokens × batch × bytes."""
    return round(layers * (kv_lora_rank + qk_rope_head_dim) * tokens * batch * bytes_per_element)


def mixed_weights_bytes(parts: dict[str, float]) -> int:
    """Bytes of a build whose weights mix storage types: Σ parameters (billions) × bits / 8 per type."""
    return sum(weights_bytes(params_b, bits_per_weight(dtype)) for dtype, params_b in parts.items())


def _kv_for(arch: Architecture | None, tokens: int, batch: int, elem: float) -> tuple[int | None, str | None]:
    if arch is None:
        return None, "architecture undisclosed: KV cache unknown"
    if arch.type == "encoder":
        return 0, "encoder model: no KV cache is kept between steps"
    if arch.mla:
        if not (arch.layers and arch.kv_lora_rank and arch.qk_rope_head_dim):
            return None, "latent attention: layers/qk_rope_head_dim undisclosed: KV cache unknown"
        kv = mla_cache_bytes(arch.layers, arch.kv_lora_rank, arch.qk_rope_head_dim, tokens, batch, elem)
        per_token = arch.kv_lora_rank + arch.qk_rope_head_dim
        return kv, f"multi-head latent attention: {per_token} cached elements per token and layer"
    head_dim, kv_heads = arch.resolved_head_dim, arch.resolved_kv_heads
    if not (arch.layers and head_dim and kv_heads):
        return None, "layers/heads undisclosed: KV cache unknown"
    return (
        kv_cache_bytes(
            arch.layers,
            kv_heads,
            head_dim,
            tokens,
            batch,
            elem,
            arch.sliding_window,
            arch.sliding_window_pattern,
        ),
        None,
    )


def _published_build(model: Model, quant: str) -> Quantization | None:
    """The model's published build of this format (``mxfp4`` for gpt-oss), if the catalog lists one."""
    key = quant.strip().lower()
    for q in model.quantizations:
        if q.name.lower() == key:
            return q
    return None


def estimate_memory(
    model: Model,
    quant: str = "fp16",
    context: int | None = None,
    batch: int = 1,
    kv_dtype: str = "fp16",
    overhead_bytes: int = DEFAULT_OVERHEAD_BYTES,
    bpw: float | None = None,
) -> MemoryEstimate:
    """Memory to serve ``model`` at ``quant`` with ``batch`` sequences of ``context`` tokens.

    ``bpw`` overrides the nominal bits per weight of ``quant`` (e.g. measured from a mixed GGUF file).
    """
    notes: list[str] = []
    build = _published_build(model, quant)
    params = model.total_params_b
    if bpw is None and build is not None and build.parts:
        weights: int | None = mixed_weights_bytes(build.parts)
        mixed = " + ".join(f"{v:g}B {k}" for k, v in build.parts.items())
        notes.append(f"{build.name} build mixes storage types: {mixed}")
        bpw = weights * 8 / (sum(build.parts.values()) * 1e9) if weights else bits_per_weight(quant)
    else:
        if bpw is None:
            bpw = bits_per_weight(quant)
        weights = weights_bytes(params, bpw) if params is not None else None
    tokens = context or model.context_tokens or 4096
    if context is None:
        notes.append(f"context defaults to {'the model maximum' if model.context_tokens else '4096'}: {tokens}")
    if weights is None:
        notes.append("parameter count undisclosed: weights unknown")
    if model.parameters and model.parameters.active_b and model.parameters.active_b != params:
        notes.append(f"mixture of experts: all {params}B weights resident, {model.parameters.active_b}B active")
    elem = KV_DTYPE_BYTES.get(kv_dtype.lower())
    if elem is None:
        raise InputError(f"unknown KV cache dtype '{kv_dtype}'; known: {', '.join(KV_DTYPE_BYTES)}", field="kv_dtype")
    kv, why = _kv_for(model.architecture, tokens, batch, elem)
    if why:
        notes.append(why)
    arch = model.architecture
    if arch and arch.sliding_window and tokens > arch.sliding_window:
        notes.append(f"sliding window {arch.sliding_window} caps the cache of windowed layers")
    total = weights + kv + overhead_bytes if weights is not None and kv is not None else None
    return MemoryEstimate(
        model=model.id,
        quant=quant,
        bits_per_weight=bpw,
        context=tokens,
        batch=batch,
        kv_dtype=kv_dtype,
        params_b=params,
        weights_bytes=weights,
        kv_cache_bytes=kv,
        overhead_bytes=overhead_bytes,
        total_bytes=total,
        notes=notes,
    )
