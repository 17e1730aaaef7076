"""Score a journaled HumanEval run's generations again with a task's scorer (issue 18, item 6).

Greedy generations do not change with the scoring rule, so the effect of a scoring change (here
EvalPlus's sanitizer, which ``humaneval_instruct_prefill`` now applies) is measured on the same
texts: each sample's output goes through the task's own ``score_many`` (the sandbox, as a run).

    python benchmarks/humaneval_rescore.py JOURNAL RUN_ID [--task humaneval_instruct_prefill]
        [--out benchmarks/results/humaneval_prefill_rescored.json]
"""

from __future__ import annotations

import argparse
import collections
import json
from pathlib import Path

from llmatlas.engine.journal import Journal
from llmatlas.tasks.registry import get_task
from llmatlas.tasks.scorers import ScoreItem

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("journal")
    ap.add_argument("run_id")
    ap.add_argument("--task", default="humaneval_instruct_prefill")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", default=str(HERE / "results" / "humaneval_prefill_rescored.json"))
    args = ap.parse_args()

    task = get_task(args.task)
    docs = {d.id: d for d in task.load(args.data_dir).samples}
    records = Journal(args.journal).samples(args.run_id)
    items, before = [], {}
    for rec in records:
        doc = docs[rec.doc_id]
        items.append(ScoreItem(doc, rec.outputs[0].text, doc.meta["code"]))
        before[rec.doc_id] = rec.metrics["pass@1"] >= 1
    scores = task.scorer.score_many(items)
    after = {it.doc.id: bool(s.details["passed"]) for it, s in zip(items, scores, strict=True)}
    failures = collections.Counter(
        str(s.details["detail"]).split(":")[0] for s in scores if not s.details["passed"]
    )
    out = {
        "journal_run": args.run_id,
        "task": args.task,
        "sanitize": task.scorer.options.sanitize,
        "n": len(items),
        "passed_as_run": sum(before.values()),
        "passed_rescored": sum(after.values()),
        "pass@1_as_run": sum(before.values()) / len(items),
        "pass@1_rescored": sum(after.values()) / len(items),
        "gained": sorted(k for k in after if after[k] and not before[k]),
        "lost": sorted(k for k in after if before[k] and not after[k]),
        "failures_rescored": dict(failures.most_common()),
    }
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
