"""GPU: llmatlas ``hf`` backend vs lm-evaluation-harness ``--model hf``, both through their command lines.

Model: a random-init Llama-architecture model of about 1.1B weights (hidden 2048, 22 layers, 32 heads,
4 KV heads, intermediate 5632, the SmolLM2 tokenizer's vocabulary, bf16, ``torch.manual_seed(0)``),
created on the device by ``gpu_check.make_random_model`` and saved with the tokenizer. Questions: the
first N lines of ARC-Easy test. Accuracy means nothing for random weights; prediction agreement does.

Each run is a fresh process, as a user would start it, so the figures include CUDA start-up:

* lm-eval: ``lm_eval --model hf --model_args pretrained=DIR,dtype=bfloat16 --device cuda --batch_size B
  --tasks arc_easy_local --include_path TASKDIR --log_samples``, one run per batch size. A tiny wrapper
  times lm-eval's ``evaluator.evaluate`` (request building, scoring, metrics; the model is loaded and the
  dataset built before it) and otherwise runs lm-eval's own CLI entry point unchanged.
* llmatlas: ``llmatlas eval --model "hf:DIR?device=cuda&dtype=bfloat16" --task arc_easy --chunk C --json``,
  one run per chunk size (64 = the CLI default: items scored per step, the window length sorting sees).
  Scoring time = ``timing.seconds`` from its JSON (the run loop, after model load).

End-to-end = the process's wall time (imports, model load, data, scoring, writing results).

    python benchmarks/gpu_vs_lm_eval.py --data DIR --tokenizer DIR --out DIR [--limit 500]
        [--lm-eval-batch 64,128,256] [--chunks 64,500] [--tiny]    (--tiny: 2-layer model on CPU)
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
sys.path.insert(0, str(HERE))

from gpu_check import LM_EVAL_TASK, make_random_model  # noqa: E402

# Runs lm-eval's CLI with evaluator.evaluate timed (simple_evaluate looks it up as a module global).
LM_EVAL_WRAPPER = """
import json, os, sys, time
import lm_eval.evaluator as ev
_orig = ev.evaluate
def _timed(*a, **k):
    t0 = time.perf_counter()
    out = _orig(*a, **k)
    with open(os.environ["LMEVAL_TIMING"], "w") as f:
        json.dump({"evaluate_seconds": time.perf_counter() - t0}, f)
    return out
ev.evaluate = _timed
from lm_eval.__main__ import cli_evaluate
sys.argv[0] = "lm_eval"
cli_evaluate()
"""
LLMATLAS_CLI = "import sys; from llmatlas.cli.main import run; sys.argv[0] = 'llmatlas'; run()"


def argmax(xs: list[float]) -> int:
    return max(range(len(xs)), key=lambda i: xs[i])


def norm_pred(lls: list[float], choices: list[str]) -> int:
    return argmax([ll / max(1, len(c)) for ll, c in zip(lls, choices, strict=True)])


def agreement(a: dict[str, int], b: dict[str, int]) -> float | None:
    keys = a.keys() & b.keys()
    return sum(a[k] == b[k] for k in keys) / len(keys) if keys else None


def run_llmatlas(
    model: Path, data: Path, work: Path, limit: int, chunk: int, device: str, dtype: str, env: dict[str, str]
) -> dict[str, Any]:
    tag = f"chunk{chunk}"
    out_dir = work / f"llmatlas_{tag}"
    journal = work / f"j_{tag}.sqlite"
    for stale in work.glob(f"j_{tag}.sqlite*"):  # an old journal would resume instead of scoring
        stale.unlink()
    spec = f"hf:{model}?device={device}&dtype={dtype}"
    cmd = [sys.executable, "-c", LLMATLAS_CLI, "eval", "--model", spec, "--task", "arc_easy"]
    cmd += ["--limit", str(limit), "--data-dir", str(data), "--journal", str(journal), "--chunk", str(chunk)]
    cmd += ["--out", str(out_dir), "--json"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"llmatlas failed (rc {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    res = json.loads(proc.stdout)
    preds: dict[str, int] = {}
    preds_norm: dict[str, int] = {}
    for line in (out_dir / "arc_easy_samples.jsonl").read_text().splitlines():
        s = json.loads(line)
        preds[s["doc_id"]] = argmax(s["logprobs"])
        preds_norm[s["doc_id"]] = norm_pred(s["logprobs"], s["choices"])
    secs = res["timing"]["seconds"]
    row = {
        "chunk": chunk,
        "batch_tokens": res["backend_details"].get("batch_tokens"),
        "scoring_seconds": secs,
        "items_per_s": limit / secs,
        "end_to_end_seconds": wall,
        "end_to_end_items_per_s": limit / wall,
        "acc": res["metrics"]["acc"]["value"],
        "acc_norm": res["metrics"]["acc_norm"]["value"],
        "command": " ".join(["llmatlas", *cmd[3:]]),
    }
    print(json.dumps(row), flush=True)
    return row | {"_preds": preds, "_preds_norm": preds_norm}


def run_lm_eval(
    model: Path, task_dir: Path, work: Path, limit: int, batch: str, device: str, dtype: str, env: dict[str, str]
) -> dict[str, Any]:
    out_dir = work / f"lm_eval_bs{batch}"
    timing = work / f"lm_eval_bs{batch}_timing.json"
    args = ["--model", "hf", "--model_args", f"pretrained={model},dtype={dtype}", "--tasks", "arc_easy_local"]
    args += ["--include_path", str(task_dir), "--device", device, "--batch_size", batch]
    args += ["--log_samples", "--output_path", str(out_dir)]
    t0 = time.perf_counter()
    cmd = [sys.executable, "-c", LM_EVAL_WRAPPER, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env | {"LMEVAL_TIMING": str(timing)})
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"lm_eval failed (rc {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    secs = json.loads(timing.read_text())["evaluate_seconds"]
    results = json.loads(sorted(out_dir.rglob("results_*.json"))[-1].read_text())
    r = results["results"]["arc_easy_local"]
    preds: dict[str, int] = {}
    preds_norm: dict[str, int] = {}
    for line in sorted(out_dir.rglob("samples_arc_easy_local_*.jsonl"))[-1].read_text().splitlines():
        s = json.loads(line)
        lls = [float(x[0]) for x in s["filtered_resps"]]
        doc_id = str(s["doc"]["id"])
        preds[doc_id] = argmax(lls)
        preds_norm[doc_id] = norm_pred(lls, list(s["doc"]["choices"]["text"]))
    row = {
        "batch_size": batch,
        "scoring_seconds": secs,
        "items_per_s": limit / secs,
        "end_to_end_seconds": wall,
        "end_to_end_items_per_s": limit / wall,
        "acc": r["acc,none"],
        "acc_norm": r["acc_norm,none"],
        "command": " ".join(["lm_eval", *args]),
    }
    print(json.dumps(row), flush=True)
    return row | {"_preds": preds, "_preds_norm": preds_norm}


def public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if not k.startswith("_")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="folder holding arc_easy_test.jsonl")
    ap.add_argument("--tokenizer", type=Path, required=True, help="folder holding the SmolLM2 tokenizer files")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--work", type=Path, default=Path("/tmp/gpu-vs-lm-eval"))
    ap.add_argument("--limit", type=int, default=500)
    ap.add_argument("--lm-eval-batch", default="64,128,256")
    ap.add_argument("--chunks", default="64,500")
    ap.add_argument("--tiny", action="store_true")
    args = ap.parse_args()
    import torch

    cuda = torch.cuda.is_available() and not args.tiny
    device, dtype = ("cuda", "bfloat16") if cuda else ("cpu", "float32")
    args.out.mkdir(parents=True, exist_ok=True)
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ) | {"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}

    t0 = time.perf_counter()
    model = work / "rand-llama"
    n_params = make_random_model(args.tokenizer, model, args.tiny)
    print(f"random model: {n_params / 1e9:.3f}B parameters in {time.perf_counter() - t0:.1f}s", flush=True)
    if cuda:
        torch.cuda.empty_cache()

    data = work / "data"
    data.mkdir(exist_ok=True)
    rows = (args.data / "arc_easy_test.jsonl").read_text().splitlines()[: args.limit]
    (data / "arc_easy_test.jsonl").write_text("\n".join(rows) + "\n")
    task_dir = work / "task"
    task_dir.mkdir(exist_ok=True)
    (task_dir / "arc_easy_local.yaml").write_text(LM_EVAL_TASK.format(path=data / "arc_easy_test.jsonl"))

    ours = [run_llmatlas(model, data, work, args.limit, int(c), device, dtype, env) for c in args.chunks.split(",")]
    theirs = [
        run_lm_eval(model, task_dir, work, args.limit, b, device, dtype, env) for b in args.lm_eval_batch.split(",")
    ]
    best_ours = min(ours, key=lambda r: r["scoring_seconds"])
    best_theirs = min(theirs, key=lambda r: r["scoring_seconds"])
    default_ours = ours[0]
    import lm_eval
    import transformers

    summary = {
        "device": torch.cuda.get_device_name() if cuda else "cpu (tiny smoke test)",
        "params": n_params,
        "questions": args.limit,
        "llmatlas_runs": [public(r) for r in ours],
        "lm_eval_runs": [public(r) for r in theirs],
        "best_llmatlas": public(best_ours),
        "best_lm_eval": public(best_theirs),
        "ratio_scoring_best": best_ours["items_per_s"] / best_theirs["items_per_s"],
        "ratio_scoring_cli_default": default_ours["items_per_s"] / best_theirs["items_per_s"],
        "ratio_end_to_end_best": best_theirs["end_to_end_seconds"] / best_ours["end_to_end_seconds"],
        "prediction_agreement_acc": agreement(best_ours["_preds"], best_theirs["_preds"]),
        "prediction_agreement_acc_norm": agreement(best_ours["_preds_norm"], best_theirs["_preds_norm"]),
        "llmatlas_chunk_runs_agree": all(r["_preds"] == ours[0]["_preds"] for r in ours),
        "lm_eval_batch_runs_agree": all(r["_preds"] == theirs[0]["_preds"] for r in theirs),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "lm_eval": getattr(lm_eval, "__version__", "?"),
    }
    print(json.dumps(summary, indent=2), flush=True)
    (args.out / "gpu_vs_lm_eval.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
