"""llmatlas vs lm-evaluation-harness on the same model, questions and machine (CPU), in one process.

Model: SmolLM2-135M-Instruct in fp32, dequantized from the embedded GGUF by
``benchmarks/convert_smollm2_to_hf.py``. Questions: the first N of ARC-Easy test. Each tool's
model is loaded before the clock starts and gets a warm-up pass on 8 questions. Prints acc and
acc_norm of both, items/s of both, the ratio and per-question prediction agreement; writes
benchmarks/results/cpu_vs_lm_eval.json. Needs ``pip install lm-eval``.

Usage: python benchmarks/cpu_vs_lm_eval.py [--limit 500] [--threads 2] [--lm-eval-batch 16]
       [--batch-tokens N] [--chunk 128]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from gpu_check import LM_EVAL_TASK  # noqa: E402


def model_dir() -> Path:
    out = subprocess.run(
        [sys.executable, str(HERE / "convert_smollm2_to_hf.py")], capture_output=True, text=True, check=True
    )
    return Path(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=500)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lm-eval-batch", type=int, default=16)
    ap.add_argument("--batch-tokens", type=int, default=None, help="llmatlas hf budget (default: backend's)")
    ap.add_argument("--chunk", type=int, default=128, help="llmatlas items per scoring step")
    ap.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    args = ap.parse_args()
    os.environ.update(HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1", OMP_NUM_THREADS=str(args.threads))
    import torch

    torch.set_num_threads(args.threads)
    folder = model_dir()
    work = Path(tempfile.mkdtemp(prefix="cpu-vs-lm-eval-"))
    rows = (args.data / "arc_easy_test.jsonl").read_text().splitlines()[: args.limit]
    (work / "arc_easy_test.jsonl").write_text("\n".join(rows) + "\n")

    from llmatlas.backends.registry import load_backend
    from llmatlas.engine.journal import Journal
    from llmatlas.engine.runner import EvalConfig, run_task

    spec = f"hf:{folder}?dtype=float32&device=cpu&threads={args.threads}"
    if args.batch_tokens:
        spec += f"&batch_tokens={args.batch_tokens}"
    backend = load_backend(spec)
    run_task(backend, "arc_easy", EvalConfig(limit=8, data_dir=str(work)), Journal(work / "warm.sqlite"))
    jr = Journal(work / "ours.sqlite")
    t0 = time.perf_counter()
    res = run_task(backend, "arc_easy", EvalConfig(limit=args.limit, data_dir=str(work), chunk=args.chunk), jr)
    ours_s = time.perf_counter() - t0
    ours_pred = {s.doc_id: s.prediction for s in jr.samples(res.run_id)}
    budget = backend.info().details.get("batch_tokens")
    backend.close()
    print(f"llmatlas: {args.limit} questions in {ours_s:.1f}s", flush=True)

    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    task_dir = work / "task"
    task_dir.mkdir()
    (task_dir / "arc_easy_local.yaml").write_text(LM_EVAL_TASK.format(path=work / "arc_easy_test.jsonl"))
    tm = TaskManager(include_path=str(task_dir))
    lm = HFLM(pretrained=str(folder), device="cpu", dtype="float32", batch_size=args.lm_eval_batch)
    lm_eval.simple_evaluate(model=lm, tasks=["arc_easy_local"], task_manager=tm, limit=8)
    t0 = time.perf_counter()
    out = lm_eval.simple_evaluate(model=lm, tasks=["arc_easy_local"], task_manager=tm, log_samples=True)
    theirs_s = time.perf_counter() - t0
    assert out is not None
    r = out["results"]["arc_easy_local"]
    theirs_pred: dict[str, int] = {}
    for smp in out["samples"]["arc_easy_local"]:
        lls = [x[0] for x in smp["filtered_resps"]]
        theirs_pred[str(smp["doc"]["id"])] = max(range(len(lls)), key=lambda i: lls[i])
    agree = sum(ours_pred.get(k) == v for k, v in theirs_pred.items()) / len(theirs_pred)
    summary: dict[str, Any] = {
        "model": "SmolLM2-135M-Instruct fp32 (dequantized from the embedded Q4_1 GGUF)",
        "questions": args.limit,
        "threads": args.threads,
        "llmatlas_settings": {"batch_tokens": budget, "chunk": args.chunk},
        "load_average": os.getloadavg(),
        "llmatlas": {
            "acc": res.metrics["acc"].value,
            "acc_norm": res.metrics["acc_norm"].value,
            "seconds": ours_s,
            "items_per_s": args.limit / ours_s,
        },
        "lm_eval": {
            "version": lm_eval.__version__,
            "batch_size": args.lm_eval_batch,
            "acc": r["acc,none"],
            "acc_norm": r["acc_norm,none"],
            "seconds": theirs_s,
            "items_per_s": args.limit / theirs_s,
        },
        "prediction_agreement": agree,
        "torch": torch.__version__,
        "transformers": __import__("transformers").__version__,
    }
    summary["ratio"] = summary["llmatlas"]["items_per_s"] / summary["lm_eval"]["items_per_s"]
    summary["acc_diff_points"] = 100 * (summary["llmatlas"]["acc"] - summary["lm_eval"]["acc"])
    summary["acc_norm_diff_points"] = 100 * (summary["llmatlas"]["acc_norm"] - summary["lm_eval"]["acc_norm"])
    print(json.dumps(summary, indent=2))
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "cpu_vs_lm_eval.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
