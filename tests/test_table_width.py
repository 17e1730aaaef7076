"""Tables fit the terminal (issue 18): at 80 and 120 columns no line is wider than the terminal, ids,
prices and verdicts stay whole (never "…", never folded), the columns dropped are named under the
table, and ``--wide`` shows every column.

Every table goes through ``FitTable.print``; a spy records each one the command prints (its columns,
its layout and its own rendering), so the checks are per table and hold for tables yet to come.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from rich.text import Text
from typer.testing import CliRunner

from llmatlas.catalog import Catalog
from llmatlas.catalog.query import select
from llmatlas.cli.main import app
from llmatlas.core.tables import KEY, WIDE_HINT, Col, FitTable, Fitted

WIDTHS = (80, 120)
runner = CliRunner()


@dataclass
class Shown:
    """One table as a command printed it."""

    table: FitTable
    fitted: Fitted
    text: str  # the table alone, as rendered
    width: int  # the terminal's
    wide: bool


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> list[Shown]:
    calls: list[Shown] = []
    original = FitTable.print

    def spy(self: FitTable, console: Console, *, wide: bool = False, hint: str | None = WIDE_HINT) -> list[str]:
        fitted = self.fit(console, wide=wide)
        alone = Console(width=fitted.width, record=True, file=io.StringIO(), emoji=False)
        alone.print(fitted.table)
        calls.append(Shown(self, fitted, alone.export_text(), console.width, wide))
        return original(self, console, wide=wide, hint=hint)

    monkeypatch.setattr(FitTable, "print", spy)
    return calls


def _plain(cell: Any) -> str:
    if isinstance(cell, Text):
        return cell.plain
    return Text.from_markup(cell).plain if isinstance(cell, str) else ""


def _tokens(text: str) -> set[str]:
    """The words of a rendered table: what lies between spaces and the frame's vertical lines."""
    return set(re.split(r"[\s│┃]+", text))


def check_table(s: Shown) -> None:
    """The promises of one table: it fits, its key columns are kept, and no kept cell is cut."""
    headers = [c.header for c in s.table.columns]
    kept = [c.header for c in s.fitted.table.columns]
    assert sorted(kept + s.fitted.dropped) == sorted(headers)
    assert not [c.header for c in s.table.columns if c.priority == KEY and c.header in s.fitted.dropped]
    if s.wide:
        assert s.fitted.dropped == [] and s.fitted.width >= s.width
    else:
        assert s.fitted.width == s.width
    assert max(len(line) for line in s.text.splitlines()) <= s.fitted.width, s.text
    tokens = _tokens(s.text)
    ellipses = 0
    for i, col in enumerate(s.table.columns):
        if col.header not in kept:
            continue
        for cell in [col.header, *(row[i] for row in s.table.rows)]:
            plain = _plain(cell)
            ellipses += plain.count("…")
            if col.whole_words:  # every word whole: an id, a price, a verdict is never folded
                missing = [w for w in plain.split() if w not in tokens]
                assert not missing, f"{col.header!r}: {missing} cut in\n{s.text}"
    assert s.text.count("…") == ellipses, f"a cell was cut to '…':\n{s.text}"


def run_cli(args: list[str], width: int, shown: list[Shown], *, wide: bool = False) -> str:
    """Run a command at ``width`` columns; check its every table and its output as a whole."""
    start = len(shown)
    res = runner.invoke(app, [*args, *(["--wide"] if wide else [])], env={"COLUMNS": str(width)})
    assert res.exit_code == 0, res.output
    tables = shown[start:]
    assert tables, "no table printed"
    flat = " ".join(res.stdout.split())
    for s in tables:
        check_table(s)
        if s.fitted.dropped:
            assert f"dropped at {width} columns: {', '.join(s.fitted.dropped)} (--wide shows all)" in flat
    if not wide:  # only a numbered source's URL may be longer: whole, for the terminal to wrap and open
        over = [line for line in res.stdout.splitlines() if len(line) > width]
        assert all(re.fullmatch(r"\s*\[\d+\] \S+", line) for line in over), over
    else:
        assert "dropped at" not in flat
        for s in tables:
            for col in s.table.columns:
                assert all(w in _tokens(s.text) for w in col.header.split()), col.header
    return res.stdout


COMMANDS: dict[str, list[str]] = {
    "models": ["models", "--all"],
    "stale": ["models", "--stale", "1", "--limit", "4"],
    "show": ["show", "llama-3.3-70b-instruct"],
    "show-api": ["show", "gpt-4o"],
    "gpus": ["gpus"],
    "cost": [
        "cost",
        "gpt-4o",
        "llama-3.1-8b-instruct",
        "deepseek-v3.1",
        "ernie-bot-4",
        "--input-tokens",
        "1000",
        "--output-tokens",
        "300",
        "--requests",
        "100000",
    ],
    "fit": ["fit", "llama-2-70b", "--quant", "Q4_K_M", "--gpu", "rtx-4090"],
    "tasks": ["tasks"],
    "recommend": ["recommend", "customer_support_chatbot", "--no-measured"],
}


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_table_fits_with_key_cells_whole(name: str, width: int, shown: list[Shown]) -> None:
    run_cli(COMMANDS[name], width, shown)


@pytest.mark.parametrize("name", ["models", "show", "gpus", "cost", "recommend", "tasks"])
def test_wide_shows_every_column_uncut(name: str, shown: list[Shown]) -> None:
    run_cli(COMMANDS[name], 80, shown)
    assert any(s.fitted.dropped for s in shown), "80 columns drop something here, or this test proves nothing"
    run_cli(COMMANDS[name], 80, shown, wide=True)


@pytest.mark.parametrize("width", WIDTHS)
def test_models_keeps_ids_and_prices_whole(width: int, cat: Catalog, shown: list[Shown]) -> None:
    """The longest id in the catalog and gpt-4o's price sit whole on one row."""
    out = run_cli(["models", "--all"], width, shown)
    longest = max((m.id for m in cat.models.values()), key=len)
    assert longest in _tokens(out)
    row = next(line for line in out.splitlines() if re.search(r"[│ ]gpt-4o[│ ]", line))
    assert "$2.50/$10.00" in row
    (table,) = shown
    kept = [c.header for c in table.fitted.table.columns]
    assert {"id", "status", "$ in/out 1M"} <= set(kept)
    if width == 80:
        assert table.fitted.dropped and "dropped at 80 columns:" in out


@pytest.mark.parametrize("width", WIDTHS)
def test_recommend_keeps_ids_deployments_prices_and_scores_whole(width: int, shown: list[Shown]) -> None:
    out = run_cli(["recommend", "customer_support_chatbot", "--no-measured"], width, shown)
    rec = json.loads(runner.invoke(app, ["recommend", "customer_support_chatbot", "--no-measured", "--json"]).stdout)
    tokens = _tokens(out)
    for c in rec["candidates"][: rec["requirements"]["shortlist"]]:
        assert c["model"] in tokens
        assert f"{c['total']:.2f}" in tokens
        assert all(w in tokens for w in c["deployment_text"].split())
    shortlist = shown[0]
    assert {"Model", "Deployment", "$/month", "Score"} <= {c.header for c in shortlist.fitted.table.columns}


def test_eval_tables_fit(tmp_path: Path, shown: list[Shown]) -> None:
    """The run's results, its plan, the journal's runs and the task list, at both widths."""
    journal = str(tmp_path / "j.sqlite")
    args = ["eval", "--model", "mock:a-rather-long-model-name", "--task", "arc_easy,hellaswag", "--limit", "4"]
    for width in WIDTHS:
        run_cli([*args, "--journal", journal], width, shown)
        run_cli([*args, "--journal", journal, "--plan"], width, shown)
        run_cli(["results", "--journal", journal], width, shown)


CAMPAIGN = """\
name: widths
models:
  - mock:alpha
  - spec: mock:beta
    name: beta
tasks:
  - arc_easy
  - task: hellaswag
    limit: 3
limit: 4
journal: campaign.sqlite
"""


def test_campaign_table_fits(tmp_path: Path, shown: list[Shown]) -> None:
    p = tmp_path / "campaign.yaml"
    p.write_text(CAMPAIGN, encoding="utf-8")
    for width in WIDTHS:
        out = run_cli(["campaign", str(p)], width, shown)
        assert "95% CI" in out  # the campaign table keeps every column at 80 (issue 14)
        assert not shown[-1].fitted.dropped


@pytest.mark.parametrize("width", WIDTHS)
def test_catalog_check_tables_fit(width: int, shown: list[Shown]) -> None:
    pytest.importorskip("genai_prices")
    run_cli(["catalog", "check"], width, shown)
    disagreements = [s for s in shown if s.table.options.get("title") == "Disagreements"]
    if disagreements:  # the verdict stays: explained or not
        assert "explained" in [c.header for c in disagreements[0].fitted.table.columns]


@pytest.mark.parametrize("width", WIDTHS)
def test_quickstart_catalog_slice_fits(width: int, cat: Catalog, shown: list[Shown]) -> None:
    from llmatlas.cli.quickstart import catalog_table

    rows = select(cat, "open_weights and commercial == 'yes' and mmlu != None", "-mmlu")[:8]
    console = Console(width=width, record=True, file=io.StringIO(), emoji=False)
    catalog_table(cat, rows).print(console)
    (s,) = shown
    check_table(s)
    assert all(r["id"] in _tokens(s.text) for r in rows)


# ----------------------------------------------------------------------------- the layout itself


def _table(*cols: Col) -> FitTable:
    return FitTable(list(cols))


def test_lowest_priority_drops_first_and_keys_never() -> None:
    t = _table(
        Col("id"),
        Col("a", priority=1),
        Col("b", priority=2),
        Col("c", priority=2),
        Col("price"),
    )
    t.add_row("model-" + "x" * 20, "a" * 10, "b" * 10, "c" * 10, "$15.00")
    console = Console(width=200, file=io.StringIO())
    # 26 + 10 + 10 + 10 + 6 characters in a frame of 16 (a border and padding around each column): 78
    assert t.fit(console, 78).dropped == []
    assert t.fit(console, 77).dropped == ["c"]  # the rightmost of equals goes first
    assert t.fit(console, 64).dropped == ["b", "c"]
    assert t.fit(console, 51).dropped == ["a", "b", "c"]
    narrowest = t.fit(console, 30)  # even the keys do not fit: they stay, and fold rather than "…"
    assert [c.header for c in narrowest.table.columns] == ["id", "price"]


def test_without_padding_before_a_key_would_fold() -> None:
    t = _table(Col("id"), Col("price"), Col("note", priority=1))
    t.add_row("x" * 30, "$15.00", "hello")
    console = Console(width=200, file=io.StringIO())
    tight = t.fit(console, 39)  # 30 + 6 + a frame of 3 is 39: padding would make it 43
    assert tight.dropped == ["note"]
    alone = Console(width=39, record=True, file=io.StringIO())
    alone.print(tight.table)
    text = alone.export_text()
    assert "x" * 30 in text and "$15.00" in text


def test_free_text_wraps_between_words_before_anything_drops() -> None:
    t = _table(Col("id"), Col("why", wrap=True, min_width=10), Col("age", priority=1))
    t.add_row("gpt-4o", "API costs $6,996/month > budget $1,500 because the volume is large", "12")
    console = Console(width=200, file=io.StringIO())
    fitted = t.fit(console, 40)
    assert fitted.dropped == []
    alone = Console(width=40, record=True, file=io.StringIO())
    alone.print(fitted.table)
    text = alone.export_text()
    assert max(len(line) for line in text.splitlines()) <= 40
    assert {"$6,996/month", "$1,500", "gpt-4o", "12"} <= _tokens(text)


def test_wide_keeps_every_column_and_widens() -> None:
    t = _table(Col("id"), Col("a", priority=1), Col("b", priority=2))
    t.add_row("x" * 30, "y" * 30, "z" * 30)
    console = Console(width=80, record=True, file=io.StringIO())
    fitted = t.fit(console, 40, wide=True)
    assert fitted.dropped == [] and fitted.width > 40
    assert t.print(console, wide=True) == []
    text = console.export_text()
    assert "x" * 30 in text and "z" * 30 in text and "dropped" not in text


def test_dropped_line_names_the_columns() -> None:
    t = _table(Col("id"), Col("License", priority=2), Col("Released", priority=1))
    t.add_row("x" * 40, "Apache-2.0 with a long tail", "2024-01-01")
    console = Console(width=50, record=True, file=io.StringIO())
    assert t.print(console) == ["License", "Released"]
    flat = " ".join(console.export_text().split())
    assert "dropped at 50 columns: License, Released (--wide shows all)" in flat


def test_json_is_unchanged_by_the_width() -> None:
    """--json never depends on the terminal: the same document at 80 and 200 columns."""
    args = ["models", "--where", "id == 'gpt-4o'", "--json"]
    narrow = runner.invoke(app, args, env={"COLUMNS": "80"}).stdout
    wide = runner.invoke(app, args, env={"COLUMNS": "200"}).stdout
    assert json.loads(narrow) == json.loads(wide)
