"""The README's main command, on the real embedded model (slow tier: llama-cpp-python + SmolLM2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmatlas.cli.main import app


@pytest.mark.slow
def test_quickstart_runs_the_embedded_model_offline() -> None:
    r = CliRunner().invoke(app, ["quickstart", "--tokens", "24", "--json"])
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["catalog"]["models"] > 50
    imp = d["import"]
    assert imp["quant"] == "Q4_1"
    assert abs(imp["weights_estimate_bytes"] - imp["file_bytes"]) / imp["file_bytes"] < 0.10
    gen = d["generation"]
    assert gen["output_tokens"] > 0 and gen["text"]
    assert gen["decode_tokens_per_s"] and gen["decode_tokens_per_s"] > 0  # speed is benchmarked, not tested
    assert gen["effective_bandwidth_gb_s"] > 0
    adv = d["recommendation"]
    assert adv["requirements"] == "Customer-support chatbot" and adv["top"] and len(adv["shortlist"]) == 5
    for path in adv["reports"]:
        text = Path(path).read_text(encoding="utf-8")
        assert adv["top"] in text and "Sources" in text


@pytest.mark.slow
def test_quickstart_table_output() -> None:
    r = CliRunner().invoke(app, ["quickstart", "--tokens", "8"])
    assert r.exit_code == 0, r.stderr
    for heading in ("1. Catalog", "2. Import the embedded model", "3. Run it", "5. Recommend"):
        assert heading in r.stdout
    assert "tok/s" in r.stdout and "median of 3 runs" in r.stdout
    # either the calibration advice or, when the repeats disagree, the busy verdict: never both
    assert ("use it to calibrate" in r.stdout) != ("something else is using this machine" in r.stdout)
    assert "report with every source:" in r.stdout and "customer_support_chatbot.html" in r.stdout
