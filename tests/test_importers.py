"""Importing local models: Hugging Face config.json and GGUF files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from llmatlas.catalog.importers import (
    active_params_from_config,
    entry_from_gguf,
    entry_from_hf_config,
    import_file,
    params_from_config,
)
from llmatlas.catalog.loader import load_text
from llmatlas.core.errors import InputError

LLAMA2_7B = {
    "architectures": ["LlamaForCausalLM"],
    "hidden_size": 4096,
    "intermediate_size": 11008,
    "max_position_embeddings": 4096,
    "model_type": "llama",
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "num_key_value_heads": 32,
    "vocab_size": 32000,
    "tie_word_embeddings": False,
    "hidden_act": "silu",
}
MIXTRAL = {
    "architectures": ["MixtralForCausalLM"],
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "max_position_embeddings": 32768,
    "model_type": "mixtral",
    "num_attention_heads": 32,
    "num_experts_per_tok": 2,
    "num_hidden_layers": 32,
    "num_key_value_heads": 8,
    "num_local_experts": 8,
    "vocab_size": 32000,
    "sliding_window": None,
}


def test_llama2_7b_params_from_config() -> None:
    assert params_from_config(LLAMA2_7B) == 6_738_415_616  # the published count


def test_mixtral_total_and_active_params() -> None:
    total = params_from_config(MIXTRAL)
    active = active_params_from_config(MIXTRAL)
    assert total is not None and active is not None
    assert total / 1e9 == pytest.approx(46.70, abs=0.01)
    assert active / 1e9 == pytest.approx(12.88, abs=0.01)


def _as_catalog(entry: dict) -> object:  # type: ignore[type-arg]
    import yaml

    return load_text(yaml.safe_dump({"developer": {"id": "local", "name": "L"}, "models": [entry]}), "<t>").models[0]


def test_hf_config_import(tmp_path: Path) -> None:
    folder = tmp_path / "Mixtral-8x7B-v0.1"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(MIXTRAL))
    entry = entry_from_hf_config(folder)
    m = _as_catalog(entry)
    assert m.id == "mixtral-8x7b-v0.1"  # type: ignore[attr-defined]
    assert m.architecture.experts == 8 and m.architecture.kv_heads == 8  # type: ignore[attr-defined]
    assert m.parameters.active_b == pytest.approx(12.88, abs=0.01)  # type: ignore[attr-defined]
    assert m.architecture.source.startswith("file://")  # type: ignore[attr-defined]


def test_bad_config_errors(tmp_path: Path) -> None:
    p = tmp_path / "config.json"
    p.write_text('{"hidden_size": 1,\n "oops" }')
    with pytest.raises(InputError, match="invalid JSON") as info:
        entry_from_hf_config(p)
    assert info.value.line == 2
    p.write_text('{"model_type": "x"}')
    with pytest.raises(InputError, match="num_hidden_layers"):
        entry_from_hf_config(p)
    with pytest.raises(InputError, match="no such file"):
        import_file(tmp_path / "nope.gguf")


def write_tiny_gguf(path: Path) -> int:
    """A real GGUF (llama arch) with two F32 and one F16 tensor; returns the weight count."""
    import gguf

    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("Tiny Test")
    w.add_block_count(2)
    w.add_context_length(256)
    w.add_embedding_length(64)
    w.add_feed_forward_length(128)
    w.add_head_count(4)
    w.add_head_count_kv(2)
    w.add_file_type(1)
    w.add_tensor("token_embd.weight", np.zeros((100, 64), dtype=np.float16))
    w.add_tensor("blk.0.attn_q.weight", np.zeros((64, 64), dtype=np.float32))
    w.add_tensor("output_norm.weight", np.zeros((64,), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return 100 * 64 + 64 * 64 + 64


def test_gguf_import_reads_metadata_and_tensors(tmp_path: Path) -> None:
    p = tmp_path / "tiny.gguf"
    n = write_tiny_gguf(p)
    m = _as_catalog(entry_from_gguf(p))
    assert m.architecture.layers == 2 and m.architecture.kv_heads == 2  # type: ignore[attr-defined]
    assert m.architecture.head_dim == 16  # type: ignore[attr-defined]
    assert m.context_tokens == 256  # type: ignore[attr-defined]
    assert m.parameters.total_b == pytest.approx(n / 1e9)  # type: ignore[attr-defined]
    q = m.quantizations[0]  # type: ignore[attr-defined]
    assert q.name == "F16"
    assert q.bits_per_weight == pytest.approx((100 * 64 * 16 + (64 * 64 + 64) * 32) / n, rel=1e-4)
    assert import_file(p)["id"] == "tiny"


def test_garbage_gguf_is_a_clear_error(tmp_path: Path) -> None:
    p = tmp_path / "broken.gguf"
    p.write_bytes(b"GGUF" + b"\x00" * 10)
    with pytest.raises(InputError, match="not a readable GGUF"):
        import_file(p)


@pytest.mark.slow
def test_embedded_smollm2_import_within_10_percent_of_file() -> None:
    from llmatlas.backends.embedded import smollm2_path
    from llmatlas.estimate.memory import weights_bytes

    path = smollm2_path()
    m = _as_catalog(entry_from_gguf(path))
    q = m.quantizations[0]  # type: ignore[attr-defined]
    est = weights_bytes(m.parameters.total_b, q.bits_per_weight)  # type: ignore[attr-defined]
    size = path.stat().st_size
    assert abs(est - size) / size < 0.10
    assert m.architecture.layers == 30 and m.architecture.kv_heads == 3  # type: ignore[attr-defined]
    assert q.name == "Q4_1"
