"""llmatlas ``hf`` vs lm-evaluation-harness ``HFLM`` scoring, interleaved in one process (CPU).

On a shared machine, load changes over minutes; two runs one after the other then measure the load
as much as the tools. Here both scorers live in one process, with the same model folder, the same
torch thread count and the same questions, and take turns on blocks of questions (ABBA order: block
k runs llmatlas first when k is even, lm-eval first when odd), so a change of load hits both alike.
The ratio of summed scoring times is the speed ratio; per-block ratios show its spread.

* llmatlas: ``HFBackend.loglikelihood(block)`` (the packed scorer; one call per block, as the runner
  makes one call per ``--chunk`` of items), backend options from ``--spec-options``.
* lm-eval: ``HFLM(pretrained=DIR, dtype=float32, batch_size=B).loglikelihood(instances)``, i.e. what
  ``lm_eval --model hf`` runs for a multiple-choice task: one ``(context, " " + choice)`` request
  per choice, with the task's prompt ``Question: ...\\nAnswer:``.

Accuracy is computed from the log-likelihoods the same way for both (acc: argmax; acc_norm: argmax
of log-likelihood / characters of the choice), and prediction agreement per question is reported.

    python benchmarks/interleaved_vs_lm_eval.py [--limit 500] [--block 50] [--threads 2]
        [--lm-eval-batch 16] [--spec-options batch_tokens=1024]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def model_dir() -> Path:
    out = subprocess.run(
        [sys.executable, str(HERE / "convert_smollm2_to_hf.py")], capture_output=True, text=True, check=True
    )
    return Path(out.stdout.strip().splitlines()[-1])


def argmax(xs: list[float]) -> int:
    return max(range(len(xs)), key=lambda i: xs[i])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=500)
    ap.add_argument("--block", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lm-eval-batch", type=int, default=16)
    ap.add_argument("--spec-options", default="", help="extra hf backend options, e.g. batch_tokens=1024")
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--out", type=Path, default=HERE / "results" / "interleaved_vs_lm_eval.json")
    args = ap.parse_args()
    os.environ.update(HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    import torch

    torch.set_num_threads(args.threads)
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    from llmatlas.backends.registry import load_backend

    folder = model_dir()
    rows = [json.loads(x) for x in (args.data / "arc_easy_test.jsonl").read_text().splitlines()[: args.limit]]
    extra = f"&{args.spec_options}" if args.spec_options else ""
    t0 = time.perf_counter()
    ours: Any = load_backend(f"hf:{folder}?device=cpu&dtype=float32&threads={args.threads}{extra}")
    ours_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    theirs = HFLM(pretrained=str(folder), device="cpu", dtype="float32", batch_size=args.lm_eval_batch)
    theirs_load = time.perf_counter() - t0
    torch.set_num_threads(args.threads)  # in case either constructor changed it

    from llmatlas.backends.base import MCQuestion

    def ours_block(block: list[dict[str, Any]]) -> list[list[float]]:
        qs = [
            MCQuestion(f"Question: {r['question']}\nAnswer:", tuple(" " + t for t in r["choices"]["text"]))
            for r in block
        ]
        return [[s.logprob for s in row] for row in ours.loglikelihood(qs)]

    def theirs_block(block: list[dict[str, Any]]) -> list[list[float]]:
        reqs, owner = [], []
        for qi, r in enumerate(block):
            for t in r["choices"]["text"]:
                ctx = f"Question: {r['question']}\nAnswer:"
                reqs.append(Instance("loglikelihood", r, (ctx, " " + t), len(reqs)))
                owner.append(qi)
        out: list[list[float]] = [[] for _ in block]
        for qi, (ll, _) in zip(owner, theirs.loglikelihood(reqs, disable_tqdm=True), strict=True):
            out[qi].append(ll)
        return out

    ours_block(rows[:8])  # warm-up both
    theirs_block(rows[:8])
    blocks = [rows[k : k + args.block] for k in range(0, len(rows), args.block)]
    t_ours: list[float] = []
    t_theirs: list[float] = []
    ll_ours: list[list[float]] = []
    ll_theirs: list[list[float]] = []
    loads = [os.getloadavg()[0]]
    for k, block in enumerate(blocks):
        runs = [("ours", ours_block), ("theirs", theirs_block)]
        for name, fn in runs if k % 2 == 0 else runs[::-1]:
            t0 = time.perf_counter()
            lls = fn(block)
            dt = time.perf_counter() - t0
            (t_ours if name == "ours" else t_theirs).append(dt)
            (ll_ours if name == "ours" else ll_theirs).extend(lls)
        loads.append(os.getloadavg()[0])
        print(
            f"block {k}: llmatlas {len(block) / t_ours[-1]:.2f} q/s, lm-eval {len(block) / t_theirs[-1]:.2f} q/s, "
            f"ratio {t_theirs[-1] / t_ours[-1]:.2f}, load {loads[-1]:.2f}",
            flush=True,
        )

    def metrics(lls: list[list[float]]) -> dict[str, Any]:
        pred = [argmax(x) for x in lls]
        pred_norm = [
            argmax([v / len(c) for v, c in zip(x, r["choices"]["text"], strict=True)])
            for x, r in zip(lls, rows, strict=True)
        ]
        gold = [r["choices"]["label"].index(r["answerKey"]) for r in rows]
        return {
            "acc": sum(p == g for p, g in zip(pred, gold, strict=True)) / len(rows),
            "acc_norm": sum(p == g for p, g in zip(pred_norm, gold, strict=True)) / len(rows),
            "_pred": pred,
            "_pred_norm": pred_norm,
        }

    m_ours, m_theirs = metrics(ll_ours), metrics(ll_theirs)
    n = len(rows)
    diffs = [abs(a - b) for x, y in zip(ll_ours, ll_theirs, strict=True) for a, b in zip(x, y, strict=True)]
    ratios = sorted(b / a for a, b in zip(t_ours, t_theirs, strict=True))
    import lm_eval
    import transformers

    summary = {
        "model": str(folder),
        "questions": n,
        "block": args.block,
        "threads": args.threads,
        "cpu_cores": os.cpu_count(),
        "load_average_1min_per_block": [round(x, 2) for x in loads],
        "llmatlas": {
            "options": ours.info().details.get("batch_tokens"),
            "load_seconds": ours_load,
            "scoring_seconds": sum(t_ours),
            "items_per_s": n / sum(t_ours),
            "acc": m_ours["acc"],
            "acc_norm": m_ours["acc_norm"],
        },
        "lm_eval": {
            "version": lm_eval.__version__,
            "batch_size": args.lm_eval_batch,
            "load_seconds": theirs_load,
            "scoring_seconds": sum(t_theirs),
            "items_per_s": n / sum(t_theirs),
            "acc": m_theirs["acc"],
            "acc_norm": m_theirs["acc_norm"],
        },
        "ratio": sum(t_theirs) / sum(t_ours),
        "ratio_per_block_min_median_max": [ratios[0], ratios[len(ratios) // 2], ratios[-1]],
        "prediction_agreement_acc": sum(a == b for a, b in zip(m_ours["_pred"], m_theirs["_pred"], strict=True)) / n,
        "prediction_agreement_acc_norm": sum(
            a == b for a, b in zip(m_ours["_pred_norm"], m_theirs["_pred_norm"], strict=True)
        )
        / n,
        "max_abs_logprob_diff": max(diffs),
        "mean_abs_logprob_diff": sum(diffs) / len(diffs),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }
    summary["llmatlas"]["options"] = f"batch_tokens={summary['llmatlas']['options']}"
    print(json.dumps(summary, indent=2))
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
