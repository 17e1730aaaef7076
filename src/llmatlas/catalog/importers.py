"""Build catalog entries from local files: a GGUF model (via ``gguf``) or a Hugging Face config.json.

The entry cites the file itself (``file:`` URL and sha256 prefix) as the source of every fact it
reads, dated today. Nothing is guessed: what the file does not say stays ``None``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from llmatlas.core.errors import InputError
from llmatlas.estimate.quant import GGUF_FILE_TYPES, tensor_type_bits


def _slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-.")
    return s or "imported-model"


def _sha256_prefix(path: Path, limit: int = 1 << 20) -> str:
    """Hash of the first MiB: identifies the file cheaply even for 100 GB models."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        h.update(f.read(limit))
    return h.hexdigest()[:16]


def _file_source(path: Path) -> str:
    return f"{path.resolve().as_uri()}#sha256-1MiB={_sha256_prefix(path)}"


def _field(reader: Any, key: str) -> Any:
    f = reader.fields.get(key)
    if f is None:
        return None
    try:
        return f.contents()
    except Exception:  # older gguf versions lack contents() for some types
        return None


def gguf_summary(path: Path) -> dict[str, Any]:
    """Metadata and per-tensor-type weight counts of a GGUF file."""
    try:
        import gguf
    except ImportError as exc:  # pragma: no cover - gguf is a core dependency
        raise InputError("reading GGUF needs the 'gguf' package: pip install gguf") from exc
    try:
        reader = gguf.GGUFReader(str(path))
    except Exception as exc:
        raise InputError(f"not a readable GGUF file ({exc.__class__.__name__}: {exc})", path=path) from None
    arch = _field(reader, "general.architecture") or "unknown"
    counts: Counter[str] = Counter()
    stored = 0
    for t in reader.tensors:
        counts[t.tensor_type.name] += int(t.n_elements)
        stored += int(t.n_bytes)

    def a(key: str) -> Any:
        return _field(reader, f"{arch}.{key}")

    file_type = _field(reader, "general.file_type")
    return {
        "architecture": arch,
        "name": _field(reader, "general.name"),
        "basename": _field(reader, "general.basename"),
        "size_label": _field(reader, "general.size_label"),
        "license": _field(reader, "general.license"),
        "languages": _field(reader, "general.languages"),
        "layers": a("block_count"),
        "context_length": a("context_length"),
        "hidden_size": a("embedding_length"),
        "intermediate_size": a("feed_forward_length"),
        "attention_heads": a("attention.head_count"),
        "kv_heads": a("attention.head_count_kv"),
        "head_dim": a("attention.key_length"),
        "sliding_window": a("attention.sliding_window"),
        "experts": a("expert_count"),
        "active_experts": a("expert_used_count"),
        "vocab_size": a("vocab_size"),
        "file_type": GGUF_FILE_TYPES.get(int(file_type), str(file_type)) if file_type is not None else None,
        "tensor_type_weights": dict(counts),
        "params": sum(counts.values()),
        "tensor_bytes": stored,
        "file_bytes": path.stat().st_size,
    }


def _int_or_none(v: Any) -> int | None:
    if isinstance(v, list | tuple):  # some GGUFs store per-layer values; take the first
        v = v[0] if v else None
    return int(v) if isinstance(v, int | float) and v > 0 else None


def gguf_weighted_bits(tensor_type_weights: dict[str, int]) -> float | None:
    """Average bits per weight of a mixed-quant file, from each tensor type's exact size."""
    total = sum(tensor_type_weights.values())
    if not total:
        return None
    bits = 0.0
    for name, n in tensor_type_weights.items():
        b = tensor_type_bits(name)
        if b is None:
            return None
        bits += b * n
    return bits / total


def entry_from_gguf(path: str | Path, model_id: str | None = None) -> dict[str, Any]:
    """A catalog entry (plain dict, YAML-ready) describing a local GGUF file."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise InputError("no such file", path=p)
    s = gguf_summary(p)
    src = _file_source(p)
    today = dt.date.today()
    name = s["name"] or p.stem
    mid = model_id or _slug(p.stem)
    hidden, heads = _int_or_none(s["hidden_size"]), _int_or_none(s["attention_heads"])
    head_dim = _int_or_none(s["head_dim"]) or (hidden // heads if hidden and heads else None)
    arch: dict[str, Any] = {
        "source": src,
        "as_of": today,
        "type": "decoder",
        "layers": _int_or_none(s["layers"]),
        "hidden_size": hidden,
        "intermediate_size": _int_or_none(s["intermediate_size"]),
        "attention_heads": heads,
        "kv_heads": _int_or_none(s["kv_heads"]),
        "head_dim": head_dim,
        "vocab_size": _int_or_none(s["vocab_size"]),
        "max_position_embeddings": _int_or_none(s["context_length"]),
        "sliding_window": _int_or_none(s["sliding_window"]),
        "experts": _int_or_none(s["experts"]),
        "active_experts": _int_or_none(s["active_experts"]),
        "note": f"GGUF architecture '{s['architecture']}'",
    }
    bpw = gguf_weighted_bits(s["tensor_type_weights"])
    entry: dict[str, Any] = {
        "id": mid,
        "name": f"{name} ({s['file_type'] or 'GGUF'})",
        "family": _slug(s["basename"] or s["architecture"]),
        "description": f"Imported from {p.name}",
        "parameters": {
            "total_b": s["params"] / 1e9,
            "source": src,
            "as_of": today,
            "note": f"{s['params']:,} weights counted from the GGUF tensors",
        },
        "architecture": {k: v for k, v in arch.items() if v is not None},
        "access": {"modes": ["open_weights"], "self_hostable": True, "source": src, "as_of": today},
        "quantizations": [
            {
                "name": s["file_type"] or "unknown",
                "bits_per_weight": round(bpw, 4) if bpw else None,
                "file_bytes": s["file_bytes"],
                "source": src,
                "as_of": today,
                "note": "bits per weight averaged over tensor types: "
                + ", ".join(f"{k} {v:,}" for k, v in sorted(s["tensor_type_weights"].items())),
            }
        ],
    }
    if s["context_length"]:
        entry["context"] = {"tokens": _int_or_none(s["context_length"]), "source": src, "as_of": today}
    if s["license"]:
        entry["license"] = {
            "name": str(s["license"]),
            "source": src,
            "as_of": today,
            "note": "as declared in the GGUF metadata",
        }
    if s["languages"]:
        langs = [str(x) for x in s["languages"]] if isinstance(s["languages"], list) else [str(s["languages"])]
        entry["languages"] = {"names": langs, "chinese": "zh" in langs or None, "source": src, "as_of": today}
    return entry


def params_from_config(cfg: dict[str, Any]) -> int | None:
    """Weights of a decoder (Llama/Mistral/Qwen2/Mixtral-style) computed from its config.json."""
    try:
        h = int(cfg["hidden_size"])
        layers = int(cfg["num_hidden_layers"])
        heads = int(cfg["num_attention_heads"])
        vocab = int(cfg["vocab_size"])
        inter = int(cfg["intermediate_size"])
    except (KeyError, TypeError, ValueError):
        return None
    kv = int(cfg.get("num_key_value_heads") or heads)
    hd = int(cfg.get("head_dim") or h // heads)
    experts = int(cfg.get("num_local_experts") or cfg.get("num_experts") or 1)
    bias = bool(cfg.get("attention_bias")) or cfg.get("model_type") == "qwen2"
    attn = h * heads * hd + 2 * h * kv * hd + heads * hd * h
    if bias:
        attn += heads * hd + 2 * kv * hd
    mlp = experts * 3 * h * inter + (h * experts if experts > 1 else 0)
    per_layer = attn + mlp + 2 * h
    embed = vocab * h
    head = 0 if cfg.get("tie_word_embeddings") else vocab * h
    return layers * per_layer + embed + head + h


def active_params_from_config(cfg: dict[str, Any]) -> int | None:
    """For MoE configs, weights used per token (only ``num_experts_per_tok`` experts run)."""
    experts = int(cfg.get("num_local_experts") or cfg.get("num_experts") or 1)
    k = int(cfg.get("num_experts_per_tok") or experts)
    total = params_from_config(cfg)
    if total is None or experts <= 1:
        return total
    h, inter, layers = int(cfg["hidden_size"]), int(cfg["intermediate_size"]), int(cfg["num_hidden_layers"])
    return total - layers * (experts - k) * 3 * h * inter


def entry_from_hf_config(path: str | Path, model_id: str | None = None) -> dict[str, Any]:
    """A catalog entry from a Hugging Face ``config.json`` (a file or a model folder)."""
    p = Path(path).expanduser()
    if p.is_dir():
        p = p / "config.json"
    if not p.is_file():
        raise InputError("no such file", path=p)
    try:
        cfg = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", path=p, line=exc.lineno) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read file: {exc}", path=p) from None
    if not isinstance(cfg, dict) or "num_hidden_layers" not in cfg:
        raise InputError("not a transformer config.json (no num_hidden_layers)", path=p, field="num_hidden_layers")
    src = _file_source(p)
    today = dt.date.today()
    folder = p.parent.name if p.parent.name not in ("", ".") else "model"
    mid = model_id or _slug(folder)
    h, heads = cfg.get("hidden_size"), cfg.get("num_attention_heads")
    experts = cfg.get("num_local_experts") or cfg.get("num_experts")
    arch = {
        "source": src,
        "as_of": today,
        "type": "encoder" if cfg.get("model_type") in ("bert", "roberta", "deberta-v2") else "decoder",
        "layers": cfg.get("num_hidden_layers"),
        "hidden_size": h,
        "intermediate_size": cfg.get("intermediate_size"),
        "attention_heads": heads,
        "kv_heads": cfg.get("num_key_value_heads"),
        "head_dim": cfg.get("head_dim") or (h // heads if h and heads else None),
        "vocab_size": cfg.get("vocab_size"),
        "max_position_embeddings": cfg.get("max_position_embeddings"),
        "sliding_window": cfg.get("sliding_window") if cfg.get("use_sliding_window", True) else None,
        "experts": experts,
        "active_experts": cfg.get("num_experts_per_tok") if experts else None,
        "activation": cfg.get("hidden_act"),
        "tied_embeddings": cfg.get("tie_word_embeddings"),
        "note": f"model_type '{cfg.get('model_type')}', architectures {cfg.get('architectures')}",
    }
    total, active = params_from_config(cfg), active_params_from_config(cfg)
    entry: dict[str, Any] = {
        "id": mid,
        "name": folder,
        "family": _slug(str(cfg.get("model_type") or folder)),
        "description": f"Imported from {p}",
        "architecture": {k: v for k, v in arch.items() if v is not None},
        "access": {"modes": ["open_weights"], "self_hostable": True, "source": src, "as_of": today},
    }
    if total is not None:
        entry["parameters"] = {
            "total_b": round(total / 1e9, 6),
            "source": src,
            "as_of": today,
            "note": f"{total:,} weights computed from the config (Llama-style layout)",
        }
        if active is not None and active != total:
            entry["parameters"]["active_b"] = round(active / 1e9, 6)
    if cfg.get("max_position_embeddings"):
        entry["context"] = {"tokens": cfg["max_position_embeddings"], "source": src, "as_of": today}
    return entry


def import_file(path: str | Path, model_id: str | None = None) -> dict[str, Any]:
    """Dispatch on the file: GGUF magic bytes, else a config.json."""
    p = Path(path).expanduser()
    if not p.exists():
        raise InputError("no such file", path=p)
    if p.is_file():
        with p.open("rb") as f:
            if f.read(4) == b"GGUF":
                return entry_from_gguf(p, model_id)
    return entry_from_hf_config(p, model_id)
