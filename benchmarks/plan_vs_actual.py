"""Plan vs actual (issue 16): a sequence of runs in one fresh journal, each run's own plan beside what it took.

Each run goes through the CLI (``llmatlas eval --json``); its ``RunResult.plan`` holds the tokens and
the time planned when it started (time calibrated on the runs before it in the journal) and what
the run did (the backend's counters, output tokens, seconds). Before each run, ``eval --plan``
is asked too, for what a user would see before starting it.

    python benchmarks/plan_vs_actual.py [--model smollm2] [--out benchmarks/results/plan_vs_actual.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data"

# (task, limit): a first run with nothing to calibrate on, then runs calibrated on the ones before
RUNS = [("arc_easy", 50), ("mmlu_5shot", 2), ("gsm8k_cot", 5), ("mmlu_5shot", 1), ("gsm8k", 3), ("arc_easy", 100)]


def llmatlas(*args: str) -> Any:
    exe = Path(sys.executable).parent / "llmatlas"
    proc = subprocess.run([str(exe), *args], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "plan_vs_actual.json")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="plan-") as tmp:
        journal = str(Path(tmp) / "runs.sqlite")
        for task, limit in RUNS:
            common = ["eval", "--model", args.model, "--task", task, "--limit", str(limit),
                      "--data-dir", str(DATA), "--journal", journal, "--json"]  # fmt: skip
            before = llmatlas(*common, "--plan")["tasks"][0]
            result = llmatlas(*common)
            plan = result["plan"]
            rows.append({
                "task": task, "limit": limit, "items": result["n"],
                "eval_plan": {"seconds": before["seconds"], "basis": before["seconds_basis"],
                              "range": before.get("seconds_range"), "tokens": before["tokens"]},
                "run_plan": {"seconds": plan["seconds"], "basis": plan["seconds_basis"],
                             "range": plan.get("seconds_range"), "tokens": plan["tokens"]},
                "actual": {"seconds": plan["actual_seconds"], "tokens": plan["actual_tokens"]},
                "metrics": {k: v["value"] for k, v in result["metrics"].items()},
            })  # fmt: skip
            print(json.dumps(rows[-1]), flush=True)
    report = {"model": args.model, "cpu_count": os.cpu_count(), "runs": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
