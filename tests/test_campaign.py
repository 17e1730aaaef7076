"""Campaigns: the file, the local run (resumable), the roll-up, shards merged exactly once."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmatlas import api
from llmatlas.backends.registry import load_backend
from llmatlas.cli.main import app, complete_args
from llmatlas.core.errors import InputError
from llmatlas.engine.campaign import load_campaign
from llmatlas.engine.journal import Journal
from llmatlas.engine.runner import EvalConfig, combine, run_task
from tests.fake_servers import FakeServer

MOCK_CAMPAIGN = """\
name: mocks
models:
  - mock:alpha
  - spec: mock:beta
    name: beta
tasks:
  - arc_easy
  - task: hellaswag
    limit: 5
  - task: mmlu
    limit: 1
limit: 8
journal: campaign.sqlite
"""


def write(tmp_path: Path, text: str, name: str = "campaign.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def samples_per_run(journal: Path) -> dict[str, tuple[int, int]]:
    """Per run: (samples, distinct items) read straight from SQLite."""
    db = sqlite3.connect(journal)
    try:
        rows = db.execute("SELECT run_id, COUNT(*), COUNT(DISTINCT doc_id) FROM samples GROUP BY run_id").fetchall()
    finally:
        db.close()
    return {r: (n, d) for r, n, d in rows}


# ------------------------------------------------------------------ the file


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ("name: x\nmodels: [mock:alpha]\ntasks:\n  - arc_easy\n  - nosuchtask\n", None, "unknown task 'nosuchtask'"),
        ("name: x\nmodels:\n  - spec: mock:a\n    endpoints: [mock:b]\ntasks: [arc_easy]\n", 3, "either 'spec' or"),
        ("name: x\nmodels: [mock:alpha, mock:alpha]\ntasks: [arc_easy]\n", None, "label 'mock:alpha'"),
        ("name: x\nmodels: [mock:alpha]\ntasks: [arc_easy]\nshards: 0\n", 4, "shards"),
        ("name: x\nmodels: [mock:alpha]\ntasks: [arc_easy]\nlimt: 3\n", 4, "limt"),
        ("name: x\nmodels: [mock:alpha]\ntasks: [mt_bench]\n", None, "needs a judge"),
        ("- just a list\n", 1, "YAML mapping"),
    ],
)
def test_bad_campaign_files_name_the_line(tmp_path: Path, text: str, line: int | None, says: str) -> None:
    p = write(tmp_path, text)
    with pytest.raises(InputError) as err:
        load_campaign(p)
    assert says in str(err.value)
    assert err.value.path == str(p)
    if line is not None:
        assert err.value.line == line


def test_cells_resolve_defaults_and_spread_over_endpoints(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "name: x\nmodels:\n  - endpoints: ['openai:m?base_url=http://a/v1', 'openai:m?base_url=http://b/v1']\n"
        "    name: m\ntasks: [arc_easy, {task: hellaswag, limit: 2, shards: 3}, mmlu]\nlimit: 7\nshards: 2\n",
    )
    campaign, journal = load_campaign(p)
    cells = campaign.cells()
    assert [(c.task, c.limit, c.shards) for c in cells] == [("arc_easy", 7, 2), ("hellaswag", 2, 3), ("mmlu", 7, 2)]
    assert [c.spec.rsplit("//", 1)[1] for c in cells] == ["a/v1", "b/v1", "a/v1"]
    assert {c.label for c in cells} == {"m"}
    assert journal.name == "runs.sqlite"  # the user's journal unless the file names one


def test_complete_args_gives_ray_its_default() -> None:
    assert complete_args(["campaign", "f.yaml", "--ray"]) == ["campaign", "f.yaml", "--ray", "local"]
    assert complete_args(["campaign", "--ray", "--json", "f.yaml"]) == [
        "campaign",
        "--ray",
        "local",
        "--json",
        "f.yaml",
    ]
    assert complete_args(["campaign", "f.yaml", "--ray", "ray://h:10001"]) == [
        "campaign",
        "f.yaml",
        "--ray",
        "ray://h:10001",
    ]


# ------------------------------------------------------------------ running locally


def test_campaign_rolls_up_the_same_as_separate_runs_and_resumes(tmp_path: Path) -> None:
    p = write(tmp_path, MOCK_CAMPAIGN)
    roll = api.run_campaign(p)
    assert [(r.model, r.task, r.status) for r in roll.rows] == [
        (m, t, "complete") for m in ("mock:alpha", "beta") for t in ("arc_easy", "hellaswag", "mmlu")
    ]
    journal = tmp_path / "campaign.sqlite"
    assert roll.journal == str(journal)
    for spec, label in (("mock:alpha", "mock:alpha"), ("mock:beta", "beta")):
        for task, limit in (("arc_easy", 8), ("hellaswag", 5), ("mmlu", 1)):
            (alone,) = api.evaluate(spec, [task], limit=limit, journal_path=tmp_path / "alone.sqlite")
            row = next(r for r in roll.rows if r.model == label and r.task == task)
            assert row.run_id == alone.run_id and row.n == alone.n
            assert row.metrics == {k: m.value for k, m in alone.metrics.items()}
            assert row.metric == ("acc" if task == "mmlu" else "acc_norm")
            m = alone.metrics[row.metric]
            assert row.ci95 is not None and m.stderr is not None
            assert row.ci95[0] == pytest.approx(max(0.0, m.value - 1.96 * m.stderr), abs=1e-3)
            assert 0.0 <= row.ci95[0] <= row.value <= row.ci95[1] <= 1.0
    # started again: nothing is scored twice, and the speed shown is the one the runs were scored at
    again = api.run_campaign(p)
    assert [r.model_dump(exclude={"items_per_s"}) for r in again.rows] == [
        r.model_dump(exclude={"items_per_s"}) for r in roll.rows
    ]
    assert all(a.items_per_s == b.items_per_s and a.items_per_s for a, b in zip(again.rows, roll.rows, strict=True))
    assert all(n == d for n, d in samples_per_run(journal).values())


def test_campaign_runs_are_evidence_for_the_leaderboard(tmp_path: Path, cat: object) -> None:
    p = write(
        tmp_path,
        "name: ev\nmodels:\n  - spec: mock:alpha\n    catalog_id: smollm2-135m-instruct\ntasks: [arc_easy]\n"
        "limit: 4\njournal: ev.sqlite\n",
    )
    roll = api.run_campaign(p)
    board = api.leaderboard(cat, journal_path=tmp_path / "ev.sqlite")  # type: ignore[arg-type]
    measured = [s for s in board.tasks["arc_easy"] if s.evidence == "measured"]
    assert [(s.model, s.source) for s in measured] == [("smollm2-135m-instruct", f"run {roll.rows[0].run_id}")]
    row = roll.rows[0]
    assert row.value is not None and row.ci95 is not None
    assert measured[0].value == pytest.approx(100 * row.value) and measured[0].ci_low == pytest.approx(
        100 * row.ci95[0]
    )


def test_campaign_spreads_a_model_over_its_endpoints(tmp_path: Path) -> None:
    with FakeServer("openai") as a, FakeServer("openai") as b:
        p = write(
            tmp_path,
            "name: ep\nmodels:\n  - name: served\n    endpoints:\n"
            f"      - openai:m?base_url={a.url}&concurrency=2\n      - openai:m?base_url={b.url}&concurrency=2\n"
            "tasks: [arc_easy, arc_challenge, hellaswag, {task: mmlu, limit: 1}]\nlimit: 6\njournal: ep.sqlite\n",
        )
        roll = api.run_campaign(p)
        assert [r.status for r in roll.rows] == ["complete"] * 4
        assert a.requests and b.requests
        # cells alternate: arc_easy and hellaswag on a, arc_challenge and mmlu on b; at most 2 in flight each
        assert len(a.requests) == 6 + 6 and len(b.requests) == 6 + 57  # a letter answer per question
        assert a.max_in_flight <= 2 and b.max_in_flight <= 2


def test_cli_campaign_table_and_json(tmp_path: Path) -> None:
    p = write(tmp_path, MOCK_CAMPAIGN)
    runner = CliRunner()
    out = runner.invoke(app, ["campaign", str(p)], env={"COLUMNS": "80"})
    assert out.exit_code == 0, out.output
    for name in ("mock:alpha", "beta", "arc_easy", "hellaswag", "mmlu", "95% CI"):
        assert name in out.output
    assert max(len(line) for line in out.output.splitlines()) <= 80
    js = runner.invoke(app, ["campaign", str(p), "--json"])
    data = json.loads(js.stdout)
    assert data["schema_version"] == 1 and data["campaign"] == "mocks" and len(data["rows"]) == 6
    for row in data["rows"]:  # at 80 columns every cell is whole: run id, value, interval
        assert row["run_id"][:8] in out.output and f"{row['value']:.3f}" in out.output
        assert f"{row['ci95'][0]:.2f}–{row['ci95'][1]:.2f}" in out.output
    bad = runner.invoke(app, ["campaign", str(tmp_path / "missing.yaml")])
    assert bad.exit_code == 2 and "campaign file not found" in bad.output


# ------------------------------------------------------------------ shards merge exactly once


def test_shards_merged_twice_equal_one_process(tmp_path: Path) -> None:
    backend = load_backend("mock:alpha")
    config = EvalConfig(limit=9)
    whole = Journal(tmp_path / "whole.sqlite")
    single = run_task(backend, "arc_easy", config, whole)
    main = Journal(tmp_path / "main.sqlite")
    parts = []
    for k in range(3):
        shard_journal = Journal(tmp_path / f"shard{k}.sqlite")
        part = run_task(backend, "arc_easy", config, shard_journal, shard=(k, 3))
        assert part.run_id == single.run_id and part.n == 3 and part.config["shard"] == f"{k}/3"
        assert part.complete  # its own piece is whole
        rows = shard_journal.numbered(part.run_id)
        assert [seq for seq, _ in rows] == [k, k + 3, k + 6]
        main.start(part.run_id, part.model, part.task, {})
        assert main.merge(part.run_id, rows) == 3
        assert main.merge(part.run_id, rows) == 0  # a retried or repeated shard adds nothing
        parts.append(part)
        shard_journal.close()
    merged = combine(parts, main.samples(single.run_id), total=9, seconds=1.0)
    assert merged.complete and merged.n == 9 and merged.config["shards"] == 3
    assert merged.metrics == single.metrics and merged.groups == single.groups
    assert [r.model_dump() for r in main.samples(single.run_id)] == [
        r.model_dump() for r in whole.samples(single.run_id)
    ]
    partial = combine(parts[:1], main.samples(single.run_id)[:3], total=9, seconds=1.0)
    assert not partial.complete
    main.close()
    whole.close()


# ------------------------------------------------------------------ real models: killed and resumed

REAL_CAMPAIGN = """\
name: two-by-three
models:
  - smollm2?threads=2
  - qwen2.5-coder-0.5b?threads=2
tasks: [arc_easy, arc_challenge, hellaswag]
limit: 6
chunk: 1
journal: real.sqlite
"""


@pytest.mark.slow
def test_real_campaign_killed_and_resumed_equals_separate_runs(tmp_path: Path) -> None:
    p = write(tmp_path, REAL_CAMPAIGN)
    journal = tmp_path / "real.sqlite"
    env = {**os.environ}
    cmd = [sys.executable, "-m", "llmatlas.cli.main", "campaign", str(p), "--json"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    scored = 0
    while time.monotonic() < deadline and proc.poll() is None:  # kill it inside the second model's runs
        time.sleep(0.2)
        if journal.exists():
            scored = sum(n for n, _ in samples_per_run(journal).values())
            if scored >= 6 * 3 + 4:
                break
    assert proc.poll() is None, "the campaign finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = samples_per_run(journal)
    assert 22 <= sum(n for n, _ in before.values()) < 36
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, timeout=600)
    roll = json.loads(done.stdout)
    after = samples_per_run(journal)
    assert all(n == d for n, d in after.values()) and sum(n for n, _ in after.values()) == 36
    for run_id, (n, _) in before.items():
        assert after[run_id][0] >= n
    resumed = [r for r in api.list_runs(journal) if r.result and r.result.config["scored_this_session"] not in (0, 6)]
    assert resumed, "one run was cut in the middle and finished by the second start"
    for spec, label in (("smollm2?threads=2", "smollm2?threads=2"), ("qwen2.5-coder-0.5b?threads=2", None)):
        alone = api.evaluate(
            spec, ["arc_easy", "arc_challenge", "hellaswag"], limit=6, journal_path=tmp_path / "alone.sqlite"
        )
        for res in alone:
            row = next(r for r in roll["rows"] if r["task"] == res.task and r["model"] == (label or spec))
            assert row["run_id"] == res.run_id and row["n"] == res.n == 6
            assert row["metrics"] == {k: m.value for k, m in res.metrics.items()}


def test_a_failing_model_fails_its_cells_and_the_others_run(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        f"name: f\nmodels:\n  - mock:alpha\n  - 'llama:{tmp_path}/missing.gguf'\n  - mock:beta\n"
        "tasks: [arc_easy, hellaswag]\nlimit: 3\njournal: f.sqlite\n",
    )
    roll = api.run_campaign(p)
    assert [r.status for r in roll.rows] == ["complete", "complete", "failed", "failed", "complete", "complete"]
    assert all("missing.gguf" in (r.error or "") for r in roll.failed)
    out = CliRunner().invoke(app, ["campaign", str(p)], env={"COLUMNS": "120"})
    assert out.exit_code == 1
    assert "failed: llama:" in out.output and "run the same command again" in out.output
