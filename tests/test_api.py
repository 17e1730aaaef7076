"""The library API (llmatlas.api): what the CLI, the web and the quickstart call, tested directly."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from llmatlas import api
from llmatlas.advise.advisor import recommend as advisor_recommend
from llmatlas.advise.requirements import EXAMPLES_DIR, example_names, load_requirements, resolve_requirements
from llmatlas.arena.store import ArenaStore
from llmatlas.catalog import Catalog
from llmatlas.cli.main import app
from llmatlas.core.errors import InputError, LlmatlasError

DATA = Path(__file__).parent / "data"


# --------------------------------------------------------------------------- recommend


def test_packaged_examples_resolve_by_name(tmp_path: Path) -> None:
    names = example_names()
    assert "customer_support_chatbot" in names and names == sorted(names)
    assert resolve_requirements("customer_support_chatbot") == EXAMPLES_DIR / "customer_support_chatbot.yaml"
    own = tmp_path / "mine.yaml"
    own.write_text("x", encoding="utf-8")
    assert resolve_requirements(own) == own  # a file that exists is itself
    assert resolve_requirements(tmp_path / "missing.yaml") == tmp_path / "missing.yaml"  # reported when read
    with pytest.raises(InputError) as err:  # a bare name that is no example: the examples are listed
        resolve_requirements("no_such_example")
    assert "no shipped example" in str(err.value) and ", ".join(names) in str(err.value)


def test_recommend_is_the_advisor_on_the_resolved_file(cat: Catalog) -> None:
    path = EXAMPLES_DIR / "customer_support_chatbot.yaml"
    rec = api.recommend("customer_support_chatbot", cat, use_store=False)
    direct = advisor_recommend(load_requirements(path), cat, requirements_path=path)
    assert [c.model for c in rec.candidates] == [c.model for c in direct.candidates]
    assert rec.requirements_path == direct.requirements_path and "eval" not in rec.extra


def test_recommend_as_of_overrides_the_files_date(cat: Catalog) -> None:
    rec = api.recommend("customer_support_chatbot", cat, use_store=False, as_of=dt.date(2024, 6, 1))
    assert rec.requirements.as_of == dt.date(2024, 6, 1)


def test_recommend_missing_file_is_an_input_error(cat: Catalog, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        api.recommend(tmp_path / "missing.yaml", cat)


def small_models(tmp_path: Path) -> Path:
    """Requirements naming the two smallest SmolLM2 models, weighted on reasoning (HellaSwag, ARC)."""
    req = tmp_path / "r.yaml"
    req.write_text(
        json.dumps(
            {
                "name": "t",
                "use_case": "test",
                "tasks": {"reasoning": 1.0},
                "workload": {"requests_per_day": 1000, "input_tokens": 500, "output_tokens": 100},
                "models": ["smollm2-135m-instruct", "smollm2-360m-instruct"],
                "hosting": {"mode": "self-host"},
            }
        ),
        encoding="utf-8",
    )
    return req


def test_recommend_eval_measures_the_shortlist_into_the_given_journal(cat: Catalog, tmp_path: Path) -> None:
    req = small_models(tmp_path)
    journal = tmp_path / "runs.sqlite"
    lines: list[str] = []
    events: list[Any] = []
    rec = api.recommend(
        req,
        cat,
        eval_shortlist=True,
        eval_models=["smollm2-135m-instruct=mock:m"],
        eval_limit=5,
        data_dir=str(DATA),
        journal_path=journal,
        on_message=lines.append,
        on_event=events.append,
    )
    ev = rec.extra["eval"]
    assert ev["limit"] == 5 and len(ev["runs"]) + len(ev["problems"]) == 2
    assert ev["runs"], ev["problems"]  # hellaswag is in tests/data
    assert any(line.startswith("--eval: 2 runs (5 items each)") for line in lines)
    assert any(line.startswith("--eval: skipped smollm2-360m-instruct") for line in lines)
    assert events, "the runs' progress reaches on_event"
    stored = api.list_runs(journal)
    assert {r.run_id for r in stored} >= set(ev["runs"])  # the runs went to the journal asked for
    assert {m.run_id for m in rec.measurements} >= set(ev["runs"])
    # a later recommend finds those runs in the store, attributed to the catalog model they measured
    later = api.recommend(req, cat, journal_path=journal)
    assert {m.run_id for m in later.measurements} >= set(ev["runs"])
    assert all(r.result is None or r.result.config.get("catalog_id") == "smollm2-135m-instruct" for r in stored)


def test_recommend_reads_the_given_results_store(cat: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from llmatlas.advise import measured

    read: list[str | None] = []
    monkeypatch.setattr(measured, "stored_results", lambda path=None: read.append(path) or [])
    req = small_models(tmp_path)
    api.recommend(req, cat, journal_path=tmp_path / "runs.sqlite")
    assert read == [str(tmp_path / "runs.sqlite")]
    api.recommend(req, cat, use_store=False)
    assert len(read) == 1  # --no-measured reads nothing


# --------------------------------------------------------------------------- results store


def test_list_runs_and_leaderboard_read_the_journal(cat: Catalog, tmp_path: Path) -> None:
    journal = tmp_path / "runs.sqlite"
    (res,) = api.evaluate("mock:m", ["hellaswag"], limit=4, data_dir=str(DATA), journal_path=journal)
    (run,) = api.list_runs(journal)
    assert run.run_id == res.run_id and run.status == "complete" and run.samples == 4
    assert run.result is not None and run.result.metrics.keys() == res.metrics.keys()
    board = api.leaderboard(cat, journal_path=journal, arena=ArenaStore(tmp_path / "arena.sqlite"))
    measured = [s for s in board.tasks["hellaswag"] if s.evidence == "measured"]
    assert [s.source for s in measured] == [f"run {res.run_id}"]
    assert board.tasks["hellaswag"][0].evidence == "measured"  # measured rows first
    assert board.arena.votes == 0 and board.pareto and all(p.blended_usd_per_m >= 0 for p in board.pareto)


def test_pareto_prices_are_the_cost_estimators(cat: Catalog, tmp_path: Path) -> None:
    board = api.leaderboard(cat, journal_path=tmp_path / "none.sqlite", arena=ArenaStore(tmp_path / "a.sqlite"))
    for p in board.pareto:
        (cheapest,) = [r for r in api.price(cat, p.model, 3, 1) if r.first_party]
        assert cheapest.blended_per_m_usd == pytest.approx(p.blended_usd_per_m)


def test_model_detail_is_what_show_json_and_the_web_give(cat: Catalog) -> None:
    d = api.model_detail(cat, "claude-3-haiku")
    assert d.row["id"] == "claude-3-haiku" and d.facts["id"] == "claude-3-haiku"
    assert d.lifecycle["status"] == "retired" and d.lifecycle["text"].startswith("retired")
    assert str(d.lifecycle["source"]).startswith("http")  # the source as its URL
    r = CliRunner().invoke(app, ["show", "claude-3-haiku", "--json"])
    assert r.exit_code == 0, r.output
    shown = json.loads(r.stdout)
    assert shown["status"] == d.model_dump(mode="json")["lifecycle"]
    assert shown["offers"] == d.model_dump(mode="json")["offers"]
    with pytest.raises(LlmatlasError):
        api.model_detail(cat, "no-such-model")


# --------------------------------------------------------------------------- speed check


def test_speed_check_through_a_backend(cat: Catalog) -> None:
    pieces: list[str] = []
    entry = cat.get("smollm2-135m-instruct")
    check = api.speed_check("mock:m", 16, prompt="say something", model=entry, on_text=pieces.append)
    assert check.text and "".join(pieces).strip() == check.text
    assert check.output_tokens > 1 and check.seconds > 0 and check.load_seconds >= 0
    # the mock's timing is deterministic: 10 ms per output token after the first
    assert check.decode_tokens_per_s == pytest.approx((check.output_tokens - 1) / (check.output_tokens * 0.01))
    assert check.bytes_read_per_token and check.bytes_read_per_token > 0
    assert check.effective_bandwidth_gb_s == pytest.approx(check.decode_tokens_per_s * check.bytes_read_per_token / 1e9)
    bare = api.speed_check("mock:m", 16)
    assert bare.bytes_read_per_token is None and bare.effective_bandwidth_gb_s is None
    assert len(check.decode_runs) == 3 and check.spread == pytest.approx(0.0, abs=0.05)  # repeated, steady
    assert not check.busy and check.calibrates


def test_speed_check_says_when_the_machine_is_busy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Repeats that disagree (another job on the CPU) mark the check busy: no calibration from it."""
    import llmatlas.backends.registry as registry
    from llmatlas.backends.base import BackendInfo, Generation

    class Jittery:
        def __init__(self, latencies: list[float]) -> None:
            self.latencies = latencies

        def stream(self, request: object) -> Iterator[object]:
            yield "x"
            yield Generation(text="x" * 17, output_tokens=17, latency_s=self.latencies.pop(0), ttft_s=0.0)

        def info(self) -> BackendInfo:
            return BackendInfo(backend="fake", model="fake", details={"threads": 2})

        def close(self) -> None:
            pass

    # the first generation (0.5 s: a cold start) is the warm-up, not timed
    monkeypatch.setattr(registry, "load_backend", lambda spec: Jittery([0.5, 0.20, 0.32, 0.22]))
    check = api.speed_check("mock:x", 17)
    assert check.decode_runs == pytest.approx([80.0, 50.0, 16 / 0.22])
    assert check.decode_tokens_per_s == pytest.approx(16 / 0.22)  # the median
    assert check.spread == pytest.approx((80 - 50) / (16 / 0.22)) and check.busy and not check.calibrates
    monkeypatch.setattr(registry, "load_backend", lambda spec: Jittery([0.5, 0.20, 0.202, 0.198]))
    assert not api.speed_check("mock:x", 17).busy
    # a handful of tokens: jitter alone moves the rate, so no verdict either way
    monkeypatch.setattr(registry, "load_backend", lambda spec: Jittery([0.5, 0.20, 0.32, 0.22]))
    monkeypatch.setattr(api, "BUSY_MIN_TOKENS", 32)
    assert not api.speed_check("mock:x", 17).busy


def test_speed_check_names_the_missing_package(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llama_cpp" else real(name, *a))
    with pytest.raises(LlmatlasError, match=r"llama-cpp-python: pip install 'llmatlas\[llama\]'"):
        api.speed_check("smollm2", 8)


@pytest.mark.slow
def test_speed_check_on_the_embedded_model() -> None:
    pytest.importorskip("llama_cpp")
    imported = api.import_model("smollm2", save=False)
    check = api.speed_check("smollm2", 12, model=imported.entry)
    assert check.output_tokens > 0 and check.text
    assert check.ttft_seconds is not None and 0 < check.ttft_seconds < check.seconds
    assert check.threads and check.threads >= 1
    assert check.decode_tokens_per_s and check.decode_tokens_per_s > 0  # speed is benchmarked, not tested
    assert check.bytes_read_per_token and check.effective_bandwidth_gb_s and check.effective_bandwidth_gb_s > 0
