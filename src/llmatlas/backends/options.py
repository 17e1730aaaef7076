"""Backend options (``llama:x.gguf?threads=2&n_ctx=4096``): declared per backend, checked once.

Each backend lists what it takes — kind, range, meaning — so a misspelt option is an error with
a suggestion instead of silently ignored, and a value out of range (``n_ctx=99999999999``,
``max_attempts=1e20``, ``timeout=nan``) is refused with the valid range before anything loads.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from llmatlas.core.errors import InputError

Kind = Literal["int", "float", "bool", "str", "url", "path"]
TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off", ""})


@dataclass(frozen=True)
class Opt:
    """One option: its kind, bounds (inclusive) or choices, and what it does."""

    kind: Kind
    help: str
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] | None = None

    def describe(self) -> str:
        if self.choices:
            return " | ".join(self.choices)
        if self.lo is not None and self.hi is not None:
            return f"{self.kind} in {_num(self.lo)}..{_num(self.hi)}"
        return self.kind


def _num(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:g}"


def _bad(backend: str, name: str, opt: Opt, value: Any) -> InputError:
    return InputError(f"{backend} option '{name}' must be {opt.describe()}, not {str(value)[:80]!r}", field=name)


def _convert(backend: str, name: str, opt: Opt, value: Any) -> Any:
    text = str(value).strip()
    if opt.kind == "bool":
        if isinstance(value, bool):
            return value
        if text.lower() in TRUE | FALSE:
            return text.lower() in TRUE
        raise _bad(backend, name, opt, value)
    if opt.kind in ("int", "float"):
        try:
            number: float = int(text) if opt.kind == "int" else float(text)
        except (TypeError, ValueError):
            raise _bad(backend, name, opt, value) from None
        if not math.isfinite(number):
            raise _bad(backend, name, opt, value)
        if (opt.lo is not None and number < opt.lo) or (opt.hi is not None and number > opt.hi):
            raise _bad(backend, name, opt, value)
        return number
    if opt.choices and text.lower() not in opt.choices:
        raise _bad(backend, name, opt, value)
    if opt.kind == "url":
        try:
            parts = urlsplit(text)
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError as exc:
            raise InputError(f"{backend} option '{name}': not a valid URL ({exc})", field=name) from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InputError(f"{backend} option '{name}' must be an http(s) URL, not {text[:80]!r}", field=name)
    return text.lower() if opt.choices else text


def check_options(backend: str, declared: Mapping[str, Opt], given: Mapping[str, Any]) -> dict[str, Any]:
    """The given options converted to their kinds; unknown names and bad values are InputErrors."""
    out: dict[str, Any] = {}
    for name, value in given.items():
        opt = declared.get(name)
        if opt is None:
            close = difflib.get_close_matches(name, list(declared), n=2)
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            known = ", ".join(sorted(declared)) or "none"
            raise InputError(f"unknown {backend} option '{name}'{hint} (known: {known})", field=name)
        out[name] = _convert(backend, name, opt, value)
    return out


# Options every HTTP API backend takes (see backends/http.py).
API_OPTIONS: dict[str, Opt] = {
    "base_url": Opt("url", "server URL, e.g. http://127.0.0.1:8000/v1"),
    "api_key_env": Opt("str", "environment variable holding the key"),
    "api_key": Opt("str", "refused: keys come from the environment"),
    "stream": Opt("bool", "stream batch generations (TTFT per request)"),
    "concurrency": Opt("int", "requests in flight", 1, 256),
    "max_attempts": Opt("int", "tries per request, the first included", 1, 20),
    "timeout": Opt("float", "seconds per attempt", 0.1, 3600),
    "backoff_base": Opt("float", "first retry's backoff cap, seconds", 0, 60),
    "backoff_max": Opt("float", "largest backoff, seconds", 0, 3600),
    "mc_max_tokens": Opt("int", "answer tokens for multiple choice by letter", 1, 4096),
}
