"""Formatting helpers shared by CLI commands: sizes, prices, undisclosed values, JSON."""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any

from pydantic import BaseModel
from rich.console import Console

from llmatlas import api
from llmatlas.catalog.catalog import Catalog
from llmatlas.catalog.schema import UNDISCLOSED, Model
from llmatlas.core import format as fmt

console = Console(emoji=False)
err_console = Console(stderr=True, emoji=False)

UNKNOWN = f"[dim]{UNDISCLOSED}[/dim]"


def gib(n: int | float | None) -> str:
    """Bytes in GiB, or MiB below 1 GiB so small models stay readable; unknown says so."""
    return UNKNOWN if n is None else fmt.gib(n)


def num(v: float | int | None, fmt: str = "{:,}") -> str:
    return UNKNOWN if v is None else fmt.format(v)


def money(v: float | None, currency: str | None = "USD") -> str:
    return UNKNOWN if v is None else fmt.money(v, currency)


def params(b: float | None) -> str:
    if b is None:
        return UNKNOWN
    return f"{b * 1000:.0f}M" if b < 1 else f"{b:g}B"


def context(tokens: int | None) -> str:
    """A context size in the developer's units (128,000 → 128K, 131,072 → 128K, 2,097,152 → 2M)."""
    return UNKNOWN if tokens is None else fmt.tokens(tokens)


def _default(o: Any) -> Any:
    if isinstance(o, BaseModel):
        return o.model_dump(mode="json")
    if isinstance(o, dt.date):
        return o.isoformat()
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def print_json(data: Any) -> None:
    """Plain JSON on stdout (no rich markup, no wrapping) for scripts."""
    sys.stdout.write(json.dumps(data, default=_default, indent=2, ensure_ascii=False) + "\n")


def model_json(cat: Catalog, m: Model, on: dt.date | None = None) -> dict[str, Any]:
    """A model with every block's source expanded to its URL and title, its status on ``on`` and its
    offers: the web's model page (``api.model_detail``) in the shape `show --json` has always had."""
    detail = api.model_detail(cat, m.id, on)
    return {**detail.facts, "status": detail.lifecycle, "offers": detail.offers}


def performance_line(result: Any) -> str:
    """One line of a generation run's speed and cost: p50/p95 latency, TTFT, tokens/s, cost."""
    perf = result.performance
    parts = [f"[bold]{result.task}[/bold]"]
    if perf.latency_s:
        parts.append(f"latency p50 {perf.latency_s.p50:.2f}s p95 {perf.latency_s.p95:.2f}s")
    if perf.ttft_s:
        parts.append(f"TTFT p50 {perf.ttft_s.p50:.2f}s p95 {perf.ttft_s.p95:.2f}s")
    if perf.output_tokens_per_s:
        parts.append(f"{perf.output_tokens_per_s.p50:.1f} output tok/s (p50)")
    if perf.output_tokens is not None:
        parts.append(f"tokens in/out {perf.input_tokens:,}/{perf.output_tokens:,}")
    parts.append(f"cost {money(perf.cost_usd)}" if perf.cost_usd is not None else f"cost n/a ({perf.cost_note})")
    if perf.errors:
        parts.append(f"[red]{perf.errors} failed generations[/red]")
    return " · ".join(parts)
