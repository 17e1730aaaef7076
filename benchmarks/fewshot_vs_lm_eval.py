"""Few-shot multiple choice, llmatlas vs lm-evaluation-harness, side by side in one run (issue 16).

MMLU 5-shot and CMMLU 5-shot on the first ``--limit`` items of every subject, SmolLM2-135M-Instruct in
float32 on this CPU (dequantized from the embedded GGUF by ``convert_smollm2_to_hf.py``), prompts
identical: lm-eval reads the same ``../shared/data`` rows through per-subject copies of its own
``mmlu`` / ``cmmlu`` templates (``description``, ``doc_to_text``, ``first_n`` shots from the dev
split, ``--limit`` per subject), written here into a task folder.

Both tools run as child processes, one after the other (``--rounds`` alternates who goes first).
Scoring time: lm-eval's "Running loglikelihood requests" bar; llmatlas's ``timing.seconds`` (the run
loop; model load excluded on both sides). Reported per task: items/s of each and their ratio,
whether every per-item prediction agrees, the largest |Δ log-prob|, and llmatlas's unique-token
efficiency — tokens it actually encoded (the backend's ``tokens_encoded`` counter) over the run's
unique tokens (``eval --plan``'s ``unique``): 1.0 is one forward pass over the unique tokens.

    python benchmarks/fewshot_vs_lm_eval.py [--limit 2] [--threads 2] [--lm-eval-batch 16]
        [--tasks mmlu_5shot,cmmlu_5shot] [--rounds 1] [--without-reuse] [--out benchmarks/results/fewshot_vs_lm_eval.json]

Needs lm-eval 0.4.13 in the running interpreter's environment (a separate venv with
``pip install lm-eval==0.4.13 -e '.[hf]'`` works).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from convert_smollm2_to_hf import DEFAULT_OUT, convert  # noqa: E402
from vs_lm_eval import BAR, child_env, run, seconds_of  # noqa: E402

DATA = HERE.parent.parent / "shared" / "data"
LETTERS = ["A", "B", "C", "D"]

MMLU_SUBJECT = """task: {task}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {test}
    dev: {dev}
test_split: test
fewshot_split: dev
fewshot_config:
  sampler: first_n
num_fewshot: 5
output_type: multiple_choice
description: "The following are multiple choice questions (with answers) about {label}.\\n\\n"
doc_to_text: "{{{{question.strip()}}}}\\nA. {{{{choices[0]}}}}\\nB. {{{{choices[1]}}}}\\n\\
  C. {{{{choices[2]}}}}\\nD. {{{{choices[3]}}}}\\nAnswer:"
doc_to_choice: ["A", "B", "C", "D"]
doc_to_target: answer
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
"""

CMMLU_SUBJECT = """task: {task}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {test}
    dev: {dev}
test_split: test
fewshot_split: dev
fewshot_config:
  sampler: first_n
num_fewshot: 5
output_type: multiple_choice
description: "以下是关于{label}的单项选择题，请直接给出正确答案的选项。\\n\\n"
doc_to_text: "{{{{Question.strip()}}}}\\nA. {{{{A}}}}\\nB. {{{{B}}}}\\nC. {{{{C}}}}\\nD. {{{{D}}}}\\n答案："
doc_to_choice: ["A", "B", "C", "D"]
doc_to_target: "{{{{['A', 'B', 'C', 'D'].index(Answer)}}}}"
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
"""


def split_by_subject(name: str, work: Path) -> dict[str, tuple[Path, Path]]:
    """``<name>_test.jsonl`` / ``<name>_dev.jsonl`` cut into one pair of files per subject."""
    out: dict[str, dict[str, list[str]]] = {}
    for split in ("test", "dev"):
        for line in (DATA / f"{name}_{split}.jsonl").read_text(encoding="utf-8").split("\n"):
            if line.strip():
                out.setdefault(json.loads(line)["subject"], {"test": [], "dev": []})[split].append(line)
    folder = work / name
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for subject, splits in out.items():
        pair = (folder / f"{subject}_test.jsonl", folder / f"{subject}_dev.jsonl")
        for path, key in zip(pair, ("test", "dev"), strict=True):
            path.write_text("\n".join(splits[key]) + "\n", encoding="utf-8")
        files[subject] = pair
    return files


def write_tasks(task: str, work: Path) -> list[str]:
    """lm-eval task files for every subject of ``task`` (mmlu_5shot or cmmlu_5shot); their names."""
    from llmatlas.tasks.multiple_choice import subjects

    base = task.split("_")[0]
    template = MMLU_SUBJECT if base == "mmlu" else CMMLU_SUBJECT
    names = subjects()["cmmlu"] if base == "cmmlu" else {}
    folder = work / "tasks"
    folder.mkdir(exist_ok=True)
    out = []
    for subject, (test, dev) in sorted(split_by_subject(base, work).items()):
        label = names.get(subject, subject) if base == "cmmlu" else subject.replace("_", " ")
        name = f"{base}_local_{subject}"
        (folder / f"{name}.yaml").write_text(template.format(task=name, test=test, dev=dev, label=label))
        out.append(name)
    return out


def lm_eval_side(model: Path, work: Path, task: str, args: argparse.Namespace, tag: str) -> dict[str, Any]:
    names = write_tasks(task, work)
    out_dir = work / f"lm_eval_{task}_{tag}"
    cmd = [
        str(Path(sys.executable).parent / "lm_eval"),
        "--model", "hf", "--model_args", f"pretrained={model},dtype=float32",
        "--tasks", ",".join(names), "--include_path", str(work / "tasks"),
        "--device", "cpu", "--batch_size", str(args.lm_eval_batch), "--limit", str(args.limit),
        "--log_samples", "--output_path", str(out_dir),
    ]  # fmt: skip
    proc, wall, load = run(cmd, work / f"lm_eval_{task}_{tag}.log", args.threads)
    bars = BAR.findall(proc.stderr.replace("\r", "\n"))
    preds: dict[str, int] = {}
    lls: dict[str, list[float]] = {}
    for path in out_dir.rglob("samples_*.jsonl"):
        subject = path.name.split("_local_", 1)[1].rsplit("_", 1)[0]
        for line in path.read_text(encoding="utf-8").split("\n"):
            if not line.strip():
                continue
            s = json.loads(line)
            key = f"{subject}/{s['doc_id']}"
            lls[key] = [float(x[0]) for x in s["filtered_resps"]]
            preds[key] = max(range(4), key=lls[key].__getitem__)
    return {"scoring_seconds": seconds_of(bars[-1][2]), "wall_seconds": wall, "load_before": load,
            "n": len(preds), "_preds": preds, "_lls": lls}  # fmt: skip


def llmatlas_side(
    model: Path, work: Path, task: str, args: argparse.Namespace, tag: str, reuse: bool
) -> dict[str, Any]:
    spec = f"hf:{model}?dtype=float32&device=cpu&threads={args.threads}" + ("" if reuse else "&prefix_reuse=false")
    out = work / f"llmatlas_{task}_{tag}_{'reuse' if reuse else 'noreuse'}"
    base = [str(Path(sys.executable).parent / "llmatlas"), "eval", "--model", spec, "--task", task,
            "--limit", str(args.limit), "--data-dir", str(DATA), "--journal", str(out / "runs.sqlite")]  # fmt: skip
    plan = json.loads(subprocess.run([*base, "--plan", "--json"], capture_output=True, text=True,
                                     env=child_env(args.threads), check=True).stdout)  # fmt: skip
    proc, wall, load = run([*base, "--json", "--out", str(out)], work / f"{out.name}.log", args.threads)
    result = json.loads(proc.stdout)
    by_subject: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for line in (out / f"{task}_samples.jsonl").read_text(encoding="utf-8").split("\n"):
        if not line.strip():
            continue
        s = json.loads(line)
        subject, row = s["doc_id"].split("/")  # row: the line in the whole file; lm-eval counts per subject
        by_subject.setdefault(subject, []).append((int(row), s))
    preds: dict[str, int] = {}
    lls: dict[str, list[float]] = {}
    for subject, rows in by_subject.items():
        for k, (_, s) in enumerate(sorted(rows, key=lambda r: r[0])):
            lls[f"{subject}/{k}"] = s["logprobs"]
            preds[f"{subject}/{k}"] = s["prediction"]
    unique = plan["tasks"][0]["tokens"]["unique"]
    encoded = result.get("backend_stats", {}).get("tokens_encoded")
    return {"scoring_seconds": result["timing"]["seconds"], "wall_seconds": wall, "load_before": load,
            "n": result["n"], "acc": result["metrics"]["acc"], "tokens": plan["tasks"][0]["tokens"],
            "tokens_encoded": encoded, "efficiency": (encoded / unique) if encoded and unique else None,
            "_preds": preds, "_lls": lls}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lm-eval-batch", type=int, default=16)
    ap.add_argument("--tasks", default="mmlu_5shot,cmmlu_5shot")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--without-reuse", action="store_true", help="also time llmatlas with prefix_reuse=false")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "fewshot_vs_lm_eval.json")
    args = ap.parse_args()
    import lm_eval

    model = DEFAULT_OUT if (DEFAULT_OUT / "config.json").exists() else convert(DEFAULT_OUT)
    report: dict[str, Any] = {"lm_eval": lm_eval.__version__, "limit": args.limit, "threads": args.threads, "tasks": {}}
    with tempfile.TemporaryDirectory(prefix="fewshot-") as tmp:
        work = Path(tmp)
        for task in args.tasks.split(","):
            theirs: list[dict[str, Any]] = []
            ours: list[dict[str, Any]] = []
            for k in range(args.rounds):  # alternate who goes first, so a change of load hits both
                if k % 2:
                    ours.append(llmatlas_side(model, work, task, args, f"r{k}", True))
                theirs.append(lm_eval_side(model, work, task, args, f"r{k}"))
                if not k % 2:
                    ours.append(llmatlas_side(model, work, task, args, f"r{k}", True))
            off = [llmatlas_side(model, work, task, args, "off", False)] if args.without_reuse else []
            a, b = theirs[-1], ours[-1]
            same = [key for key in a["_preds"] if key in b["_preds"] and a["_preds"][key] == b["_preds"][key]]
            pairs = [
                (x, y)
                for key in a["_lls"]
                if key in b["_lls"]
                for x, y in zip(a["_lls"][key], b["_lls"][key], strict=True)
            ]
            delta = max(abs(x - y) for x, y in pairs)
            t_lm = sum(r["scoring_seconds"] for r in theirs)
            t_us = sum(r["scoring_seconds"] for r in ours)
            n = b["n"]
            report["tasks"][task] = {
                "items": n,
                "lm_eval_items_per_s": n * len(theirs) / t_lm,
                "llmatlas_items_per_s": n * len(ours) / t_us,
                "ratio": t_lm / t_us,
                "llmatlas_without_reuse_items_per_s": n / off[-1]["scoring_seconds"] if off else None,
                "predictions_identical": len(same) == len(a["_preds"]) == n,
                "max_abs_logprob_delta": delta,
                "tokens": b["tokens"],
                "tokens_encoded": b["tokens_encoded"],
                "unique_token_efficiency": b["efficiency"],
                "load_before": [r["load_before"] for r in theirs + ours],
            }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
