"""cProfile of the llmatlas hf backend on the first N ARC-Easy questions (CPU), model loaded before profiling.

    python benchmarks/profile_hf_arc.py [--limit 64] [--threads 2] [--batch-tokens 4096]

Prints the top functions by cumulative and by own time, and the share of time spent inside the
model's forward pass vs the rest (tokenization, packing/mask building, log-softmax, journal).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-tokens", type=int, default=4096)
    args = ap.parse_args()
    os.environ.update(HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1", OMP_NUM_THREADS=str(args.threads))
    out = subprocess.run(
        [sys.executable, str(HERE / "convert_smollm2_to_hf.py")], capture_output=True, text=True, check=True
    )
    folder = out.stdout.strip().splitlines()[-1]
    from llmatlas.backends.registry import load_backend
    from llmatlas.engine.journal import Journal
    from llmatlas.engine.runner import EvalConfig, run_task

    work = Path(tempfile.mkdtemp(prefix="prof-hf-"))
    rows = (
        (Path(__file__).resolve().parents[2] / "shared" / "data" / "arc_easy_test.jsonl")
        .read_text()
        .splitlines()[: args.limit]
    )
    (work / "arc_easy_test.jsonl").write_text("\n".join(rows) + "\n")
    backend = load_backend(f"hf:{folder}?threads={args.threads}&batch_tokens={args.batch_tokens}")
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    run_task(backend, "arc_easy", EvalConfig(limit=args.limit, data_dir=str(work)), Journal(work / "j.sqlite"))
    prof.disable()
    total = time.perf_counter() - t0
    stats = pstats.Stats(prof)
    buf = io.StringIO()
    stats.stream = buf  # type: ignore[attr-defined]
    stats.sort_stats("cumulative").print_stats(25)
    stats.sort_stats("tottime").print_stats(20)
    print(buf.getvalue())
    raw = stats.stats  # type: ignore[attr-defined]

    def cum(fragment: str, func: str) -> float:
        return sum(v[3] for k, v in raw.items() if fragment in k[0] and k[2] == func)

    forward = cum("hf.py", "_forward_packed")
    model_call = cum("torch/nn/modules/module.py", "_wrapped_call_impl")
    units = cum("hf.py", "_units")
    journal = cum("journal.py", "add_samples")
    print(f"total {total:.2f}s for {args.limit} questions ({args.limit / total:.2f} items/s)")
    print(f"  _forward_packed (incl. model) {forward:.2f}s, nn.Module calls (cum, nested) {model_call:.2f}s")
    print(f"  _units (tokenization + packing) {units:.2f}s, journal.add_samples {journal:.2f}s")


if __name__ == "__main__":
    main()
