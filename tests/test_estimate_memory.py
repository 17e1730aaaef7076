"""Memory estimator against hand-computed cases (DESIGN.md / issue 1 figures)."""

from __future__ import annotations

import pytest

from llmatlas.catalog import Catalog
from llmatlas.catalog.schema import Architecture, Model, Parameters
from llmatlas.core.errors import InputError
from llmatlas.estimate.memory import estimate_memory, kv_cache_bytes, kv_layer_tokens, weights_bytes
from llmatlas.estimate.quant import bits_per_weight

GIB = 1024**3
SRC = "https://example.com/config.json"


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


# --- architectures of 2024-2026 (issue 12): hand-computed from the published configs -------------


def test_mla_cache_deepseek_v3_at_32k_tokens() -> None:
    # DeepSeek-V3 config.json: 61 layers, kv_lora_rank 512, qk_rope_head_dim 64, 128 heads.
    # MLA caches 512 + 64 = 576 elements per token and layer: 61 × 576 × 32,768 × 2 bytes.
    arch = Architecture(
        source=SRC, layers=61, hidden_size=7168, attention_heads=128, kv_heads=128, head_dim=128,
        kv_lora_rank=512, qk_rope_head_dim=64,
    )  # fmt: skip
    m = Model(
        id="dsv3", name="V3", family="x", parameters=Parameters(source=SRC, total_b=671, active_b=37), architecture=arch
    )
    est = estimate_memory(m, quant="fp8", context=32768, kv_dtype="bf16")
    assert est.kv_cache_bytes == 61 * 576 * 32768 * 2 == 2_302_672_896  # 2.14 GiB
    # the GQA formula would claim 2 × 61 × 128 × 128 × 32,768 × 2 = 122 GiB: 57× too much
    assert kv_cache_bytes(61, 128, 128, 32768, 1, 2) / est.kv_cache_bytes == pytest.approx(56.9, rel=1e-2)
    assert any("latent attention" in n for n in est.notes)
    # all 671B FP8 weights resident: 671e9 bytes
    assert est.weights_bytes == 671_000_000_000


def test_gemma3_27b_at_128k_with_5_to_1_local_global() -> None:
    # Gemma 3 27B config.json: 62 layers, 16 KV heads, head_dim 128, sliding_window 1024, every 6th layer global.
    # 62 // 6 = 10 global layers keep 131,072 tokens; 52 local layers keep 1,024.
    arch = Architecture(
        source=SRC,
        layers=62,
        attention_heads=32,
        kv_heads=16,
        head_dim=128,
        sliding_window=1024,
        sliding_window_pattern=6,
    )
    m = Model(id="g", name="G", family="g", parameters=Parameters(source=SRC, total_b=27.0), architecture=arch)
    est = estimate_memory(m, quant="bf16", context=131072)
    expected = 2 * (10 * 131072 + 52 * 1024) * 16 * 128 * 2
    assert est.kv_cache_bytes == expected == 11_173_625_856  # 10.41 GiB (62 global layers: 62 GiB)


def test_gpt_oss_120b_weights_from_mxfp4_parts() -> None:
    # gpt-oss model card (arXiv:2508.10925, Table 1): MLP (MoE) 114.71B params in MXFP4 (4.25 bits:
    # 32 FP4 values + one 8-bit scale), attention 0.96B + embeddings 1.16B in BF16; checkpoint 60.8 GiB.
    from llmatlas.catalog.schema import Quantization

    q = Quantization(source=SRC, name="mxfp4", native=True, parts={"mxfp4": 114.71, "bf16": 0.96 + 1.16})
    m = Model(
        id="oss", name="oss", family="x", quantizations=[q],
        parameters=Parameters(source=SRC, total_b=116.83, active_b=5.13),
        architecture=Architecture(source=SRC, layers=36, attention_heads=64, kv_heads=8, head_dim=64,
                                  sliding_window=128, sliding_window_pattern=2),
    )  # fmt: skip
    est = estimate_memory(m, quant="mxfp4", context=131072)
    expected = round(114.71e9 * 4.25 / 8) + round(2.12e9 * 2)
    assert est.weights_bytes == pytest.approx(expected, abs=2)
    assert est.weights_bytes / GIB == pytest.approx(60.8, rel=0.01)
    # plain 4.25 bpw on every weight would undercount the BF16 part; plain bf16 would be 217.6 GiB
    assert estimate_memory(m, quant="bf16", context=1).weights_bytes / GIB == pytest.approx(217.6, rel=1e-3)
    # alternating sliding (128) / full layers: 18 × 131,072 + 18 × 128 tokens × 8 KV heads × 64 × 2 × 2 bytes
    assert est.kv_cache_bytes == 2 * (18 * 131072 + 18 * 128) * 8 * 64 * 2


def test_new_weight_formats_bits() -> None:
    assert bits_per_weight("mxfp4") == 4.25
    assert bits_per_weight("MXFP4") == 4.25
    assert bits_per_weight("nvfp4") == 4.5
    assert bits_per_weight("fp8") == 8.0
    assert bits_per_weight("IQ4_XS") == pytest.approx(4.25)
    assert bits_per_weight("Q6_K") == pytest.approx(6.5625)
