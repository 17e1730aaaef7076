"""``eval --plan``: tokens, time and cost of a run before it runs, and nothing run or journaled."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from llmatlas import api
from llmatlas.backends.base import split_context
from llmatlas.backends.prefix import unique_tokens
from llmatlas.backends.registry import load_backend
from llmatlas.cli.main import app
from llmatlas.engine.runner import EvalConfig, prepare

DATA = Path(__file__).parent / "data"


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def mmlu(tmp_path: Path) -> Path:
    def row(subject: str, i: int) -> dict[str, object]:
        return {"question": f"What is item {i} of {subject}?", "subject": subject,
                "choices": ["w", "x", "y", "z"], "answer": i % 4}  # fmt: skip

    write_jsonl(tmp_path / "mmlu_test.jsonl", [row(s, i) for s in ("anatomy", "virology") for i in range(3)])
    write_jsonl(tmp_path / "mmlu_dev.jsonl", [row(s, 10 + i) for s in ("anatomy", "virology") for i in range(5)])
    return tmp_path


def test_plan_counts_tokens_with_the_models_tokenizer_and_runs_nothing(tmp_path: Path) -> None:
    journal = tmp_path / "runs.sqlite"
    plan = api.plan_eval("mock:m", ["arc_easy"], data_dir=str(DATA), journal_path=journal)
    (p,) = plan.tasks
    assert not journal.exists(), "a plan creates no journal"
    assert p.items == 60 and p.done == 0 and p.tokens.method == "tokenizer"
    backend = load_backend("mock:m")
    prep = prepare(backend, "arc_easy", EvalConfig(data_dir=str(DATA)))
    assert p.requests == sum(len(q.continuations) for q in prep.prompts)
    fed = []  # per question, what each choice feeds the model: lm-eval's pair encoding, last token left out
    for q in prep.prompts:
        rows = []
        for c in q.continuations:
            ctx, cont = split_context(q.context, c)
            ctx_ids, whole = backend.tokenize([ctx, ctx + cont]) or []
            rows.append(ctx_ids + whole[len(ctx_ids) : len(whole) - 1])
        fed.append(rows)
    assert p.tokens.naive == sum(len(s) for rows in fed for s in rows)
    assert p.tokens.shared == sum(unique_tokens(rows) for rows in fed)
    assert p.tokens.unique == unique_tokens([s for rows in fed for s in rows])
    assert p.tokens.naive > p.tokens.shared >= p.tokens.unique
    assert p.seconds is not None and p.seconds_basis.startswith("probe: 4 samples")
    assert p.cost_usd is None and p.cost_note and "no per-token price" in p.cost_note


def test_few_shot_prefixes_count_once_in_unique_tokens(tmp_path: Path) -> None:
    plan = api.plan_eval("mock:m", ["mmlu_5shot"], data_dir=str(mmlu(tmp_path)), journal_path=tmp_path / "j")
    (p,) = plan.tasks
    assert p.items == 6 and p.requests == 24
    # six prompts = two subjects' five shots + a short question: the shots count once per subject
    assert p.tokens.unique < 0.45 * p.tokens.shared, p.tokens


def test_the_journal_says_what_is_done_and_how_fast(tmp_path: Path) -> None:
    journal = tmp_path / "runs.sqlite"
    (run,) = api.evaluate("mock:m", ["arc_easy"], limit=10, data_dir=str(DATA), journal_path=journal)
    (same,) = api.plan_eval("mock:m", ["arc_easy"], limit=10, data_dir=str(DATA), journal_path=journal).tasks
    assert same.run_id == run.run_id and same.done == 10 and same.seconds == 0.0
    (more,) = api.plan_eval("mock:m", ["arc_easy"], limit=20, data_dir=str(DATA), journal_path=journal).tasks
    assert more.done == 0 and more.items == 20
    assert more.seconds_basis.startswith(f"run {run.run_id} of this model and task in the journal")


def test_an_api_model_is_priced_not_probed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A multiple-choice question asked of an API is one request answered with a letter."""
    from llmatlas.catalog.catalog import load_catalog

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    cat = load_catalog()
    spec = "openai:gpt-5-mini?base_url=http://127.0.0.1:9/v1"
    plan = api.plan_eval(spec, ["arc_easy"], data_dir=str(DATA), catalog=cat, journal_path=tmp_path / "j")
    (p,) = plan.tasks
    assert p.tokens.method == "estimate" and p.seconds is None and "not probed" in p.seconds_basis
    first_party = next(c for c in api.price(cat, "gpt-5-mini", p.tokens.shared, 2 * p.items) if c.first_party)
    assert p.cost_usd == pytest.approx(first_party.total_usd) and p.cost_usd > 0


def test_cli_plan_prints_the_table_and_json(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["eval", "--model", "mock:m", "--task", "arc_easy,gsm8k", "--data-dir", str(DATA),
            "--journal", str(tmp_path / "j.sqlite"), "--plan"]  # fmt: skip
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "Plan for mock:m (nothing run)" in res.output and "arc_easy" in res.output and "gsm8k" in res.output
    res = runner.invoke(app, [*args, "--json"])
    data = json.loads(res.output)
    assert [t["task"] for t in data["tasks"]] == ["arc_easy", "gsm8k"]
    assert data["tasks"][1]["tokens"]["output_max"] == 8 * 256  # gsm8k: 8 items, at most 256 tokens each
    assert not (tmp_path / "j.sqlite").exists()


def _finished_run(
    journal: Any, run_id: str, model: str, task: str, seconds: float, n: int, performance: Any = None, **stats: int
) -> None:
    import datetime as dt

    from llmatlas.engine.results import RunResult, Timing

    journal.start(run_id, model, task, {"task": task})
    timing = Timing(seconds=seconds, items_per_s=n / seconds)
    method = "generation" if performance is not None else "loglikelihood"
    result = RunResult(run_id=run_id, model=model, backend="llama", task=task, method=method, n=n, metrics={},
                       timing=timing, created=dt.datetime.now(dt.UTC), backend_stats=stats)  # fmt: skip
    result.performance = performance
    journal.finish(result)


def test_time_is_calibrated_on_the_journal_with_its_spread(tmp_path: Path) -> None:
    from llmatlas.engine.journal import Journal
    from llmatlas.engine.workload import finished_runs, from_journal

    journal = Journal(tmp_path / "runs.sqlite")
    assert from_journal(finished_runs(journal), "new", "m", "arc_easy", 10, 1000) is None  # nothing measured yet
    _finished_run(journal, "r1", "m", "arc_easy", seconds=10, n=20, tokens_encoded=4000)  # 2 items/s
    _finished_run(journal, "r2", "m", "arc_easy", seconds=10, n=40, tokens_encoded=8000)  # 4 items/s
    _finished_run(journal, "r3", "other", "hellaswag", seconds=1, n=100, tokens_encoded=10**6)
    # the same task: by tokens (400 and 800 encoded/s), since fewer items may share fewer tokens
    same_task = from_journal(finished_runs(journal), "new", "m", "arc_easy", 8, 1000)
    assert same_task is not None and same_task.seconds == 1.25 and same_task.spread == (1.25, 2.5)
    assert "2 runs of this model and task (the latest, r2)" in same_task.basis
    _finished_run(journal, "a1", "api", "arc_easy", seconds=10, n=20)  # 2 items/s, no token counters
    _finished_run(journal, "a2", "api", "arc_easy", seconds=10, n=40)  # 4 items/s
    by_items = from_journal(finished_runs(journal), "new", "api", "arc_easy", 8, 1000)
    assert by_items is not None and by_items.seconds == 2.0 and by_items.spread == (2.0, 4.0)
    assert "items/s" in by_items.basis
    # another task of the same model: tokens encoded per second (400 and 800/s) × the tokens to encode
    other_task = from_journal(finished_runs(journal), "new", "m", "mmlu", 8, 1600)
    assert other_task is not None and other_task.seconds == 2.0 and other_task.spread == (2.0, 4.0)
    assert "tokens encoded/s" in other_task.basis
    # another model's speed says nothing
    assert from_journal(finished_runs(journal), "new", "unseen", "mmlu", 8, 1600) is None
    # a generation's time is its output: scoring runs alone cannot say how fast the model writes
    assert from_journal(finished_runs(journal), "new", "m", "gsm8k", 8, 1600, outputs=500) is None
    from llmatlas.engine.results import Performance

    _finished_run(journal, "g1", "m", "gsm8k_cot", seconds=10, n=5, performance=Performance(output_tokens=250))
    written = from_journal(finished_runs(journal), "new", "m", "gsm8k", 8, 1600, outputs=500)  # 25 output tokens/s
    assert written is not None and written.seconds == 20.0 and "output tokens/s" in written.basis
    journal.close()


def test_a_run_shows_its_plan_beside_what_it_took(tmp_path: Path) -> None:
    journal = tmp_path / "runs.sqlite"
    args = ["eval", "--model", "mock:m", "--task", "arc_easy", "--data-dir", str(DATA), "--journal", str(journal)]
    first = CliRunner().invoke(app, [*args, "--limit", "10"])
    assert first.exit_code == 0 and "plan vs actual" in first.stdout and "plan: no estimate" in first.stdout
    second = CliRunner().invoke(app, [*args, "--limit", "20", "--json"])
    result = json.loads(second.stdout)
    plan = result["plan"]
    assert plan["seconds"] is not None and "of this model and task in the journal" in plan["seconds_basis"]
    assert plan["actual_seconds"] == result["timing"]["seconds"]
    (expected,) = api.plan_eval("mock:m", ["arc_easy"], limit=20, data_dir=str(DATA), journal_path=journal).tasks
    assert plan["tokens"] == expected.tokens.model_dump(mode="json")
