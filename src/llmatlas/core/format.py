"""Numbers as llmatlas prints them, in one place for the CLI, the reports and the web's server side."""

from __future__ import annotations

SYMBOLS = {"USD": "$", "CNY": "¥"}


def money(v: float, currency: str | None = "USD") -> str:
    """Money without false precision: whole units from 100, cents below, four decimals under a cent."""
    sym = SYMBOLS.get((currency or "USD").upper(), "")
    if abs(v) >= 100:
        return f"{sym}{v:,.0f}"
    if abs(v) >= 0.01 or v == 0:
        return f"{sym}{v:,.2f}"
    return f"{sym}{v:.4f}"


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
