"""Bits per weight of dtypes, GGUF tensor types and GGUF file types (mixes).

GGUF *tensor* types come from the ``gguf`` package's block sizes (exact). GGUF *file* types such as
Q4_K_M mix tensor types; their average bits per weight follow from the LLaMA-7B (6.74B weights)
file sizes llama.cpp lists for each type (k-quants PR and ``quantize --help``: Q4_K_M 3.80 GiB →
4.85 bpw, Q3_K_M 3.07 GiB → 3.91 bpw, ...).
"""

from __future__ import annotations

from llmatlas.core.errors import InputError

QUANT_SOURCE = "https://github.com/ggerganov/llama.cpp/pull/1684"

DTYPE_BITS: dict[str, float] = {
    "fp32": 32.0,
    "float32": 32.0,
    "fp16": 16.0,
    "float16": 16.0,
    "bf16": 16.0,
    "bfloat16": 16.0,
    "fp8": 8.0,  # FP8 E4M3 (DeepSeek-V3's native weights; its 128×128 block scales add ~0.001 bpw)
    "int8": 8.0,
    "int4": 4.0,
    # OCP microscaling FP4: 32 E2M1 values share one E8M0 scale byte → 4 + 8/32 bits (gpt-oss experts)
    "mxfp4": 4.25,
    # NVIDIA NVFP4: 16 E2M1 values share one FP8 scale → 4 + 8/16 bits (per-tensor FP32 scale ignored)
    "nvfp4": 4.5,
}

# Average bits per weight of llama.cpp file types (mixes) on LLaMA-7B, per the sources above.
GGUF_FILE_TYPE_BITS: dict[str, float] = {
    "Q2_K": 3.35,  # 2.63 GiB: the mix keeps some tensors at Q4_K
    "Q3_K_S": 3.50,
    "Q3_K_M": 3.91,
    "Q3_K_L": 4.27,
    "Q4_K_S": 4.58,
    "Q4_K_M": 4.85,
    "Q5_K_S": 5.54,
    "Q5_K_M": 5.69,
}

# llama.cpp's LLAMA_FTYPE enum -> name, as stored in GGUF ``general.file_type``.
GGUF_FILE_TYPES: dict[int, str] = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    19: "IQ2_XXS",
    20: "IQ2_XS",
    21: "Q2_K_S",
    22: "IQ3_XS",
    23: "IQ3_XXS",
    24: "IQ1_S",
    25: "IQ4_NL",
    26: "IQ3_S",
    27: "IQ3_M",
    28: "IQ2_S",
    29: "IQ2_M",
    30: "IQ4_XS",
    31: "IQ1_M",
    32: "BF16",
    36: "TQ1_0",
    37: "TQ2_0",
    38: "MXFP4_MOE",
}


def tensor_type_bits(name: str) -> float | None:
    """Exact bits per weight of a GGUF tensor type (block bytes × 8 / block size)."""
    import gguf

    try:
        qtype = gguf.GGMLQuantizationType[name.upper()]
    except KeyError:
        return None
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    return float(type_size) * 8.0 / float(block_size)


def bits_per_weight(quant: str) -> float:
    """Bits per weight for a dtype (fp16, int4...), a GGUF file type (Q4_K_M) or tensor type (Q8_0)."""
    key = quant.strip()
    if key.lower() in DTYPE_BITS:
        return DTYPE_BITS[key.lower()]
    upper = key.upper()
    if upper in GGUF_FILE_TYPE_BITS:
        return GGUF_FILE_TYPE_BITS[upper]
    bits = tensor_type_bits(upper)
    if bits is not None:
        return bits
    known = sorted({*DTYPE_BITS, *GGUF_FILE_TYPE_BITS, "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "IQ4_XS"})
    raise InputError(f"unknown quantization '{quant}'; known: {', '.join(known)}", field="quant")
