"""The command line: JSON shapes scripts rely on, tables, and clean errors (exit 2, no traceback)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmatlas.cli.main import app

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, list(args))
    return r.exit_code, r.stdout, r.stderr


def test_models_json_has_sources() -> None:
    code, out, _ = invoke("models", "--json", "--where", "id == 'mixtral-8x7b'")
    assert code == 0
    (m,) = json.loads(out)
    assert m["id"] == "mixtral-8x7b"
    assert m["architecture"]["source"].startswith("https://huggingface.co/")
    assert m["parameters"]["as_of"] == "2024-01-08"
    assert m["benchmarks"][0]["source"].startswith("https://arxiv.org/")


def test_models_table_and_filters() -> None:
    code, out, _ = invoke("models", "--where", "open_weights and moe", "--sort", "-params_b")
    assert code == 0
    assert "mixtral-8x7b" in out and "gpt-4o" not in out


OLD_PRICE = """
developer: {id: acme, name: Acme}
models:
  - id: acme-1
    name: Acme 1
    family: acme
    release: {date: "2024-01-01", source: "https://acme.example/news", as_of: 2024-01-01}
    architecture: {layers: 2, source: "https://acme.example/config.json", as_of: 2024-01-01}
    access: {modes: [api], source: "https://acme.example/api", as_of: 2024-01-01}
    pricing:
      - {input_per_m: 1.0, output_per_m: 2.0, source: "https://acme.example/pricing", as_of: 2024-01-01}
"""


def test_models_stale(tmp_path: Path) -> None:
    (tmp_path / "acme.yaml").write_text(OLD_PRICE, encoding="utf-8")
    args = ("--catalog", str(tmp_path), "models", "--stale", "30", "--where", "id == 'acme-1'")
    code, out, _ = invoke(*args, "--json")
    assert code == 0
    facts = json.loads(out)
    assert facts and all(f["model"] == "acme-1" and f["age_days"] > 30 for f in facts)
    # a price and API access can change; a published config cannot
    assert {f["fact"] for f in facts} == {"pricing.0", "access"}
    code, out, _ = invoke(*args)
    assert code == 0 and "no lifecycle fact" in out and "acme-1" in out


def test_show_lists_every_fact_with_source() -> None:
    code, out, _ = invoke("show", "mistral-7b")
    assert code == 0
    assert "sliding_window=4096" in out and "arxiv.org/abs/2310.06825" in out
    code, out, _ = invoke("show", "mistral-7b", "--json")
    assert json.loads(out)["architecture"]["kv_heads"] == 8


def test_cost_json_shape_and_unpriced() -> None:
    code, out, _ = invoke(
        "cost",
        "gpt-4o",
        "mistral-7b",
        "llama-2-7b",
        "--input-tokens",
        "1000",
        "--output-tokens",
        "500",
        "--requests",
        "1000",
        "--on",
        "2024-06-01",
        "--json",
    )
    assert code == 0, out
    rows = {r["model"]: r for r in json.loads(out)}
    for r in rows.values():
        assert {"model", "input_cost_usd", "output_cost_usd", "total_usd"} <= set(r)
    assert rows["mistral-7b"]["total_usd"] == pytest.approx(1000 * 1500 * 0.25 / 1e6)
    assert rows["llama-2-7b"]["total_usd"] is None and rows["llama-2-7b"]["reason"]


def test_cost_refuses_a_retired_api_today_but_keeps_its_history() -> None:
    args = ("cost", "claude-2", "--input-tokens", "1000", "--output-tokens", "100", "--json")
    code, out, _ = invoke(*args)
    assert code == 0, out
    (today,) = json.loads(out)
    assert today["total_usd"] is None and today["reason"].startswith("retired 2025-07-21")
    assert "replaced by claude-" in today["reason"]
    code, out, _ = invoke(*args, "--on", "2024-06-01")
    (then,) = json.loads(out)
    assert then["total_usd"] == pytest.approx((1000 * 8 + 100 * 24) / 1e6)
    code, out, _ = invoke("cost", "claude-2", "--input-tokens", "1000", "--output-tokens", "100")
    assert code == 0 and "retired" in out


def test_fit_json_shape() -> None:
    code, out, _ = invoke("fit", "llama-2-7b", "--context", "4096", "--memory", "24GB", "--json")
    assert code == 0, out
    d = json.loads(out)
    assert {"model", "weights_bytes", "kv_cache_bytes", "overhead_bytes", "total_bytes", "fits"} <= set(d)
    assert d["kv_cache_bytes"] == 2 * 1024**3
    assert d["total_bytes"] == d["weights_bytes"] + d["kv_cache_bytes"] + d["overhead_bytes"]
    assert d["fits"] is True
    code, out, _ = invoke("fit", "llama-2-70b", "--quant", "Q4_K_M", "--gpu", "rtx-4090", "--json")
    d = json.loads(out)
    assert d["fits"] is False and d["fits_on"]["80 GB H100"] is True
    assert d["speed"]["decode_tokens_per_s"] > 0


def test_fit_undisclosed_model_is_unknown_not_zero() -> None:
    code, out, _ = invoke("fit", "gpt-4", "--json")
    assert code == 0
    d = json.loads(out)
    assert d["weights_bytes"] is None and d["total_bytes"] is None and d["fits"] is None


def test_breakeven_runs() -> None:
    code, out, _ = invoke("breakeven", "gpt-4o", "llama-3-70b-instruct", "--gpu", "h100-sxm", "--json")
    assert code == 0, out
    d = json.loads(out)
    assert d["gpus_needed"] >= 2 and d["selfhost_monthly_usd"] > 0
    code, out, _ = invoke("breakeven", "gpt-4o", "llama-3-70b-instruct", "--requests-per-month", "250000")
    assert code == 0 and "250,000 requests/month of 1,000 input + 300 output tokens" in out  # the workload assumed


def test_gpus_json() -> None:
    code, out, _ = invoke("gpus", "--json")
    assert code == 0 and any(h["id"] == "h100-sxm" for h in json.loads(out))


def test_import_saves_to_user_catalog(tmp_path: Path, isolated_home: Path) -> None:
    from tests.test_importers import write_tiny_gguf

    p = tmp_path / "tiny-model.gguf"
    write_tiny_gguf(p)
    code, out, err = invoke("import", str(p), "--json")
    assert code == 0, err
    d = json.loads(out)
    assert Path(d["saved_to"]).parent == isolated_home / "models"
    code, out, _ = invoke("show", "tiny-model", "--json")
    assert code == 0 and json.loads(out)["architecture"]["layers"] == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "mixtrl-8x7b"], "Did you mean: mixtral-8x7b"),
        (["fit", "mistral-7b", "--quant", "Q9"], "unknown quantization"),
        (["fit", "mistral-7b", "--memory", "lots"], "cannot read memory size"),
        (["fit", "mistral-7b", "--gpu", "h1000"], "unknown GPU"),
        (["models", "--where", "param_b > 3"], "unknown field 'param_b'"),
        (
            ["cost", "gpt-4o", "--input-tokens", "1", "--output-tokens", "1", "--on", "yesterday"],
            "not a date",
        ),
    ],
)
def test_bad_input_exit_2_one_line(args: list[str], message: str) -> None:
    code, out, err = invoke(*args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err + out


def test_bad_user_catalog_exit_2_no_traceback(tmp_path: Path) -> None:
    d = tmp_path / "cat"
    d.mkdir()
    (d / "broken.yaml").write_text(
        "developer: {id: x, name: X}\nmodels:\n  - id: ok\n    name: n\n    family: f\n"
        "    parameters: {total_b: lots, source: 'https://x', as_of: 2024-01-01}\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "llmatlas.cli.main", "--catalog", str(d), "models"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert f"{d / 'broken.yaml'}:6" in proc.stderr and "models[0].parameters.total_b" in proc.stderr


def test_context_sizes_read_in_the_developers_units() -> None:
    """One formatter for context sizes: 128,000 is "128K" (not "125K"), Gemini's 2,097,152 is "2M"."""
    from llmatlas.cli.render import context
    from llmatlas.core import format as fmt

    cases = {128_000: "128K", 131_072: "128K", 2_097_152: "2M", 1_000_000: "1M", 16_385: "16,385", 8192: "8K"}
    for n, shown in cases.items():
        assert context(n) == fmt.tokens(n) == shown
    assert context(None) == "[dim]undisclosed[/dim]"


def test_eval_says_when_a_run_is_reused_or_resumed(tmp_path: Path) -> None:
    journal = str(tmp_path / "j.sqlite")
    args = ["eval", "--model", "mock:alpha", "--task", "arc_easy", "--limit", "4", "--journal", journal]
    first = runner.invoke(app, args)
    assert first.exit_code == 0 and "reused run" not in first.output
    again = runner.invoke(app, args)
    assert again.exit_code == 0
    assert "reused run" in again.output and "4/4 already scored" in again.output
    run_id = json.loads(runner.invoke(app, [*args, "--json"]).stdout)["run_id"]
    assert run_id in again.output
    assert json.loads(runner.invoke(app, [*args, "--json"]).stdout)["timing"]["items_per_s"] > 0  # the original speed


def test_messages_use_words_not_internal_keys(tmp_path: Path) -> None:
    """Exclusion groups by their names ("on-premises (open weights)", not on_premises); an error about
    a command-line argument without a file's "field 'run'" prefix."""
    out = runner.invoke(app, ["recommend", "medical_assistant", "--no-measured"], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    summary = next(line for line in out.output.splitlines() if "Excluded" in line and "models —" in line)
    assert "on-premises (open weights)" in summary and "retired or deprecated" in summary
    assert "on_premises" not in summary and " by " not in summary
    bad = runner.invoke(app, ["compare", "abc", "def", "--journal", str(tmp_path / "j.sqlite")])
    assert bad.exit_code == 2 and "no run 'abc'" in bad.output and "field 'run'" not in bad.output


def test_license_terms_read_as_one_sentence() -> None:
    from llmatlas.catalog.schema import License

    meta = License(
        name="Meta Llama 3 Community License",
        commercial_use="conditional",
        condition="products with over 700 million monthly active users need a license from Meta.",
        source="ref:x",
    )
    assert meta.terms() == (
        "Meta Llama 3 Community License: commercial use is allowed with conditions — "
        "products with over 700 million monthly active users need a license from Meta"
    )
    assert License(name="Apache-2.0", commercial_use="yes", source="ref:x").terms() == (
        "Apache-2.0: commercial use is allowed"
    )
    out = runner.invoke(app, ["recommend", "onprem_code_assistant", "--no-measured"], env={"COLUMNS": "200"})
    assert "only if" not in out.output


def test_progress_bar_shows_the_results_items_per_second_for_a_reused_run(tmp_path: Path) -> None:
    """A reused run's bar jumps to N/N at once: its items/s is the result's (the original run's), not '…'."""
    from rich.console import Console

    from llmatlas.backends.registry import load_backend
    from llmatlas.cli.progress import ProgressView
    from llmatlas.engine.journal import Journal
    from llmatlas.engine.runner import EvalConfig, run_task

    data = str(Path(__file__).parent / "data")
    journal = Journal(tmp_path / "j.sqlite")
    first = run_task(load_backend("mock:alpha?delay=0.01"), "arc_easy", EvalConfig(limit=4, data_dir=data), journal)
    console = Console(record=True, width=120, force_terminal=True)
    with ProgressView(console) as view:
        again = run_task(load_backend("mock:alpha"), "arc_easy", EvalConfig(limit=4, data_dir=data), journal, view)
    assert again.run_id == first.run_id and again.timing.items_per_s == first.timing.items_per_s
    final = console.export_text().rsplit("arc_easy", 1)[-1]  # the bar's last frame
    assert f"4/4 {first.timing.items_per_s:.1f} items/s" in final
