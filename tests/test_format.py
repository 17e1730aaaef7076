"""Money as llmatlas shows it: a cost's displayed parts add up to its displayed total."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from llmatlas.core.format import money, money_parts

costs = st.floats(min_value=0, max_value=1e7, allow_nan=False, allow_infinity=False)


def value(text: str) -> Decimal:
    return Decimal(text.lstrip("$¥").replace(",", ""))


@given(st.lists(costs, min_size=1, max_size=4))
def test_displayed_parts_add_up_to_the_displayed_total(parts: list[float]) -> None:
    shown, total = money_parts(parts)
    assert sum(value(s) for s in shown) == value(total)
    assert total == money(sum(parts))  # the total reads as any other amount does
    places = {len(s.split(".")[1]) if "." in s else 0 for s in [*shown, total]}
    assert len(places) == 1  # one precision for the whole sum


def test_rounding_that_used_to_disagree() -> None:
    # input $0.0099975 and output $0.02331 were shown as "$0.0100" and "$0.02", total "$0.03"
    assert money_parts([0.0099975, 0.02331]) == (["$0.01", "$0.02"], "$0.03")
    assert money_parts([0.014, 0.014]) == (["$0.02", "$0.01"], "$0.03")  # not "$0.01 + $0.01 = $0.03"
    assert money_parts([73.0, 45.6], "CNY") == (["¥73", "¥46"], "¥119")


def test_cost_table_parts_add_up() -> None:
    """`cost` of 5,600 in + 1,400 out tokens on gpt-4o: $0.014 + $0.014 = $0.028, once printed as
    "$0.01" + "$0.01" = "$0.03"."""
    import re

    from typer.testing import CliRunner

    from llmatlas.cli.main import app

    args = ["cost", "gpt-4o", "--input-tokens", "5600", "--output-tokens", "1400", "--wide"]
    out = CliRunner().invoke(app, args, env={"COLUMNS": "160"})
    assert out.exit_code == 0, out.output
    row = next(line for line in out.output.splitlines() if "OpenAI" in line)
    inp, outp, total = (Decimal(v) for v in re.findall(r"\$([\d.,]+)", row)[:3])
    assert inp + outp == total == Decimal("0.03")
