"""How much work llmatlas's packed scorer saves over lm-evaluation-harness, counted, not timed.

Timings on a shared 2-core machine are noisy; token counts are not. For the first N questions of a
task this tokenizes every (context, choice) pair exactly as both tools do (lm-eval's pair encoding,
which the ``hf`` backend reproduces) and counts:

* lm-eval (``--model hf``): one row per (context, choice) of ``context + continuation[:-1]`` tokens,
  sorted longest first and padded per batch of ``B``; full-vocabulary logits at every position;
* llmatlas ``hf``: one packed row per question (context once + every continuation but its last
  token), batched by the backend's own ``_batches`` under ``batch_tokens`` within each runner chunk
  (the items one ``loglikelihood`` call sees); logits only at the continuation positions.

From those, a compute model in multiply-accumulates: body (all weights but the output head) per
padded token + output head per logits row. Its ratio is the speed-up a backend could reach with
equally efficient kernels, i.e. the ceiling for "llmatlas items/s ÷ lm-eval items/s". Also shown:
what ordering the items by length *before* chunking (a runner change, simulated here) would give.

    python benchmarks/mc_work_model.py [--task arc_easy] [--limit 500] [--model-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def model_dir() -> Path:
    out = subprocess.run(
        [sys.executable, str(HERE / "convert_smollm2_to_hf.py")], capture_output=True, text=True, check=True
    )
    return Path(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="arc_easy")
    ap.add_argument("--limit", type=int, default=500)
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--model-dir", type=Path, default=None)
    ap.add_argument("--lm-eval-batch", default="16,64")
    ap.add_argument("--chunks", default="16,64,500")
    ap.add_argument("--budgets", default="512,1024,2048,4096,65536")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    from llmatlas.backends.registry import load_backend
    from llmatlas.tasks.registry import get_task

    folder = args.model_dir or model_dir()
    backend: Any = load_backend(f"hf:{folder}?device=cpu&threads=1")
    task = get_task(args.task, None)
    docs = task.load(str(args.data)).samples[: args.limit]
    qs = [task.question(d, task.fewshot_for(d, [])) for d in docs]
    n = len(qs)
    emb = backend.model.get_output_embeddings().weight
    head_macs = emb.shape[0] * emb.shape[1]
    total_params = sum(p.numel() for p in backend.model.parameters())
    tied = backend.model.get_input_embeddings().weight.data_ptr() == emb.data_ptr()
    # body = every weight a token passes through except the output head (embedding lookups are free)
    body_macs = total_params - (0 if tied else head_macs) - backend.model.get_input_embeddings().weight.numel()

    # lm-eval: rows of context + continuation[:-1], logits everywhere
    lengths: list[int] = []
    ctx_lens: list[int] = []
    cont_lens: list[int] = []
    for q in qs:
        for c in q.continuations:
            ctx, cont = backend.encode_pair(q.context, c)
            lengths.append(len(ctx) + len(cont) - 1)
            cont_lens.append(len(cont))
        ctx_lens.append(len(backend.encode_pair(q.context, q.continuations[0])[0]))
    lengths.sort(reverse=True)
    real_lm = sum(lengths)
    lm_eval: dict[str, Any] = {"tokens": real_lm}
    for b in (int(x) for x in args.lm_eval_batch.split(",")):
        padded = sum(max(lengths[k : k + b]) * len(lengths[k : k + b]) for k in range(0, len(lengths), b))
        lm_eval[f"bs{b}"] = {"padded_tokens": padded, "macs": padded * (body_macs + head_macs)}

    def ours(order: list[int], chunk: int, budget: int) -> dict[str, Any]:
        backend.batch_tokens = budget
        padded = real = rows = batches = 0
        for k in range(0, n, chunk):
            units, _ = backend._units([qs[i] for i in order[k : k + chunk]])
            for batch in backend._batches(units):
                batches += 1
                padded += len(batch) * max(u.length for u in batch)
                real += sum(u.length for u in batch)
                rows += sum(u.n_scored for u in batch)
        return {
            "batches": batches,
            "padded_tokens": padded,
            "real_tokens": real,
            "padding_efficiency": real / padded,
            "logit_rows": rows,
            "macs": padded * body_macs + rows * head_macs,
        }

    as_is = list(range(n))
    by_len = sorted(as_is, key=lambda i: -(len(qs[i].context) + sum(len(c) for c in qs[i].continuations)))
    best_lm = min(v["macs"] for k, v in lm_eval.items() if k.startswith("bs"))
    configs = []
    for chunk in (int(x) for x in args.chunks.split(",")):
        for budget in (int(x) for x in args.budgets.split(",")):
            for name, order in (("as_is", as_is), ("sorted_before_chunking", by_len)):
                r = ours(order, chunk, budget)
                r |= {
                    "chunk": chunk,
                    "batch_tokens": budget,
                    "order": name,
                    "ceiling_vs_best_lm_eval": best_lm / r["macs"],
                }
                configs.append(r)
    ideal_macs = sum(u.length for u in backend._units(qs)[0]) * body_macs + sum(cont_lens) * head_macs
    summary = {
        "task": args.task,
        "questions": n,
        "mean_context_tokens": sum(ctx_lens) / n,
        "mean_continuation_tokens": sum(cont_lens) / len(cont_lens),
        "mean_choices": len(cont_lens) / n,
        "body_macs_per_token": body_macs,
        "head_macs_per_row": head_macs,
        "lm_eval": lm_eval,
        "llmatlas_no_padding_ceiling_vs_best_lm_eval": best_lm / ideal_macs,
        "llmatlas_configs": configs,
    }
    print(
        f"{args.task} n={n}: context {summary['mean_context_tokens']:.1f} tokens, continuation "
        f"{summary['mean_continuation_tokens']:.2f} tokens x {summary['mean_choices']:.2f} choices; "
        f"lm-eval tokens {real_lm}; no-padding ceiling {summary['llmatlas_no_padding_ceiling_vs_best_lm_eval']:.2f}x"
    )
    for b, v in lm_eval.items():
        if b.startswith("bs"):
            print(f"  lm-eval {b}: padded {v['padded_tokens']}")
    print(f"  {'chunk':>5} {'budget':>6} {'order':>22} {'padded':>7} {'eff':>5} {'ceiling':>7}")
    for r in configs:
        print(
            f"  {r['chunk']:>5} {r['batch_tokens']:>6} {r['order']:>22} {r['padded_tokens']:>7} "
            f"{r['padding_efficiency']:>5.2f} {r['ceiling_vs_best_lm_eval']:>6.2f}x"
        )
    out = HERE / "results" / f"mc_work_model_{args.task}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
