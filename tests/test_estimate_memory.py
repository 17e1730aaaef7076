"""Memory estimator against hand-computed cases (DESIGN.md / issue 1 figures)."""

from __future__ import annotations

import pytest

from llmatlas.catalog import Catalog
from llmatlas.catalog.schema import Architecture, Model, Parameters
from llmatlas.errors import InputError
from llmatlas.estimate.memory import estimate_memory, kv_cache_bytes, kv_layer_tokens, weights_bytes
from llmatlas.estimate.quant import bits_per_weight

GIB = 1024**3


def test_weights_llama2_7b_fp16_is_13_5_gb(cat: Catalog) -> None:
    est = estimate_memory(cat.get("llama-2-7b"), quant="fp16", context=4096)
    # 6.74e9 weights × 2 bytes = 13.48e9 bytes
    assert est.weights_bytes == pytest.approx(13.48e9, rel=1e-3)


def test_kv_cache_llama2_7b_4096_tokens_is_2_gib(cat: Catalog) -> None:
    assert kv_cache_bytes(32, 32, 128, 4096, 1, 2) == 2 * GIB
    est = estimate_memory(cat.get("llama-2-7b"), quant="fp16", context=4096)
    assert est.kv_cache_bytes == 2 * GIB


def test_kv_cache_llama2_70b_gqa_is_1_25_gib(cat: Catalog) -> None:
    # 2 × 80 layers × 8 KV heads × 128 × 4096 × 2 bytes
    assert kv_cache_bytes(80, 8, 128, 4096, 1, 2) == int(1.25 * GIB)
    est = estimate_memory(cat.get("llama-2-70b"), quant="fp16", context=4096)
    assert est.kv_cache_bytes == int(1.25 * GIB)


def test_batch_and_kv_dtype_scale_linearly() -> None:
    base = kv_cache_bytes(32, 8, 128, 1000, 1, 2)
    assert kv_cache_bytes(32, 8, 128, 1000, 4, 2) == 4 * base
    assert kv_cache_bytes(32, 8, 128, 1000, 1, 1) == base // 2


def test_sliding_window_caps_every_layer(cat: Catalog) -> None:
    m = cat.get("mistral-7b")
    at_window = estimate_memory(m, context=4096).kv_cache_bytes
    far = estimate_memory(m, context=32768).kv_cache_bytes
    assert at_window == far == 2 * 32 * 8 * 128 * 4096 * 2  # 512 MiB
    assert any("sliding window" in n for n in estimate_memory(m, context=32768).notes)


def test_sliding_window_pattern_keeps_global_layers() -> None:
    # Gemma 3 style: 18 layers, every 6th global -> 3 global, 15 windowed at 512
    assert kv_layer_tokens(18, 32768, 512, 6) == 3 * 32768 + 15 * 512
    assert kv_layer_tokens(18, 100, 512, 6) == 18 * 100


def test_moe_keeps_all_experts_resident(cat: Catalog) -> None:
    est = estimate_memory(cat.get("mixtral-8x7b"), quant="fp16", context=4096)
    assert est.weights_bytes == pytest.approx(46.7e9 * 2, rel=1e-6)
    assert any("mixture of experts" in n for n in est.notes)


def test_quantized_weights() -> None:
    assert weights_bytes(7.0, bits_per_weight("Q4_K_M")) == round(7e9 * 4.85 / 8)
    assert weights_bytes(7.0, bits_per_weight("int4")) == round(7e9 / 2)
    assert weights_bytes(7.0, bits_per_weight("Q8_0")) == round(7e9 * 8.5 / 8)


def test_bits_per_weight_table() -> None:
    assert bits_per_weight("Q8_0") == 8.5
    assert bits_per_weight("q4_0") == 4.5
    assert bits_per_weight("Q4_1") == 5.0
    assert bits_per_weight("Q6_K") == pytest.approx(6.5625)  # exact tensor type via gguf
    assert bits_per_weight("Q4_K_M") == 4.85
    assert bits_per_weight("bf16") == 16
    with pytest.raises(InputError, match="unknown quantization"):
        bits_per_weight("Q9_Z")


def test_undisclosed_stays_none_never_zero() -> None:
    m = Model(
        id="closed",
        name="Closed",
        family="x",
        parameters=Parameters(total_b=None, source="https://x", as_of=None),
    )
    est = estimate_memory(m, context=1000)
    assert est.weights_bytes is None and est.kv_cache_bytes is None and est.total_bytes is None
    assert any("undisclosed" in n for n in est.notes)


def test_encoder_has_no_kv_cache() -> None:
    m = Model(
        id="enc",
        name="Enc",
        family="bert",
        kind="encoder",
        parameters=Parameters(total_b=0.11, source="https://x"),
        architecture=Architecture(source="https://x", type="encoder", layers=12, hidden_size=768, attention_heads=12),
    )
    est = estimate_memory(m, context=512)
    assert est.kv_cache_bytes == 0
    assert est.total_bytes == est.weights_bytes + est.overhead_bytes  # type: ignore[operator]


def test_total_is_sum_of_parts(cat: Catalog) -> None:
    est = estimate_memory(cat.get("llama-2-70b"), quant="Q4_K_M", context=4096, batch=2)
    assert est.total_bytes == est.weights_bytes + est.kv_cache_bytes + est.overhead_bytes  # type: ignore[operator]
