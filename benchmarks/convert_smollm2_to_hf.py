"""Dequantize the embedded SmolLM2-135M-Instruct GGUF into a Hugging Face folder (fp32 safetensors + tokenizer).

The folder feeds the lm-evaluation-harness comparison (``lm_eval --model hf --model_args pretrained=FOLDER``)
and the ``hf:`` backend. Uses transformers' GGUF loader, so the weights are the Q4_1 weights
dequantized to float32: the same numbers llama.cpp multiplies, up to its on-the-fly arithmetic.

    python benchmarks/convert_smollm2_to_hf.py [OUT_DIR] [--check]

Idempotent: an existing complete folder is left alone. ``--check`` compares the top-1 next token at
each position of a short prompt with llama.cpp (llama-cpp-python, logits_all=True).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

DEFAULT_OUT = Path("~/.cache/llmatlas/hf/smollm2-135m-instruct").expanduser()
DONE = ".converted-from-gguf"  # written last: a folder without it is incomplete and is redone
PROMPT = "The capital of France is Paris. The capital of Germany is"


def convert(out: Path) -> Path:
    from llmatlas.backends.embedded import smollm2_path

    if (out / DONE).is_file() and (out / "config.json").is_file():
        print(f"already converted: {out}", file=sys.stderr)
        return out
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = smollm2_path()
    start = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    # the weights are already plain float32 tensors; transformers only refuses to save because the
    # model still carries its (GGUF) quantizer marker, so drop it
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(out)
    model.save_pretrained(out, safe_serialization=True)
    (out / DONE).write_text(f"{gguf.name}\n")
    print(f"converted {gguf.name} in {time.perf_counter() - start:.1f}s", file=sys.stderr)
    return out


def check(out: Path) -> bool:
    """Top-1 token at every position of PROMPT: transformers (fp32) vs llama.cpp (Q4_1)."""
    import numpy as np
    import torch
    from llama_cpp import Llama
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llmatlas.backends.embedded import smollm2_path

    tokenizer = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    ids = tokenizer.encode(PROMPT)
    with torch.inference_mode():
        hf_logits = model(torch.tensor([ids])).logits[0].numpy()

    llm = Llama(model_path=str(smollm2_path()), logits_all=True, n_ctx=256, verbose=False, seed=0)
    llama_ids = llm.tokenize(PROMPT.encode(), add_bos=False, special=False)
    llm.eval(llama_ids)
    ll_logits = np.array(llm.scores[: len(llama_ids)])

    same_tokens = list(ids) == list(llama_ids)
    hf_top, ll_top = hf_logits.argmax(-1), ll_logits.argmax(-1)
    agree = int((hf_top == ll_top).sum()) if same_tokens else 0
    hf_lp = torch.log_softmax(torch.tensor(hf_logits), -1)
    ll_lp = torch.log_softmax(torch.tensor(ll_logits), -1)
    diff = (hf_lp - ll_lp).abs()
    top = torch.tensor(hf_top)[:, None]
    print(f"tokens identical: {same_tokens} ({len(ids)} tokens)")
    print(f"top-1 agreement: {agree}/{len(ids)} positions")
    if same_tokens:  # llama.cpp quantizes activations to 8 bits for Q4_1 matmuls: expect small drifts
        print(
            f"|Δ log-prob| of the top-1 token: max {float(diff.gather(1, top).max()):.4f}; "
            f"over tokens with p > 1e-3: max {float(diff[hf_lp.exp() > 1e-3].max()):.4f}; "
            f"over the whole vocabulary: max {float(diff.max()):.4f}"
        )
    for pos, (a, b) in enumerate(zip(hf_top, ll_top, strict=False)):
        mark = "" if a == b else "   <-- differs"
        print(
            f"  {pos:2d} {tokenizer.decode([ids[pos]])!r:>12} -> hf {tokenizer.decode([int(a)])!r:>10}"
            f"  llama.cpp {tokenizer.decode([int(b)])!r:>10}{mark}"
        )
    return same_tokens and agree == len(ids)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--check", action="store_true", help="compare top-1 tokens with llama.cpp")
    args = parser.parse_args()
    start = time.perf_counter()
    out = convert(args.out.resolve())
    print(f"({time.perf_counter() - start:.1f}s)", file=sys.stderr)
    ok = check(out) if args.check else True
    print(out)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
