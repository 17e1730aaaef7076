"""Validate parsed YAML against a pydantic model, reporting the first error at its file line.

Shared by every user-written file (task files, requirements files): one clear line naming file,
line and field, with a spelling hint for unknown keys.
"""

from __future__ import annotations

import difflib
import inspect
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from llmatlas.core.errors import InputError
from llmatlas.core.yamlparse import dotted

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


class LineIndex(Protocol):
    """Where each value of the parsed YAML file sits (catalog.loader's parse_yaml gives one)."""

    def line(self, loc: Iterable[str | int]) -> int | None: ...


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def keys_at(model: type[BaseModel], loc: Loc) -> list[str]:
    """The keys the schema allows in the mapping that holds ``loc``'s last part."""
    cls = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        info = next((f for n, f in cls.model_fields.items() if (f.alias or n) == part), None)
        sub = _model_in(info.annotation) if info is not None else None
        if sub is None:
            return []
        cls = sub
    return sorted(f.alias or n for n, f in cls.model_fields.items())


def clean_loc(loc: Sequence[Any], data: Any) -> Loc:
    """pydantic's error location without union tags ('list[str]'), following the data the file holds."""
    parts = [p for p in loc if isinstance(p, str | int)]
    out: list[str | int] = []
    cur = data
    for i, part in enumerate(parts):
        if isinstance(cur, dict) and (part in cur or (i == len(parts) - 1 and isinstance(part, str))):
            out.append(part)
            cur = cur.get(part)
        elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            out.append(part)
            cur = cur[part]
    return tuple(out)


def _suggest(typed: str, known: list[str]) -> list[str]:
    """A close key, also when the typo is in the first word of a long key (budjet → budget_usd_per_month)."""
    close = difflib.get_close_matches(typed, known, n=1)
    if close:
        return close
    heads = {k[: len(typed)]: k for k in known if len(k) > len(typed)}
    near = difflib.get_close_matches(typed, list(heads), n=1, cutoff=0.8)
    return [heads[near[0]]] if near else []


@dataclass(frozen=True)
class Problem:
    """One validation error in words: where (keys, file line) and what is wrong."""

    loc: Loc
    msg: str
    line: int | None


def _problem(model: type[BaseModel], err: Any, data: Any, lines: LineIndex | None, prefix: Loc) -> Problem:
    loc = clean_loc(err["loc"], data)
    msg = err["msg"]
    if err["type"] == "extra_forbidden" and loc:
        known = keys_at(model, loc)
        close = _suggest(str(loc[-1]), known)
        msg = f"unknown key '{loc[-1]}'" + (f" (did you mean '{close[0]}'?)" if close else "")
        msg += f"; known keys: {', '.join(known)}" if known else ""
    elif err["type"] == "missing":
        msg = "required key is missing"
    elif msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    full = (*prefix, *loc)
    return Problem(full, msg, lines.line(full) if lines is not None else None)


def problems_of(model: type[BaseModel], exc: ValidationError, data: Any, lines: LineIndex | None) -> list[Problem]:
    """Every error of a validation, in words and with lines (a form shows each next to its field)."""
    return [_problem(model, err, data, lines, ()) for err in exc.errors()]


def validate_located(model: type[M], data: Any, lines: LineIndex | None, path: str | Path, prefix: Loc = ()) -> M:
    """Validate ``data``; the first error becomes an InputError at its key's line, with a spelling hint."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        p = _problem(model, exc.errors()[0], data, lines, prefix)
        raise InputError(p.msg, path=path, line=p.line, field=dotted(p.loc) or None) from None
