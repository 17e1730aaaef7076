"""The evaluation engine on the mock backend: prompts as lm-eval builds them, metrics, journal, resume."""

from __future__ import annotations

import json
import math
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from llmatlas.backends.base import ContinuationScore, MCQuestion
from llmatlas.backends.registry import load_backend, parse_spec
from llmatlas.cli.main import app
from llmatlas.core.errors import InputError, LlmatlasError
from llmatlas.engine.events import RunEvent, RunFinished, RunStarted, SamplesScored, StepSaved
from llmatlas.engine.journal import Journal
from llmatlas.engine.runner import EvalConfig, run_task
from llmatlas.engine.stats import mean_stderr, paired_bootstrap, pooled_stderr
from llmatlas.tasks.registry import get_task
from llmatlas.tasks.task import Sample

DATA = Path(__file__).parent / "data"


def write_jsonl(path: Path, rows: list[dict]) -> None:  # type: ignore[type-arg]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


# ---------------------------------------------------------------- prompts (as lm-evaluation-harness builds them)


def test_arc_prompt_and_choices() -> None:
    task = get_task("arc_easy")
    docs = task.load(str(DATA)).samples
    d = docs[0]
    assert d.query.startswith("Question: ") and d.query.endswith("\nAnswer:")
    q = task.question(d)
    assert q.context == d.query
    assert q.continuations == tuple(" " + c for c in d.choices)
    row = json.loads((DATA / "arc_easy_test.jsonl").read_text().splitlines()[0])
    assert d.target == row["choices"]["label"].index(row["answerKey"])


def test_arc_numeric_labels(tmp_path: Path) -> None:
    write_jsonl(
        tmp_path / "arc_easy_test.jsonl",
        [
            {
                "id": "x",
                "question": "Q?",
                "answerKey": "2",
                "choices": {"text": ["a", "b", "c"], "label": ["1", "2", "3"]},
            }
        ],
    )
    assert get_task("arc_easy").load(str(tmp_path)).samples[0].target == 1


def test_hellaswag_preprocessing_and_official_layout(tmp_path: Path) -> None:
    docs = get_task("hellaswag").load(str(DATA)).samples
    assert docs[0].query.startswith("Roof shingle removal: A man is sitting on a roof.")
    write_jsonl(
        tmp_path / "hellaswag_val.jsonl",
        [
            {
                "ind": 1,
                "activity_label": "Baking",
                "ctx_a": "She mixes.",
                "ctx_b": "then she",
                "endings": ["bakes [title] it.", "x", "y", "z"],
                "label": "0",
            }
        ],
    )
    d = get_task("hellaswag").load(str(tmp_path)).samples[0]
    assert d.query == "Baking: She mixes. Then she"  # ctx_b capitalized, as lm-eval does
    assert d.choices[0] == "bakes. it."


def test_mmlu_prompt_fewshot_and_per_subject_limit(tmp_path: Path) -> None:
    def row(subject: str, i: int) -> dict:  # type: ignore[type-arg]
        return {"question": f" Q{i} ", "subject": subject, "choices": ["w", "x", "y", "z"], "answer": i % 4}

    write_jsonl(tmp_path / "mmlu_test.jsonl", [row("anatomy", i) for i in range(3)] + [row("virology", 9)])
    write_jsonl(tmp_path / "mmlu_dev.jsonl", [row("anatomy", 10 + i) for i in range(6)] + [row("virology", 20)])
    task = get_task("mmlu", 2)
    loaded = task.load(str(tmp_path))
    docs = task.select(loaded.samples, 1)
    assert [d.group for d in docs] == ["anatomy", "virology"]
    q = task.question(docs[0], task.fewshot_for(docs[0], loaded.fewshot))
    assert q.context == (
        "The following are multiple choice questions (with answers) about anatomy.\n\n"
        "Q10\nA. w\nB. x\nC. y\nD. z\nAnswer: C\n\n"
        "Q11\nA. w\nB. x\nC. y\nD. z\nAnswer: D\n\n"
        "Q0\nA. w\nB. x\nC. y\nD. z\nAnswer:"
    )
    assert q.continuations == (" A", " B", " C", " D")
    assert task.metrics == ("acc",)


def test_cmmlu_prompt(tmp_path: Path) -> None:
    write_jsonl(
        tmp_path / "cmmlu_test.jsonl",
        [{"subject": "agronomy", "Question": "问题？", "A": "甲", "B": "乙", "C": "丙", "D": "丁", "Answer": "C"}],
    )
    task = get_task("cmmlu")
    d = task.load(str(tmp_path)).samples[0]
    q = task.question(d)
    assert (
        q.context
        == "以下是关于农学的单项选择题，请直接给出正确答案的选项。\n\n问题？\nA. 甲\nB. 乙\nC. 丙\nD. 丁\n答案："
    )
    assert d.target == 2


def test_truthfulqa_mc1_mc2(tmp_path: Path) -> None:
    write_jsonl(
        tmp_path / "truthfulqa_mc.jsonl",
        [
            {
                "question": "Is it?",
                "mc1_targets": {"choices": ["yes", "no"], "labels": [1, 0]},
                "mc2_targets": {"choices": ["yes", "indeed", "no"], "labels": [1, 1, 0]},
            }
        ],
    )
    mc1, mc2 = get_task("truthfulqa_mc1"), get_task("truthfulqa_mc2")
    d1 = mc1.load(str(tmp_path)).samples[0]
    d2 = mc2.load(str(tmp_path)).samples[0]
    assert d1.query.endswith("Barcelona, Spain.\n\nQ: Is it?\nA:") and d1.target == 0
    assert d2.target == (0, 1)
    lls = [math.log(0.2), math.log(0.3), math.log(0.1)]
    scores = [ContinuationScore(v, 1, False) for v in lls]
    assert mc2.score(d2, scores).metrics["acc"] == pytest.approx(0.5 / 0.6)


def test_acc_norm_divides_by_character_length() -> None:
    task = get_task("arc_easy")
    doc = Sample(id="1", turns=("q",), choices=("a", "bbbbbbbbbb"), target=1)
    scores = [ContinuationScore(-2.0, 1, False), ContinuationScore(-5.0, 3, False)]
    assert task.score(doc, scores).metrics == {"acc": 0.0, "acc_norm": 1.0}  # -2/1 < -5/10


# ---------------------------------------------------------------- backends


def test_spec_parsing_and_errors() -> None:
    assert parse_spec("smollm2") == ("llama", "smollm2")
    assert parse_spec("hf:/models/x") == ("hf", "/models/x")
    with pytest.raises(InputError, match="BACKEND:TARGET"):
        parse_spec("gpt-4o")
    with pytest.raises(InputError, match="unknown backend"):
        parse_spec("vllm:x")


def test_missing_dependency_gives_pip_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):  # type: ignore[no-untyped-def]
        if name == "llama_cpp":
            raise ImportError("No module named 'llama_cpp'", name="llama_cpp")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(LlmatlasError, match=r"pip install 'llmatlas\[llama\]'"):
        load_backend("llama:whatever.gguf")


def test_mock_shared_context_equals_reference() -> None:
    backend = load_backend("mock:m")
    task = get_task("arc_easy")
    qs = [task.question(d) for d in task.load(str(DATA)).samples]
    fast, ref = backend.loglikelihood(qs), backend.loglikelihood_reference(qs)
    assert fast == ref


# ---------------------------------------------------------------- runs, journal, resume


def run(tmp_path: Path, model: str = "mock:m", limit: int | None = None, task: str = "arc_easy", **kw):  # type: ignore[no-untyped-def]
    jr = Journal(tmp_path / "runs.sqlite")
    try:
        return run_task(load_backend(model), task, EvalConfig(limit=limit, data_dir=str(DATA), **kw), jr), jr
    finally:
        jr.close()


def test_run_metrics_and_stderr(tmp_path: Path) -> None:
    res, _ = run(tmp_path)
    assert res.n == 60 and res.complete and res.schema_version == 1
    jr = Journal(tmp_path / "runs.sqlite")
    samples = jr.samples(res.run_id)
    acc = [s.metrics["acc"] for s in samples]
    assert res.metrics["acc"].value == pytest.approx(np.mean(acc))
    assert res.metrics["acc"].stderr == pytest.approx(np.std(acc, ddof=1) / np.sqrt(len(acc)))
    assert samples[0].prompt.startswith("Question:") and len(samples[0].logprobs) == len(samples[0].choices)
    assert res.data["sha256"] and res.data["kind"] == "file"


def test_interrupted_run_resumes_without_loss_or_duplicates(tmp_path: Path) -> None:
    full, _ = run(tmp_path / "a")
    jr = Journal(tmp_path / "b" / "runs.sqlite")

    def boom(event: RunEvent) -> None:
        if isinstance(event, StepSaved) and event.done >= 32:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_task(load_backend("mock:m"), "arc_easy", EvalConfig(data_dir=str(DATA), chunk=16), jr, on_event=boom)
    assert len(jr.done_ids(full.run_id)) == 32
    resumed = run_task(load_backend("mock:m"), "arc_easy", EvalConfig(data_dir=str(DATA), chunk=16), jr)
    assert resumed.run_id == full.run_id and resumed.config["resumed"] and resumed.config["scored_this_session"] == 28
    assert resumed.metrics == full.metrics and resumed.n == 60
    a = [s.model_dump() for s in Journal(tmp_path / "a" / "runs.sqlite").samples(full.run_id)]
    assert [s.model_dump() for s in jr.samples(full.run_id)] == a


def test_chunk_size_never_changes_scores(tmp_path: Path) -> None:
    one, _ = run(tmp_path / "a", chunk=1)
    many, _ = run(tmp_path / "b", chunk=64)
    assert one.metrics == many.metrics


def test_backend_failure_keeps_journaled_work(tmp_path: Path) -> None:
    jr = Journal(tmp_path / "runs.sqlite")
    with pytest.raises(RuntimeError, match="mock failure"):
        run_task(load_backend("mock:m?fail_every=3"), "arc_easy", EvalConfig(data_dir=str(DATA), chunk=10), jr)
    rid = jr.runs()[0].run_id
    assert len(jr.done_ids(rid)) == 20  # two chunks committed before the third call failed
    (run,) = jr.runs()
    assert run.status == "failed" and run.samples == 20 and run.error and "mock failure" in run.error
    assert run.spec["task"] == "arc_easy" and run.result is None


def test_progress_events_tell_the_whole_run(tmp_path: Path) -> None:
    """One event stream for both kinds of task: started, scored counts that add up, saved steps, finished."""
    for name, spec in (("arc_easy", "mock:m"), ("gsm8k", "mock:m")):
        events: list[RunEvent] = []
        res = run_task(
            load_backend(spec),
            name,
            EvalConfig(data_dir=str(DATA), limit=6, chunk=4),
            Journal(tmp_path / f"{name}.sqlite"),
            on_event=events.append,
        )
        started, finished = events[0], events[-1]
        assert isinstance(started, RunStarted) and started.total == res.n and started.done == 0
        assert isinstance(finished, RunFinished) and finished.result == res
        assert sum(e.n for e in events if isinstance(e, SamplesScored)) == res.n
        saved = [e.done for e in events if isinstance(e, StepSaved)]
        assert saved and saved[-1] == res.n and saved == sorted(saved)


def _eval_cmd(journal: Path, out: Path, delay: float) -> list[str]:
    return [
        sys.executable,
        "-m",
        "llmatlas.cli.main",
        "eval",
        "--model",
        f"mock:k?delay={delay}",
        "--task",
        "arc_easy",
        "--data-dir",
        str(DATA),
        "--journal",
        str(journal),
        "--out",
        str(out),
        "--chunk",
        "4",
        "--json",
    ]


def test_sigkill_at_random_points_then_resume_gives_identical_results(tmp_path: Path) -> None:
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    ref = subprocess.run(
        _eval_cmd(tmp_path / "ref.sqlite", tmp_path / "ref", 0.01), capture_output=True, text=True, env=env, check=True
    )
    expected = json.loads(ref.stdout)
    rng = random.Random(1234)
    for attempt in range(3):
        journal, out = tmp_path / f"k{attempt}.sqlite", tmp_path / f"k{attempt}"
        proc = subprocess.Popen(
            _eval_cmd(journal, out, 0.01), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not journal.exists():
            time.sleep(0.01)
        time.sleep(rng.uniform(0.05, 0.45))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed_at = 0
        if journal.exists():
            jr = Journal(journal)
            runs = jr.runs()
            killed_at = runs[0].samples if runs else 0
            jr.close()
        assert killed_at < 60, "the run finished before the kill; raise the delay"
        again = subprocess.run(_eval_cmd(journal, out, 0.01), capture_output=True, text=True, env=env, check=True)
        got = json.loads(again.stdout)
        assert got["metrics"] == expected["metrics"] and got["n"] == expected["n"] == 60
        assert got["run_id"] == expected["run_id"]
        ref_samples = (tmp_path / "ref" / "arc_easy_samples.jsonl").read_text().splitlines()
        got_samples = (out / "arc_easy_samples.jsonl").read_text().splitlines()
        assert got_samples == ref_samples  # every sample once, same order, same numbers


# ---------------------------------------------------------------- statistics and CLI


def test_mean_stderr_and_bootstrap() -> None:
    m = mean_stderr([1, 0, 1, 1])
    assert m.value == 0.75 and m.stderr == pytest.approx(np.std([1, 0, 1, 1], ddof=1) / 2)
    same = paired_bootstrap([1, 0] * 50, [1, 0] * 50)
    assert same.diff == 0 and not same.significant
    better = paired_bootstrap([0] * 100, [1] * 60 + [0] * 40)
    assert better.significant and better.ci95[0] > 0.4 and better.wins_b == 60


def test_cli_eval_results_compare(tmp_path: Path) -> None:
    runner = CliRunner()
    j = str(tmp_path / "j.sqlite")
    ids = []
    for m in ("mock:a", "mock:b"):
        r = runner.invoke(
            app, ["eval", "--model", m, "--task", "arc_easy", "--data-dir", str(DATA), "--journal", j, "--json"]
        )
        assert r.exit_code == 0, r.stderr
        d = json.loads(r.stdout)
        assert {"model", "task", "n", "metrics", "timing"} <= set(d)
        assert set(d["metrics"]["acc"]) >= {"value", "stderr"} and set(d["timing"]) == {"seconds", "items_per_s"}
        ids.append(d["run_id"])
    r = runner.invoke(app, ["results", "--journal", j, "--json"])
    assert [x["run_id"] for x in json.loads(r.stdout)] == ids
    r = runner.invoke(app, ["compare", ids[0][:6], ids[1], "--journal", j, "--json"])
    assert r.exit_code == 0, r.stderr
    c = json.loads(r.stdout)
    assert c["n"] == 60 and c["ci95"][0] <= c["diff"] <= c["ci95"][1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "mock:a", "--task", "arc_eazy"], "Did you mean: arc_easy"),
        (["--model", "nope", "--task", "arc_easy"], "BACKEND:TARGET"),
        (["--model", "mock:a", "--task", "truthfulqa_mc1", "--num-fewshot", "3"], "no few-shot split"),
    ],
)
def test_eval_bad_input(args: list[str], message: str, tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["eval", *args, "--journal", str(tmp_path / "j.sqlite")])
    assert r.exit_code == 2 and message in r.stderr


def test_bad_dataset_line_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "arc_easy_test.jsonl").write_text(
        '{"id": "a", "question": "q", "answerKey": "A", "choices": '
        '{"text": ["x"], "label": ["A"]}}\n{"id": "b", "question": 7}\n'
    )
    r = CliRunner().invoke(
        app,
        [
            "eval",
            "--model",
            "mock:a",
            "--task",
            "arc_easy",
            "--data-dir",
            str(tmp_path),
            "--journal",
            str(tmp_path / "j.sqlite"),
        ],
    )
    assert r.exit_code == 2
    assert "arc_easy_test.jsonl:2" in r.stderr and "question" in r.stderr


def test_mc_question_shape() -> None:
    q = MCQuestion("ctx", (" a", " b"))
    assert q.continuations[1] == " b"


def test_tasks_command_lists_every_task() -> None:
    r = CliRunner().invoke(app, ["tasks", "--json"])
    assert r.exit_code == 0
    names = {t["task"] for t in json.loads(r.stdout)}
    assert {
        "arc_easy",
        "arc_challenge",
        "hellaswag",
        "mmlu",
        "mmlu_5shot",
        "truthfulqa_mc1",
        "truthfulqa_mc2",
        "cmmlu",
        "cmmlu_5shot",
    } <= names


# ---------------------------------------------------------------- grouped tasks: lm-eval's pooled error


def _lm_eval_pooled(parts: list[tuple[float, int]]) -> float:
    """lm-evaluation-harness 0.4's pooled_sample_stderr, written out independently for the check."""
    var = sum((n - 1) * se**2 * n for se, n in parts) / (sum(n for _, n in parts) - len(parts))
    return float(np.sqrt(var / sum(n for _, n in parts)))


def test_pooled_stderr_is_lm_evals_formula() -> None:
    parts = [(0.1, 5), (0.2, 7), (0.05, 12)]
    assert pooled_stderr(parts) == pytest.approx(_lm_eval_pooled(parts))
    assert pooled_stderr([(None, 1), (0.2, 4)]) == pytest.approx(_lm_eval_pooled([(0.0, 1), (0.2, 4)]))
    assert pooled_stderr([(None, 1), (None, 1)]) is None  # no group with two samples: nothing to pool


def test_mmlu_reports_lm_evals_pooled_error_through_its_categories(tmp_path: Path) -> None:
    """Subjects pool into lm-eval's categories, categories into the overall error; the mean is over items."""

    def row(subject: str, i: int) -> dict[str, object]:
        return {"question": f"Question {i} of {subject}?", "subject": subject, "choices": ["w", "x", "y", "z"],
                "answer": (i * 7 + len(subject)) % 4}  # fmt: skip

    subjects = {"anatomy": 4, "astronomy": 3, "formal_logic": 5, "virology": 3}  # stem, stem, humanities, other
    write_jsonl(tmp_path / "mmlu_test.jsonl", [row(s, i) for s, n in subjects.items() for i in range(n)])
    jr = Journal(tmp_path / "runs.sqlite")
    res = run_task(load_backend("mock:m"), "mmlu", EvalConfig(data_dir=str(tmp_path)), jr)
    samples = jr.samples(res.run_id)
    acc = {s: [r.metrics["acc"] for r in samples if r.group == s] for s in subjects}
    se = {s: float(np.std(v, ddof=1) / np.sqrt(len(v))) for s, v in acc.items()}
    stem = _lm_eval_pooled([(se["anatomy"], 4), (se["astronomy"], 3)])
    expected = _lm_eval_pooled([(stem, 7), (se["formal_logic"], 5), (se["virology"], 3)])
    m = res.metrics["acc"]
    assert m.stderr_method == "pooled" and m.stderr == pytest.approx(expected)
    assert m.value == pytest.approx(np.mean([x for v in acc.values() for x in v]))
    assert res.groups["anatomy"]["acc"].stderr_method == "sample"
    assert res.groups["anatomy"]["acc"].stderr == pytest.approx(se["anatomy"])
    ungrouped, _ = run(tmp_path / "arc")
    assert ungrouped.metrics["acc"].stderr_method == "sample"


def test_a_run_records_what_the_backend_counted_during_it(tmp_path: Path) -> None:
    """Counters are per backend session; a run keeps only what it caused (two runs, one backend)."""
    backend = load_backend("mock:m")
    counts = {"tokens_encoded": 0, "truncated": 0}

    def stats() -> dict[str, int]:
        counts["tokens_encoded"] += 100  # rises with every look, as real counters rise with work
        return dict(counts)

    backend.stats = stats  # type: ignore[method-assign]
    jr = Journal(tmp_path / "runs.sqlite")
    first = run_task(backend, "arc_easy", EvalConfig(data_dir=str(DATA), limit=5), jr)
    second = run_task(backend, "arc_easy", EvalConfig(data_dir=str(DATA), limit=7), jr)
    assert first.backend_stats == {"tokens_encoded": 100} and second.backend_stats == {"tokens_encoded": 100}
    assert first.errors == 0
