"""How fast the run journal takes samples (issue 17, docs/scale.md): when does SQLite become the bottleneck?

MMLU-like multiple-choice records (a ~1.5 KB prompt, four choices and log-probs) are written
through ``Journal.add_samples`` — one transaction per batch, as the engine commits a step — by one
process, then by several processes at once, each writing its own run into the same file (WAL mode,
one writer at a time: the lock is what is measured).

    python benchmarks/journal_insert_rate.py [--samples 20000] [--batches 1,64,256] [--procs 1,4,8]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import tempfile
import time
from pathlib import Path

from llmatlas.engine.journal import Journal
from llmatlas.engine.results import SampleRecord

PROMPT = "The following are multiple choice questions (with answers) about anatomy.\n\n" + "word " * 280


def record(i: int) -> SampleRecord:
    return SampleRecord(
        doc_id=f"anatomy/{i}", prompt=PROMPT, choices=[" A", " B", " C", " D"],
        logprobs=[-1.1, -2.2, -0.7, -3.3], n_tokens=[1, 1, 1, 1], greedy=[False, False, True, False],
        prediction=2, gold=2, metrics={"acc": 1.0}, group="anatomy",
    )  # fmt: skip


def writer(path: str, run_id: str, n: int, batch: int, start: mp.Event) -> float:  # type: ignore[type-arg]
    journal = Journal(Path(path))
    journal.start(run_id, "bench", "mmlu_5shot", {"task": "mmlu_5shot", "run": run_id})
    records = [record(i) for i in range(n)]
    start.wait()
    t = time.perf_counter()
    for k in range(0, n, batch):
        journal.add_samples(run_id, list(enumerate(records[k : k + batch], start=k)))
    seconds = time.perf_counter() - t
    journal.close()
    return seconds


def measure(samples: int, batch: int, procs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="journal-rate-") as tmp:
        path = str(Path(tmp) / "runs.sqlite")
        Journal(Path(path)).close()  # schema first, outside the timing
        per = samples // procs
        with mp.Manager() as manager:
            start = manager.Event()
            with mp.Pool(procs) as pool:
                jobs = [pool.apply_async(writer, (path, f"run{p}", per, batch, start)) for p in range(procs)]
                time.sleep(1.0)  # every writer has opened the journal and built its records
                t = time.perf_counter()
                start.set()
                for j in jobs:
                    j.get()
                wall = time.perf_counter() - t
        size = os.path.getsize(path)
    return {"samples": per * procs, "batch": batch, "procs": procs, "seconds": wall,
            "samples_per_s": per * procs / wall, "bytes_per_sample": size / (per * procs)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=20_000)
    ap.add_argument("--batches", default="1,64,256")
    ap.add_argument("--procs", default="1,4,8")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "journal_insert_rate.json")
    args = ap.parse_args()
    rows = []
    for batch in (int(b) for b in args.batches.split(",")):
        for procs in (int(p) for p in args.procs.split(",")):
            n = min(args.samples, 2_000) if batch == 1 else args.samples  # a commit per sample is slow
            row = measure(n, batch, procs)
            rows.append(row)
            print(json.dumps(row), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"cpu_count": os.cpu_count(), "runs": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
