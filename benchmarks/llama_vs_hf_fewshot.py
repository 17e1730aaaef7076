"""The llama backend against the hf backend on the same weights (issue 16), one run per process.

Each configuration runs ``run_task`` on a fresh journal and records the scoring time, the metrics,
the backend's counters, peak RSS, the load average around it and every prediction, so that the
configurations can be compared item by item (e.g. with the hf backend's fp32 run of the same
SmolLM2 weights, dequantized by ``convert_smollm2_to_hf.py``).

    python benchmarks/llama_vs_hf_fewshot.py --task mmlu_5shot --limit 2 \\
        NAME=SPEC [NAME=SPEC ...] [--llama-build DIR] [--out benchmarks/results/x.json]

``SPEC`` is any model spec (``smollm2``, ``smollm2?scoring_weights=file``, ``smollm2?flash_attn=true``,
``hf:~/.cache/llmatlas/hf/smollm2-135m-instruct?dtype=float32&device=cpu``). ``--llama-build DIR``
puts another llama-cpp-python build first on the path for the llama runs (one built with
``CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX512=ON …" pip install --target DIR llama-cpp-python``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data"

CHILD = r"""
import json, os, resource, sys, time
from pathlib import Path
from llmatlas.backends.registry import load_backend
from llmatlas.engine.journal import Journal
from llmatlas.engine.runner import EvalConfig, run_task

spec, task, limit, data, journal = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
backend = load_backend(spec)
jr = Journal(Path(journal))
load = os.getloadavg()
res = run_task(backend, task, EvalConfig(limit=limit, data_dir=data), jr)
samples = jr.samples(res.run_id)
print(json.dumps({
    "seconds": res.timing.seconds, "items_per_s": res.timing.items_per_s, "n": res.n,
    "metrics": {k: v.value for k, v in res.metrics.items()}, "backend_stats": res.backend_stats,
    "details": res.backend_details, "load_before": load, "load_after": os.getloadavg(),
    "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "predictions": {s.doc_id: s.prediction if s.prediction is not None else [o.text for o in s.outputs]
                    for s in samples},
}, default=str))
backend.close()
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("configs", nargs="+", help="NAME=SPEC")
    ap.add_argument("--task", default="mmlu_5shot")
    ap.add_argument("--limit", type=int, default=2)
    ap.add_argument("--llama-build", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "llama_vs_hf_fewshot.json")
    args = ap.parse_args()
    runs: dict[str, Any] = {}
    for item in args.configs:
        name, _, spec = item.partition("=")
        env = dict(os.environ)
        if args.llama_build and not spec.startswith("hf:"):
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(args.llama_build), env.get("PYTHONPATH")]))
        journal = Path(f"/tmp/llama_vs_hf_{os.getpid()}_{name}.sqlite")
        cmd = [sys.executable, "-c", CHILD, spec, args.task, str(args.limit), str(DATA), str(journal)]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
        runs[name] = {"spec": spec, **json.loads(proc.stdout.strip().splitlines()[-1])}
        journal.unlink(missing_ok=True)
        r = runs[name]
        print(f"{name}: {r['seconds']:.1f} s, {r['items_per_s']:.3f} items/s, {r['metrics']}", flush=True)
    names = list(runs)
    base = runs[names[0]]["predictions"]
    for name in names[1:]:
        other = runs[name]["predictions"]
        runs[name]["same_predictions_as_" + names[0]] = sum(other[k] == base.get(k) for k in other)
    report = {"task": args.task, "limit": args.limit, "cpu_count": os.cpu_count(), "runs": runs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
