"""llmatlas vs lm-evaluation-harness through their command lines: same model, questions and CPU.

This is the anchor comparison of issue 4. Both tools run as child processes of this script, one
after the other, on the same machine:

* lm-eval: ``lm_eval --model hf --model_args pretrained=DIR,dtype=float32 --device cpu
  --batch_size B --tasks arc_easy_local --include_path TASKDIR --log_samples`` (a local copy of
  lm-eval's ``arc_easy`` task reading the same JSONL). Scoring time: the elapsed time of lm-eval's
  "Running loglikelihood requests" progress bar (model load and dataset building excluded).
* llmatlas: ``llmatlas eval --model "hf:DIR?dtype=float32&device=cpu&threads=T" --task arc_easy
  --json --out DIR``. Scoring time: ``timing.seconds`` of its JSON (the run loop, model load
  excluded), so both sides are timed on the same work.

Model: SmolLM2-135M-Instruct in float32, dequantized from the embedded GGUF by
``convert_smollm2_to_hf.py``. Questions: the first ``--limit`` lines of ARC-Easy test from
``../shared/data``. Both get ``OMP_NUM_THREADS=T``. ``--rounds R`` repeats the pair, alternating
which tool goes first, so a change of machine load hits both; the ratio reported is that of the
summed scoring times. Accuracy is each tool's own; agreement compares per-question predictions
(argmax log-likelihood, and argmax log-likelihood per character for acc_norm).

    python benchmarks/vs_lm_eval.py [--limit 500] [--threads 2] [--lm-eval-batch 16] [--rounds 1]
                                    [--batch-tokens N] [--out benchmarks/results/vs_lm_eval.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from convert_smollm2_to_hf import DEFAULT_OUT, convert  # noqa: E402
from gpu_check import LM_EVAL_TASK  # noqa: E402  (lm-eval's arc_easy pointed at a local JSONL file)

BAR = re.compile(r"Running loglikelihood requests: 100%\|[^|]*\|\s*(\d+)/(\d+) \[([\d:]+)<")


def seconds_of(clock: str) -> float:
    total = 0.0
    for part in clock.split(":"):
        total = total * 60 + float(part)
    return total


def child_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        HF_DATASETS_OFFLINE="1",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        OMP_NUM_THREADS=str(threads),
        MKL_NUM_THREADS=str(threads),
        TOKENIZERS_PARALLELISM="false",
    )
    return env


def predictions(lls: list[float], choices: list[str]) -> tuple[int, int]:
    per_char = [ll / max(1, len(c)) for ll, c in zip(lls, choices, strict=True)]
    return max(range(len(lls)), key=lls.__getitem__), max(range(len(lls)), key=per_char.__getitem__)


def run(cmd: list[str], log: Path, threads: int) -> tuple[subprocess.CompletedProcess[str], float, list[float]]:
    load = [round(x, 2) for x in os.getloadavg()]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=child_env(threads))
    wall = time.perf_counter() - t0
    log.write_text(proc.stdout + "\n----- stderr -----\n" + proc.stderr)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed (exit {proc.returncode}); see {log}")
    return proc, wall, load


def run_lm_eval(folder: Path, work: Path, tag: str, batch: int, threads: int) -> dict[str, Any]:
    out_dir = work / f"lm_eval_{tag}"
    cmd = [
        str(Path(sys.executable).parent / "lm_eval"),
        "--model", "hf",
        "--model_args", f"pretrained={folder},dtype=float32",
        "--tasks", "arc_easy_local",
        "--include_path", str(work / "task"),
        "--device", "cpu",
        "--batch_size", str(batch),
        "--log_samples",
        "--output_path", str(out_dir),
    ]  # fmt: skip
    proc, wall, load = run(cmd, work / f"lm_eval_{tag}.log", threads)
    bars = BAR.findall(proc.stderr.replace("\r", "\n"))
    if not bars:
        raise SystemExit(f"no finished loglikelihood progress bar in lm-eval's output; see {work}")
    scoring = seconds_of(bars[-1][2])
    result = json.loads(sorted(out_dir.rglob("results_*.json"))[-1].read_text())["results"]["arc_easy_local"]
    preds: dict[str, tuple[int, int]] = {}
    for line in sorted(out_dir.rglob("samples_arc_easy_local_*.jsonl"))[-1].read_text().splitlines():
        sample = json.loads(line)
        lls = [float(x[0]) for x in sample["filtered_resps"]]
        preds[str(sample["doc"]["id"])] = predictions(lls, sample["doc"]["choices"]["text"])
    return {
        "tool": "lm-eval",
        "batch_size": batch,
        "acc": result["acc,none"],
        "acc_norm": result["acc_norm,none"],
        "n": len(preds),
        "scoring_seconds": scoring,
        "wall_seconds": wall,
        "load_before": load,
        "command": " ".join(cmd),
        "_preds": preds,
    }


def run_llmatlas(folder: Path, work: Path, tag: str, args: argparse.Namespace) -> dict[str, Any]:
    spec = f"hf:{folder}?dtype=float32&device=cpu&threads={args.threads}"
    if args.batch_tokens:
        spec += f"&batch_tokens={args.batch_tokens}"
    out_dir = work / f"llmatlas_{tag}"
    cmd = [
        str(Path(sys.executable).parent / "llmatlas"),
        "eval",
        "--model", spec,
        "--task", "arc_easy",
        "--limit", str(args.limit),
        "--data-dir", str(work / "data"),
        "--journal", str(work / f"journal_{tag}.sqlite"),
        "--out", str(out_dir),
        "--json",
    ]  # fmt: skip
    proc, wall, load = run(cmd, work / f"llmatlas_{tag}.log", args.threads)
    payload = json.loads(proc.stdout)
    result = payload["results"][0] if "results" in payload else payload
    preds: dict[str, tuple[int, int]] = {}
    for line in (out_dir / "arc_easy_samples.jsonl").read_text().splitlines():
        sample = json.loads(line)
        preds[str(sample["doc_id"])] = predictions([float(x) for x in sample["logprobs"]], sample["choices"])
    return {
        "tool": "llmatlas",
        "batch_tokens": result["backend_details"].get("batch_tokens"),
        "acc": result["metrics"]["acc"]["value"],
        "acc_norm": result["metrics"]["acc_norm"]["value"],
        "n": int(result["n"]),
        "scoring_seconds": float(result["timing"]["seconds"]),
        "wall_seconds": wall,
        "load_before": load,
        "command": " ".join(cmd),
        "_preds": preds,
    }


def summarize(ours: list[dict[str, Any]], theirs: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    n = args.limit
    ours_rate = n * len(ours) / sum(r["scoring_seconds"] for r in ours)
    theirs_rate = n * len(theirs) / sum(r["scoring_seconds"] for r in theirs)
    a, b = ours[-1], theirs[-1]
    common = sorted(set(a["_preds"]) & set(b["_preds"]))
    return {
        "llmatlas": {"acc": a["acc"], "acc_norm": a["acc_norm"], "items_per_s": ours_rate},
        "lm_eval": {"acc": b["acc"], "acc_norm": b["acc_norm"], "items_per_s": theirs_rate},
        "ratio": ours_rate / theirs_rate,
        "ratio_per_round": [
            (r["n"] / r["scoring_seconds"]) / (t["n"] / t["scoring_seconds"])
            for r, t in zip(ours, theirs, strict=False)
        ],
        "ratio_wall": sum(t["wall_seconds"] for t in theirs) / sum(r["wall_seconds"] for r in ours),
        "acc_diff_points": 100 * (a["acc"] - b["acc"]),
        "acc_norm_diff_points": 100 * (a["acc_norm"] - b["acc_norm"]),
        "same_acc_prediction": sum(a["_preds"][k][0] == b["_preds"][k][0] for k in common) / len(common),
        "same_acc_norm_prediction": sum(a["_preds"][k][1] == b["_preds"][k][1] for k in common) / len(common),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=500)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lm-eval-batch", type=int, default=16)
    ap.add_argument("--batch-tokens", type=int, default=None, help="llmatlas hf budget (default: the backend's)")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "vs_lm_eval.json")
    args = ap.parse_args()

    import lm_eval
    import torch
    import transformers

    folder = convert(DEFAULT_OUT)
    work = Path(tempfile.mkdtemp(prefix="vs-lm-eval-"))
    (work / "data").mkdir()
    (work / "task").mkdir()
    rows = (args.data / "arc_easy_test.jsonl").read_text().splitlines()[: args.limit]
    data_file = work / "data" / "arc_easy_test.jsonl"
    data_file.write_text("\n".join(rows) + "\n")
    (work / "task" / "arc_easy_local.yaml").write_text(LM_EVAL_TASK.format(path=data_file))
    print(f"work dir: {work}", file=sys.stderr, flush=True)

    ours: list[dict[str, Any]] = []
    theirs: list[dict[str, Any]] = []
    for k in range(args.rounds):
        steps = ("llmatlas", "lm-eval") if k % 2 == 0 else ("lm-eval", "llmatlas")
        for tool in steps:
            if tool == "llmatlas":
                ours.append(run_llmatlas(folder, work, f"r{k}", args))
                last = ours[-1]
            else:
                theirs.append(run_lm_eval(folder, work, f"r{k}", args.lm_eval_batch, args.threads))
                last = theirs[-1]
            print(f"round {k} {tool}: {last['n'] / last['scoring_seconds']:.2f} items/s", file=sys.stderr, flush=True)

    report: dict[str, Any] = {
        "model": "SmolLM2-135M-Instruct, float32 (dequantized from the embedded GGUF)",
        "questions": args.limit,
        "threads": args.threads,
        "cpu_count": os.cpu_count(),
        "versions": {
            "lm_eval": lm_eval.__version__,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "python": sys.version.split()[0],
        },
        **summarize(ours, theirs, args),
        "runs": [{k: v for k, v in r.items() if not k.startswith("_")} for r in ours + theirs],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"llmatlas  acc {report['llmatlas']['acc']:.3f}  acc_norm {report['llmatlas']['acc_norm']:.3f}  "
        f"{report['llmatlas']['items_per_s']:.2f} items/s\n"
        f"lm-eval   acc {report['lm_eval']['acc']:.3f}  acc_norm {report['lm_eval']['acc_norm']:.3f}  "
        f"{report['lm_eval']['items_per_s']:.2f} items/s\n"
        f"ratio {report['ratio']:.2f}x  (acc Δ {report['acc_diff_points']:+.1f} pts, "
        f"acc_norm Δ {report['acc_norm_diff_points']:+.1f} pts, "
        f"same predictions {report['same_acc_prediction']:.1%})"
    )


if __name__ == "__main__":
    main()
