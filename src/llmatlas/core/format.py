"""Numbers as llmatlas prints them, in one place for the CLI, the reports and the web's server side."""

from __future__ import annotations

import math
from collections.abc import Sequence

SYMBOLS = {"USD": "$", "CNY": "¥"}


def money_decimals(v: float) -> int:
    """Money without false precision: whole units from 100, cents below, four decimals under a cent."""
    if abs(v) >= 100:
        return 0
    if abs(v) >= 0.01 or v == 0:
        return 2
    return 4


def money(v: float, currency: str | None = "USD") -> str:
    sym = SYMBOLS.get((currency or "USD").upper(), "")
    return f"{sym}{v:,.{money_decimals(v)}f}"


def money_parts(parts: Sequence[float], currency: str | None = "USD") -> tuple[list[str], str]:
    """Parts of a cost and their total, at the total's precision, with the parts rounded so that
    they add up to the total as shown (largest remainder): "$0.01 + $0.02 = $0.03", never "= $0.04"."""
    sym = SYMBOLS.get((currency or "USD").upper(), "")
    total = sum(parts)
    d = money_decimals(total)
    scaled = [p * 10**d for p in parts]
    units = [math.floor(x) for x in scaled]
    short = round(total * 10**d) - sum(units)
    for i in sorted(range(len(parts)), key=lambda i: scaled[i] - units[i], reverse=True)[: max(0, short)]:
        units[i] += 1
    shown = [f"{sym}{u / 10**d:,.{d}f}" for u in units]
    return shown, f"{sym}{round(total * 10**d) / 10**d:,.{d}f}"


def gib(n: float, decimals: int = 2, *, small_in_mib: bool = True) -> str:
    """Bytes in GiB (``decimals`` places); below 1 GiB in MiB unless ``small_in_mib`` is off."""
    if small_in_mib and abs(n) < 1024**3:
        return f"{n / 1024**2:,.1f} MiB"
    return f"{n / 1024**3:,.{decimals}f} GiB"


def tokens(n: float) -> str:
    """Context sizes as people say them: 8K, 128K, 1M; odd sizes in full (16,385)."""
    i = int(n)
    if i >= 1_000_000 and i % 1_000_000 == 0:
        return f"{i // 1_000_000}M"
    if i >= 1_048_576 and i % 1_048_576 == 0:
        return f"{i // 1_048_576}M"
    if i >= 1000 and i % 1000 == 0:
        return f"{i // 1000}K"
    if i >= 1024 and i % 1024 == 0:
        return f"{i // 1024}K"
    return f"{i:,}"


def duration(seconds: float) -> str:
    """A time span at the precision a plan deserves: seconds, minutes, then hours."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
