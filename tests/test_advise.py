"""The advisor: requirements validation, hard filters, deployment costing, ranking, sensitivity."""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from llmatlas.advise import deploy, filters, quality, rank
from llmatlas.advise.advisor import recommend
from llmatlas.advise.evaluate import EvalPlan, plan_evals, run_evals, spec_for, tasks_for
from llmatlas.advise.requirements import Requirements, load_requirements
from llmatlas.advise.schema import Fact, Measurement
from llmatlas.advise.sources import SourceBook
from llmatlas.catalog import Catalog
from llmatlas.catalog.lifecycle import lifecycle_on
from llmatlas.catalog.offers import offers_for
from llmatlas.cli.main import app
from llmatlas.core.errors import InputError
from llmatlas.engine.results import Metric, RunResult, Timing

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "requirements"
DATA = Path(__file__).parent / "data"

BASE: dict[str, Any] = {
    "name": "t",
    "use_case": "test",
    "tasks": {"knowledge": 1.0},
    "workload": {"requests_per_day": 1000, "input_tokens": 500, "output_tokens": 100},
}


HEAD = "name: x\nuse_case: y\n"
TASKS = "tasks: {coding: 1}\n"
WL = "workload: {requests_per_day: 1, input_tokens: 1, output_tokens: 1}\n"


def req(**over: Any) -> Requirements:
    data = {**BASE, **over}
    return Requirements.model_validate(data)


def write(tmp_path: Path, data: Any, name: str = "r.yaml") -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data, sort_keys=False) if not isinstance(data, str) else data, encoding="utf-8")
    return p


# --------------------------------------------------------------------------- requirements file


@pytest.mark.parametrize(
    ("text", "line", "field", "words"),
    [
        (
            HEAD + "tasks: {codeing: 1}\n" + WL,
            3,
            "tasks.codeing",
            "coding",
        ),
        (
            HEAD + TASKS + "workload: {requests_per_day: 0, input_tokens: 1, output_tokens: 1}\n",
            4,
            "workload.requests_per_day",
            "greater than 0",
        ),
        (
            HEAD + TASKS + WL + "budjet: 5\n",
            5,
            "budjet",
            "did you mean 'budget_usd_per_month'",
        ),
        (HEAD + TASKS, None, "workload", "required"),
        (
            HEAD
            + TASKS
            + "workload: {requests_per_day: 1, input_tokens: 10, output_tokens: 1, cached_input_tokens: 20}\n",
            4,
            "workload",
            "cached_input_tokens cannot exceed",
        ),
        (
            HEAD + TASKS + WL + "hosting:\n  hardware: {count: 2}\n",
            6,
            "hosting.hardware",
            "give 'gpu'",
        ),
        (
            HEAD + TASKS + WL + "on_premises: true\nhosting: {mode: api}\n",
            None,
            None,
            "on_premises needs",
        ),
        (
            HEAD + TASKS + WL + "hosting: {quantizations: [Q4_K_Z]}\n",
            5,
            "hosting.quantizations",
            "unknown quantization",
        ),
        ("- a\n- b\n", 1, None, "YAML mapping"),
        ("name: [unclosed\n", None, None, "invalid YAML"),
    ],
)
def test_bad_requirements_name_file_line_field(
    tmp_path: Path, text: str, line: int | None, field: str | None, words: str
) -> None:
    p = write(tmp_path, text)
    with pytest.raises(InputError) as err:
        load_requirements(p)
    e = err.value
    assert e.path == str(p)
    if line is not None:
        assert e.line == line, e.render()
    if field is not None:
        assert e.field == field, e.render()
    assert words in e.render()


def test_missing_requirements_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_requirements(tmp_path / "nope.yaml")


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_examples_validate(path: Path) -> None:
    r = load_requirements(path)
    assert r.task_weights and abs(sum(r.task_weights.values()) - 1) < 1e-9


# --------------------------------------------------------------------------- filters


def test_filters_explain_with_facts(cat: Catalog) -> None:
    book = SourceBook(cat)
    r = req(min_context=100_000, languages=["Chinese"], on_premises=True, hosting={"mode": "self-host"})
    assert (
        "does not allow commercial use"
        in (
            filters.license_(cat.get("llama-2-7b-chat"), r, book) or filters.license_(cat.get("opt-175b"), r, book)
        ).reason
    )  # type: ignore[union-attr]
    out = filters.on_premises(cat.get("gpt-4o"), r, book)
    assert out is not None and "data would leave your premises" in out.reason and out.sources
    out = filters.context(cat.get("llama-2-70b"), r, book)
    assert out is not None and "4,096 tokens < 100,000 needed" in out.reason
    out = filters.languages(cat.get("llama-3-8b"), r, book)
    assert out is not None and "Chinese not supported" in out.reason
    assert filters.languages(cat.get("qwen2-7b"), r, book) is None


def test_conditional_license_is_a_warning_or_an_exclusion(cat: Catalog) -> None:
    m = cat.get("llama-2-70b")
    assert m.license is not None and m.license.commercial_use == "conditional"
    book = SourceBook(cat)
    assert filters.license_(m, req(), book) is None
    out = filters.license_(m, req(allow_conditional_license=False), book)
    # one sentence, not "allows commercial use only if: Commercial use allowed, but …"
    assert out is not None
    assert out.reason.startswith("license Llama 2 Community License: commercial use is allowed, but ")
    assert out.reason.endswith("unconditional commercial use is required")


def test_unknown_license_is_not_commercial(cat: Catalog) -> None:
    m = cat.get("llama-2-7b").model_copy(deep=True)
    assert m.license is not None
    m.license.commercial_use = None
    out = filters.license_(m, req(), SourceBook(cat))
    assert out is not None and "undisclosed" in out.reason


def test_language_support_levels(cat: Catalog) -> None:
    assert filters.language_support(cat.get("qwen2-7b"), "zh") == 1.0
    assert filters.language_support(cat.get("llama-3-8b"), "Spanish") == 0.0
    no_langs = cat.get("llama-3-8b").model_copy(update={"languages": None})
    assert filters.language_support(no_langs, "Spanish") is None


# --------------------------------------------------------------------------- deployment and cost


def test_api_cost_matches_estimator_and_unpriced_is_unknown(cat: Catalog) -> None:
    r = req(workload={"requests_per_day": 1000, "input_tokens": 1000, "output_tokens": 300})
    book = SourceBook(cat)
    f = deploy.api_cost(cat.get("gpt-4o"), r, cat, book)
    months = 1000 * 365 / 12
    price = cat.get("gpt-4o").current_price()
    assert price is not None and price.input_per_m is not None and price.output_per_m is not None
    expected = months * (1000 * price.input_per_m + 300 * price.output_per_m) / 1e6
    assert f.value == pytest.approx(expected, rel=1e-6)
    assert f.evidence == "reported" and any(s.startswith("ref:openai/") for s in f.sources)
    unpriced = deploy.api_cost(cat.get("palm-2"), r, cat, book)
    assert unpriced.value is None and unpriced.text == "unknown" and unpriced.note


def test_selfhost_plan_fits_memory_and_capacity(cat: Catalog) -> None:
    r = req(
        hosting={"mode": "self-host", "hardware": {"gpu": "rtx-4090", "count": 1, "owned": True}},
        workload={"requests_per_day": 2000, "input_tokens": 1000, "output_tokens": 200},
    )
    res = deploy.plan_selfhost(cat.get("llama-3-8b-instruct"), r)
    assert res.plan is not None
    p = res.plan
    assert p.memory_needed_bytes <= p.memory_available_bytes
    assert p.quant in ("bf16", "Q8_0", "Q4_K_M") and p.gpus_per_replica == 1
    assert p.decode_tokens_per_s is not None and p.decode_tokens_per_s >= deploy.DEFAULT_MIN_TOKENS_PER_S
    assert p.monthly_usd == 0.0 and any("owned hardware" in n for n in p.notes)
    # 70B does not fit one 24 GB card in any accepted format.
    res70 = deploy.plan_selfhost(cat.get("llama-3-70b-instruct"), r)
    assert res70.plan is None and res70.reason and "GiB" in res70.reason


def test_owned_hardware_too_small_for_the_workload(cat: Catalog) -> None:
    r = req(
        hosting={"mode": "self-host", "hardware": {"gpu": "rtx-4090", "count": 1, "owned": True}},
        workload={"requests_per_day": 5_000_000, "input_tokens": 2000, "output_tokens": 500},
    )
    res = deploy.plan_selfhost(cat.get("llama-3-8b-instruct"), r)
    assert res.plan is None and res.reason is not None and "you have 1" in res.reason


def test_rented_selfhost_uses_breakeven_cost(cat: Catalog) -> None:
    r = req(hosting={"mode": "self-host", "hardware": {"gpu": "a100-40gb", "count": 8}})
    res = deploy.plan_selfhost(cat.get("llama-3-8b-instruct"), r)
    assert res.plan is not None and res.plan.gpu_hour_usd is not None
    gpus = res.plan.gpus_per_replica * res.plan.replicas
    assert res.plan.monthly_usd == pytest.approx(gpus * res.plan.gpu_hour_usd * 730)


# --------------------------------------------------------------------------- ranking


def _rows(values: dict[str, tuple[float | None, float | None, float | None]]) -> list[rank.Row]:
    rows = []
    for m, (q, c, s) in values.items():
        rows.append(
            rank.Row(
                m,
                {
                    "quality": Fact(value=q),
                    "cost": Fact(value=c),
                    "speed": Fact(value=s),
                    "context": Fact(value=8192.0),
                    "languages": Fact(value=1.0),
                },
            )
        )
    return rows


def test_normalization_unknown_scores_worst_and_floor() -> None:
    rows = _rows({"a": (80, 100, 1), "b": (78, 1000, 2), "c": (None, None, None)})
    q = rank.normalized(rows, "quality")
    assert q["a"] == 1.0 and q["c"] == 0.0
    assert q["b"] == pytest.approx(0.8)  # 2 points over a 10-point floor, not 0
    cost = rank.normalized(rows, "cost")
    assert cost["a"] == 1.0 and cost["b"] == 0.0 and cost["c"] == 0.0
    with_budget = rank.normalized(rows, "cost", budget=2000)
    assert with_budget["a"] == pytest.approx(0.95) and with_budget["b"] == pytest.approx(0.5)


def test_pareto_front() -> None:
    rows = _rows({"best": (90, 100, 1), "dominated": (80, 200, 2), "cheap": (60, 10, 3), "noq": (None, 1, 0.1)})
    assert set(rank.pareto_front(rows)) == {"best", "cheap"}


def test_sensitivity_reports_rank_changes() -> None:
    rows = _rows({"good": (90, 900, 1), "cheap": (70, 100, 1)})
    scores = {c: rank.normalized(rows, c) for c in ("quality", "cost", "speed", "context", "languages")}
    weights = rank.normalize_weights({"quality": 0.52, "cost": 0.48, "speed": 0, "context": 0, "languages": 0})
    base = rank.order(rank.totals(scores, weights), {})
    assert base[0] == "good"
    sens = rank.sensitivity(scores, weights, base, 2, {})
    flips = [s for s in sens if s.top_changed]
    assert flips and all(s.top == "cheap" for s in flips)
    assert {(s.criterion, s.factor) for s in flips} == {("quality", 0.8), ("cost", 1.2)}
    assert flips[0].changes and {c.model for c in flips[0].changes} == {"good", "cheap"}


def test_unknown_task_filled_with_catalog_lowest(cat: Catalog) -> None:
    floor = quality.catalog_floor(cat, ["chat", "classification"], {})
    assert "chat" in floor and "classification" not in floor  # GLUE: too few scores for a floor

    # chat = mean of LMArena (1000 → 0, 1500 → 100), MT-Bench × 10 and IFEval, over those reported
    def chat(m: Any) -> float | None:
        vals = []
        if (a := m.benchmark("chatbot_arena")) is not None:
            vals.append(min(100.0, max(0.0, (a.value - 1000) / 5)))
        if (b := m.benchmark("mt_bench")) is not None:
            vals.append(b.value * 10)
        if (c := m.benchmark("ifeval")) is not None:
            vals.append(c.value)
        return sum(vals) / len(vals) if vals else None

    lowest = min(v for m in cat if (v := chat(m)) is not None)
    assert floor["chat"][0] == pytest.approx(lowest)


def test_measured_score_replaces_reported(cat: Catalog) -> None:
    book = SourceBook(cat)
    m = cat.get("smollm2-135m-instruct")
    meas = Measurement(
        run_id="abc",
        model=m.id,
        spec="smollm2",
        task="mmlu",
        benchmark="mmlu",
        metric="acc",
        value=31.0,
        stderr=1.0,
        n=500,
    )
    tasks = quality.task_quality(m, {"knowledge": 1.0}, {(m.id, "mmlu"): meas}, book)
    ev = tasks[0].benchmarks[0]
    assert ev.evidence == "measured" and ev.value == 31.0 and ev.sources == ["run:abc"]


# --------------------------------------------------------------------------- whole pipeline on the examples


# The examples' answers are checked on a fixed decision date (the catalog's as-of date), so they do
# not change when a provider's announced shutdown passes; test_examples_name_no_retired_model checks
# the real today.
CATALOG_DATE = dt.date(2026, 12, 2)


def rec_for(cat: Catalog, name: str, as_of: dt.date | None = CATALOG_DATE):  # type: ignore[no-untyped-def]
    req = load_requirements(EXAMPLES / f"{name}.yaml").model_copy(update={"as_of": as_of})
    return recommend(req, cat, requirements_path=EXAMPLES / f"{name}.yaml")


def test_every_model_is_candidate_or_explained(cat: Catalog) -> None:
    rec = rec_for(cat, "customer_support_chatbot")
    seen = {c.model for c in rec.candidates} | {e.model for e in rec.excluded}
    assert seen == set(cat.models)
    budget = [e for e in rec.excluded if e.filter == "budget"]
    assert budget and all("budget $1,500" in e.reason for e in budget)
    assert any(e.model == "claude-opus-4.8" and "/month > budget $1,500" in e.reason for e in budget)
    for c in rec.candidates:
        assert c.monthly_cost.value is not None and c.monthly_cost.value <= 1500
        for s in c.criteria:
            for sid in s.fact.sources:
                assert sid in rec.sources, sid


def test_chatbot_answer(cat: Catalog) -> None:
    rec = rec_for(cat, "customer_support_chatbot")
    top = rec.candidates[0]
    assert top.quality.evidence in ("reported", "measured")
    assert top.total >= rec.candidates[1].total
    assert len(rec.summary) >= 3 and rec.summary[0].startswith("Recommended for Customer-support chatbot")
    # Models documented as English-only are out for a multilingual chatbot.
    assert any(e.model == "llama-3-8b-instruct" and e.filter == "languages" for e in rec.excluded)


def test_chinese_app_candidates_support_chinese(cat: Catalog) -> None:
    rec = rec_for(cat, "chinese_app")
    assert rec.candidates
    for c in rec.candidates:
        assert filters.language_support(cat.get(c.model), "Chinese") != 0.0


def test_onprem_code_assistant_self_hosts_on_one_gpu(cat: Catalog) -> None:
    rec = rec_for(cat, "onprem_code_assistant")
    assert rec.candidates
    for c in rec.candidates:
        assert c.deployment == "self-host" and c.plan is not None
        assert c.plan.hardware == "rtx-4090" and c.plan.gpus_per_replica * c.plan.replicas == 1
        assert c.plan.memory_needed_bytes <= c.plan.memory_available_bytes
    assert rec.candidates[0].tasks[0].task == "coding" and not rec.candidates[0].tasks[0].filled
    assert any(e.model == "gpt-4o" and e.filter == "on_premises" for e in rec.excluded)
    assert any(e.model == "llama-3-70b-instruct" and e.filter == "hardware" for e in rec.excluded)


def test_medical_assistant_on_premises(cat: Catalog) -> None:
    rec = rec_for(cat, "medical_assistant")
    assert rec.candidates and all(c.deployment == "self-host" for c in rec.candidates)
    top = rec.candidates[0]
    assert any(t.task == "medical" and not t.filled for t in top.tasks)


def test_bulk_classification_picks_an_encoder(cat: Catalog) -> None:
    rec = rec_for(cat, "bulk_classification")
    top = rec.candidates[0]
    assert top.kind == "encoder" and top.model.startswith("bert")
    assert top.monthly_cost.value is not None and top.monthly_cost.value <= 1000
    apis = [e for e in rec.excluded if e.model in ("gpt-4.1-mini", "gpt-5-mini", "claude-haiku-4.5")]
    assert len(apis) == 3 and all(e.filter in ("budget", "fine_tuning") for e in apis)
    assert rec.stable


@pytest.mark.parametrize("name", sorted(p.stem for p in EXAMPLES.glob("*.yaml")))
def test_examples_name_no_retired_model(cat: Catalog, name: str) -> None:
    """Today (the real date): no candidate is reachable only through a retired or unreleased API,
    and every lifecycle exclusion says why and cites the provider's page."""
    rec = rec_for(cat, name, as_of=None)
    assert rec.candidates
    for c in rec.candidates:
        model = cat.get(c.model)
        if c.deployment == "api":  # the offer it names (the developer's own or a host's) answers today
            offer = next(
                o
                for o in offers_for(cat, model)
                if o.provider == c.provider and o.provider_model_id == c.provider_model_id
            )
            state = lifecycle_on(model, offer=offer)
            assert state.usable, (c.model, c.provider, state.text())
        else:
            assert filters.open_weights(model), c.model
    life = [e for e in rec.excluded if e.filter == "lifecycle"]
    assert len(life) >= 30
    for e in life:
        assert e.reason.startswith(("retired", "released", "API retired", "API not released")), e.reason
        assert e.sources and all(sid in rec.sources for sid in e.sources), e.model
        if e.reason.startswith("retired"):
            assert "API no longer answers" in e.reason


def test_2024_decision_replays_with_as_of(cat: Catalog) -> None:
    """A mid-2024 decision from today's catalog: prices, releases and lifecycle as they stood on
    2024-07-01 — and the same answer whatever was added to the catalog afterwards."""
    when = dt.date(2024, 7, 1)
    rec = rec_for(cat, "customer_support_chatbot", as_of=when)
    assert [c.model for c in rec.candidates[:2]] == ["claude-3-haiku", "glm-4-9b-chat"]
    assert rec.candidates[0].monthly_cost.text == "$418/month"
    out = {e.model: e for e in rec.excluded}
    assert "API costs $36,500/month > budget $1,500" in out["gpt-4"].reason
    assert out["claude-sonnet-4.5"].filter == "lifecycle"
    assert "after the decision date 2024-07-01" in out["claude-sonnet-4.5"].reason
    for c in rec.candidates:
        assert lifecycle_on(cat.get(c.model), when).usable or c.deployment == "self-host", c.model
    # the catalog as it could have been written then: the same ranking, to the last digit
    then = copy.copy(cat)
    then.models = {k: m for k, m in cat.models.items() if lifecycle_on(m, when).status != "unreleased"}
    assert len(then.models) < len(cat.models) - 100
    again = rec_for(then, "customer_support_chatbot", as_of=when)
    assert [(c.model, c.total) for c in again.candidates] == [(c.model, c.total) for c in rec.candidates]


def test_no_candidate_explains(cat: Catalog) -> None:
    r = req(budget_usd_per_month=0.01, hosting={"mode": "api"})
    rec = recommend(r, cat)
    assert not rec.candidates and rec.summary[0].startswith("No model meets every requirement")


# --------------------------------------------------------------------------- --eval


def test_eval_plan_and_runs(cat: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert spec_for("smollm2-135m-instruct", "huggingface", {})[0] == "smollm2"
    spec, why = spec_for("gpt-4o", "openai", {})
    assert spec is None and "OPENAI_API_KEY" in why
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert spec_for("gpt-4o", "openai", {})[0] == "openai:gpt-4o"
    assert tasks_for({"coding": 0.7, "reasoning": 0.3}) == ["humaneval_instruct", "arc_challenge", "hellaswag"]

    def fake(spec: str, task: str, limit: int | None, data_dir: str | None, events: Any, catalog_id: str) -> RunResult:
        return RunResult(
            run_id=f"r-{task}",
            model=spec,
            backend="mock",
            task=task,
            method="loglikelihood",
            n=limit or 0,
            metrics={"acc": Metric(value=0.5, stderr=0.05), "acc_norm": Metric(value=0.6, stderr=0.05)},
            timing=Timing(seconds=1, items_per_s=1),
            created=__import__("datetime").datetime.now(),
        )

    plan = EvalPlan(runs=[("glm-4-9b-chat", "mock:m", "hellaswag")])
    got, problems = run_evals(plan, cat, 10, None, None, runner=fake)
    assert not problems and got[0].model == "glm-4-9b-chat" and got[0].value == pytest.approx(60.0)
    base = load_requirements(EXAMPLES / "customer_support_chatbot.yaml")
    selfhost = base.model_copy(
        update={"as_of": CATALOG_DATE, "hosting": base.hosting.model_copy(update={"mode": "self-host"})}
    )
    rec = recommend(selfhost, cat)
    p = plan_evals(rec.shortlist, rec.requirements.task_weights, {}, cat)
    hosted = [c.model for c in rec.shortlist if c.deployment == "self-host"]
    assert hosted and any(hosted[0] in s for s in p.skipped)  # no packaged build, no --eval-model: skipped


# --------------------------------------------------------------------------- CLI


def test_cli_recommend_json_and_eval_with_mock(tmp_path: Path) -> None:
    data = {
        **BASE,
        "tasks": {"reasoning": 1.0},
        "models": ["smollm2-135m-instruct", "smollm2-360m-instruct"],
        "hosting": {"mode": "self-host"},
    }
    p = write(tmp_path, data)
    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "recommend",
            str(p),
            "--eval",
            "--eval-model",
            "smollm2-135m-instruct=mock:m",
            "--eval-limit",
            "5",
            "--data-dir",
            str(DATA),
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["schema_version"] == 1 and [c["model"] for c in out["candidates"]]
    ev = out["extra"]["eval"]
    # hellaswag from tests/data; arc_challenge runs where ../shared/data has it, else is reported
    assert 1 <= len(ev["runs"]) <= 2 and len(ev["runs"]) + len(ev["problems"]) == 2
    smol = next(c for c in out["candidates"] if c["model"] == "smollm2-135m-instruct")
    measured = [b for t in smol["tasks"] for b in t["benchmarks"] if b["evidence"] == "measured"]
    assert "hellaswag" in {b["benchmark"] for b in measured}
    # stderr is on the same 0–100 scale as the value (a 5-item run: a few tens of points at most)
    assert all(" ± " in b["shown"] and float(b["shown"].split(" ± ")[1].split()[0]) <= 50 for b in measured)
    assert any(m["run_id"] == ev["runs"][0] for m in out["measurements"])


def test_cli_recommend_eval_plan_runs_nothing(tmp_path: Path) -> None:
    data = {**BASE, "tasks": {"reasoning": 1.0}, "models": ["smollm2-135m-instruct"], "hosting": {"mode": "self-host"}}
    p = write(tmp_path, data)
    journal = Path(os.environ["LLMATLAS_HOME"]) / "runs.sqlite"
    args = ["recommend", str(p), "--eval", "--eval-model", "smollm2-135m-instruct=mock:m", "--eval-limit", "5",
            "--data-dir", str(DATA), "--plan"]  # fmt: skip
    res = CliRunner().invoke(app, [*args, "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    (plan,) = info["plans"]
    assert plan["catalog_id"] == "smollm2-135m-instruct" and plan["spec"] == "mock:m"
    tasks = {t["task"]: t for t in plan["tasks"]}
    assert "hellaswag" in tasks and tasks["hellaswag"]["items"] == 5 and tasks["hellaswag"]["tokens"]["naive"] > 0
    assert info["runs"] == [] and not journal.exists(), "a plan runs and journals nothing"
    text = CliRunner().invoke(app, args)
    assert text.exit_code == 0 and "Plan for mock:m" in text.stdout and "nothing was run" in text.stdout
    alone = CliRunner().invoke(app, ["recommend", str(p), "--plan"])
    assert alone.exit_code == 2 and "--eval" in alone.stderr


def test_cli_recommend_bad_file_exit_2(tmp_path: Path) -> None:
    p = write(tmp_path, "name: x\nuse_case: y\ntasks: {coding: -1}\n")
    res = CliRunner().invoke(app, ["recommend", str(p)])
    assert res.exit_code == 2
    assert "r.yaml:3" in res.output and "tasks.coding" in res.output and "Traceback" not in res.output


def test_calibration_puts_benchmarks_of_different_eras_on_one_scale() -> None:
    """Two models evidenced by different benchmarks compare by the ability those scores imply:
    55 on hard benchmarks beats 55–66 on easy ones when the linking models say so."""
    from llmatlas.catalog.schema import BenchmarkScore, Model

    src = "https://example.com/card"
    easy = {"arc_challenge": (60.0, 10.0), "hellaswag": (70.0, 8.0)}  # a_b, s_b: score = a + s·θ
    hard = {"gpqa_diamond": (40.0, 15.0), "swe_bench_verified": (40.0, 15.0)}
    lines = {**easy, **hard}

    def model(mid: str, theta: float, benches: dict[str, tuple[float, float]]) -> Model:
        scores = [
            BenchmarkScore(benchmark=b, value=a + s * theta, source=src)  # type: ignore[arg-type]
            for b, (a, s) in benches.items()
        ]
        return Model(id=mid, name=mid, family="x", benchmarks=scores)

    linking = [model(f"m{i}", t, lines) for i, t in enumerate([-1.5, -0.7, -0.2, 0.3, 0.9, 1.6])]
    old = model("old", -0.5, easy)  # ARC 55, HellaSwag 66
    new = model("new", 1.0, hard)  # GPQA 55, SWE-bench 55
    cal = quality.calibrate([*linking, old, new])
    assert set(cal.lines) == set(lines)
    t_old = cal.theta({b: s.value for b in easy if (s := old.benchmark(b))})
    t_new = cal.theta({b: s.value for b in hard if (s := new.benchmark(b))})
    assert t_old is not None and t_new is not None and t_new > t_old
    # exact data: the fitted lines are the true ones up to θ's standardization, so θ order is exact
    thetas = [cal.theta({b: s.value for b in lines if (s := m.benchmark(b))}) for m in linking]
    assert thetas == sorted(thetas)
    value, raw = quality.calibrated_value(cal, {"gpqa_diamond": 45.0, "glue": 80.0})
    assert raw == ["glue"] and value is not None and 0 < value < 100
    # too few linked models: no line, scores count as published
    few = quality.calibrate(linking[:3])
    assert few.lines == {} and quality.calibrated_value(few, {"gpqa_diamond": 45.0}) == (45.0, ["gpqa_diamond"])
