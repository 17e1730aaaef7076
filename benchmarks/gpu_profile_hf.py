"""Where the ``hf`` backend's multiple-choice scoring time goes on a GPU, cold (first pass) and warm.

Same random-init ~1.1B Llama as ``gpu_vs_lm_eval.py`` (created on the device, SmolLM2 tokenizer), the
first N ARC-Easy questions, the backend called directly (no journal, no CLI):

1. tokenization + packing alone (``_units``);
2. the first ``loglikelihood`` pass over all N questions in one call, under cProfile (cold: CUDA kernels
   loaded lazily, cuBLAS/SDPA set-up for each new shape);
3. two more passes (warm), then the same N questions fed 64 at a time (the CLI's default ``--chunk``);
4. one warm pass under torch.profiler: the top operators by device and by host time.

``--no-cudnn-sdp`` turns PyTorch's cuDNN attention backend off (``torch.backends.cuda.enable_cudnn_sdp(False)``)
before anything runs, so SDPA with our 4D mask takes the memory-efficient kernel instead: cuDNN builds
an execution plan per new (batch, width) shape, which is what a cold pass pays for.

    python benchmarks/gpu_profile_hf.py --data DIR --tokenizer DIR --out DIR [--limit 500] [--tiny]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from gpu_check import make_random_model  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--tokenizer", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--work", type=Path, default=Path("/tmp/gpu-profile-hf"))
    ap.add_argument("--limit", type=int, default=500)
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--no-cudnn-sdp", action="store_true")
    args = ap.parse_args()
    import torch

    if args.no_cudnn_sdp:
        torch.backends.cuda.enable_cudnn_sdp(False)
    tag = "_no_cudnn_sdp" if args.no_cudnn_sdp else ""

    from llmatlas.backends.registry import load_backend
    from llmatlas.tasks.registry import get_task

    cuda = torch.cuda.is_available() and not args.tiny
    device, dtype = ("cuda", "bfloat16") if cuda else ("cpu", "float32")
    args.out.mkdir(parents=True, exist_ok=True)
    args.work.mkdir(parents=True, exist_ok=True)
    model = args.work / "rand-llama"
    if not (model / "config.json").is_file():
        make_random_model(args.tokenizer, model, args.tiny)

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    def timed(fn: Callable[[], Any]) -> float:
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        return time.perf_counter() - t0

    t0 = time.perf_counter()
    backend: Any = load_backend(f"hf:{model}?device={device}&dtype={dtype}")
    load_s = time.perf_counter() - t0
    task = get_task("arc_easy", None)
    docs = task.load(str(args.data)).samples[: args.limit]
    qs = [task.question(d, task.fewshot_for(d, [])) for d in docs]
    n = len(qs)
    units_s = timed(lambda: backend._units(qs))
    units, _ = backend._units(qs)
    batches = backend._batches(units)
    padded = sum(len(b) * max(u.length for u in b) for b in batches)
    real = sum(u.length for u in units)

    prof = cProfile.Profile()
    sync()
    t0 = time.perf_counter()
    prof.enable()
    cold_scores = backend.loglikelihood(qs)
    sync()
    prof.disable()
    cold_s = time.perf_counter() - t0
    text = io.StringIO()
    pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(25)
    (args.out / f"profile_cold_cprofile{tag}.txt").write_text(text.getvalue())

    warm = [timed(lambda: backend.loglikelihood(qs)) for _ in range(2)]
    chunk64 = timed(lambda: [backend.loglikelihood(qs[k : k + 64]) for k in range(0, n, 64)])
    warm_scores = backend.loglikelihood(qs)
    same = all(
        abs(a.logprob - b.logprob) < 1e-9
        for ra, rb in zip(cold_scores, warm_scores, strict=True)
        for a, b in zip(ra, rb, strict=True)
    )

    from torch.profiler import ProfilerActivity, profile

    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=acts) as tp:
        backend.loglikelihood(qs)
        sync()
    sort_dev = "cuda_time_total" if cuda else "cpu_time_total"
    table = tp.key_averages().table(sort_by=sort_dev, row_limit=20)
    table_cpu = tp.key_averages().table(sort_by="self_cpu_time_total", row_limit=15)
    (args.out / f"profile_warm_torch{tag}.txt").write_text(table + "\n\n" + table_cpu + "\n")

    summary = {
        "device": torch.cuda.get_device_name() if cuda else "cpu (tiny smoke test)",
        "questions": n,
        "cudnn_sdp": torch.backends.cuda.cudnn_sdp_enabled(),
        "batch_tokens": backend.batch_tokens,
        "load_seconds": load_s,
        "tokenize_and_pack_seconds": units_s,
        "batches": len(batches),
        "padded_tokens": padded,
        "real_tokens": real,
        "cold_seconds": cold_s,
        "cold_items_per_s": n / cold_s,
        "warm_seconds": warm,
        "warm_items_per_s": n / min(warm),
        "warm_chunk64_seconds": chunk64,
        "warm_chunk64_items_per_s": n / chunk64,
        "cold_equals_warm_scores": same,
        "torch": torch.__version__,
    }
    print(json.dumps(summary, indent=2), flush=True)
    print(text.getvalue()[:6000], flush=True)
    print(table, flush=True)
    (args.out / f"gpu_profile_hf{tag}.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
