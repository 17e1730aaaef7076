"""GPU: llmatlas's memory estimator against what torch allocates, for Llama-2-7B and Mistral-7B shapes.

For each catalog entry (``llama-2-7b``, ``mistral-7b``: layers, hidden size, heads, KV heads,
intermediate size, vocabulary and sliding window taken from the llmatlas catalog), a random-init model
is built directly on CUDA in bf16 and run once over a ``--context``-token prompt (batch 1,
``use_cache=True``). Compared with ``estimate_memory(model, quant="bf16", context=N)``:

* weights: ``torch.cuda.memory_allocated()`` after building, minus what was allocated before;
* KV cache: the bytes of the key and value tensors in the returned ``past_key_values``;
* ``torch.cuda.max_memory_allocated()`` over build + forward: weights + KV + the forward pass's
  activations (and the one kept logits row); what exceeds weights + KV is set against the estimator's
  stated, separately-shown runtime overhead (512 MiB by default).

Target: weights and KV within 5% of what torch holds. The measuring code is ``gpu_check.memory_check``
(shared with ``gpu_check.py memory``); this script adds the verdict.

    python benchmarks/gpu_memory_check.py --out DIR [--tiny]   (--tiny: small shapes on CPU, a smoke test)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from gpu_check import memory_check  # noqa: E402

MIB = 2**20
TOLERANCE_PCT = 5.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--tiny", action="store_true")
    args = ap.parse_args()
    import torch

    rows = memory_check(args.tiny)
    for r in rows:
        r["weights_within_5pct"] = abs(r["weights_error_pct"]) <= TOLERANCE_PCT
        r["kv_within_5pct"] = r["kv_error_pct"] is not None and abs(r["kv_error_pct"]) <= TOLERANCE_PCT
        extra = r["peak_minus_weights_minus_kv"]
        r["peak_extra_mib"] = extra / MIB if extra is not None else None
        stated = r["estimate_total_with_overhead"] - r["weights_estimate"] - r["kv_estimate"]
        r["stated_overhead_mib"] = stated / MIB
        print(
            f"{r['model']}: weights est {r['weights_estimate'] / 2**30:.3f} GiB vs actual "
            f"{r['weights_actual'] / 2**30:.3f} GiB ({r['weights_error_pct']:+.3f}%); KV est "
            f"{r['kv_estimate'] / MIB:.1f} MiB vs actual {r['kv_actual'] / MIB:.1f} MiB "
            f"({r['kv_error_pct'] or 0:+.3f}%); "
            f"peak - weights - KV = {r['peak_extra_mib']} MiB vs stated overhead {stated / MIB:.0f} MiB",
            flush=True,
        )
    summary = {
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu (tiny smoke test)",
        "torch": torch.__version__,
        "transformers": __import__("transformers").__version__,
        "tolerance_pct": TOLERANCE_PCT,
        "all_within_tolerance": all(r["weights_within_5pct"] and r["kv_within_5pct"] for r in rows),
        "models": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_memory_check.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "models"}), flush=True)


if __name__ == "__main__":
    main()
