"""Backend options (``llama:x.gguf?threads=2&n_ctx=4096``): declared per backend, checked once.

Each backend declares what it takes as a pydantic model (a subclass of :class:`BackendOptions`:
a field per option with its type, bounds, choices and description), so a misspelt option is an
error that names the valid ones and the closest match instead of being silently ignored, and a
value out of range (``n_ctx=99999999999``, ``max_attempts=1e20``, ``timeout=nan``) is refused with
the valid range before anything loads. :func:`parse_options` turns the query string's text (or a
caller's keyword arguments) into the typed model and every pydantic error into one
:class:`~llmatlas.core.errors.InputError` line (exit 2); :func:`option_docs` describes a model's
options (kind, bounds, default, description) for help text and documentation.
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from llmatlas.core.errors import InputError

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})
OPTION_ERROR = "llmatlas_option"  # a validator's own wording: "<backend> option '<name>' <message>"
_USERINFO = re.compile(r"(?<=://)[^/@?#&\s]*@")


def redact_userinfo(text: str) -> str:
    """The text without the ``user:password@`` part of any URL in it."""
    return _USERINFO.sub("", text)


@dataclass(frozen=True)
class _Kind:
    """Marks an ``Annotated`` type with the kind the option table shows (``url``)."""

    name: str


def _flag(value: Any) -> Any:
    """``1/0, true/false, yes/no, on/off`` (any case) as a bool; anything else fails as not a bool."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise ValueError("not a boolean")


def _http_url(text: str) -> str:
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise PydanticCustomError(OPTION_ERROR, "is not a valid URL ({reason})", {"reason": str(exc)}) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        shown = repr(redact_userinfo(text)[:80])
        raise PydanticCustomError(OPTION_ERROR, "must be an http(s) URL, not {shown}", {"shown": shown})
    return text


Flag = Annotated[bool, BeforeValidator(_flag)]
"""A boolean option: ``1/0``, ``true/false``, ``yes/no``, ``on/off``."""

HttpURL = Annotated[str, AfterValidator(_http_url), _Kind("url"), WithJsonSchema({"type": "string", "format": "uri"})]
"""An ``http://`` or ``https://`` URL with a host (and, if given, a valid port)."""


class BackendOptions(BaseModel):
    """The options one backend takes; subclasses add one field per option.

    Unknown names are errors (``extra="forbid"``), floats must be finite, strings are stripped,
    a choice (``Literal``) is matched in lower case, and an empty value means "not given" (the
    field's default), as ``?threads=`` does in a query string.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _normalize(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        out: dict[str, Any] = {}
        for key, value in data.items():
            field = cls.model_fields.get(key)
            if field is not None and isinstance(value, str):
                if not value.strip():
                    continue  # empty: the default
                if get_origin(_unwrap(field.annotation)[0]) is Literal:
                    value = value.strip().lower()
            out[key] = value
        return out


class APIOptions(BackendOptions):
    """Options every HTTP API backend takes (see backends/http.py)."""

    base_url: HttpURL | None = Field(
        None, description="server URL, e.g. http://127.0.0.1:8000/v1 (default: $…_BASE_URL or the provider's)"
    )
    api_key_env: str | None = Field(None, description="environment variable holding the key")
    api_key: SecretStr | None = Field(None, description="refused: keys come from the environment")
    stream: Flag = Field(False, description="stream batch generations (TTFT per request)")
    concurrency: int = Field(4, ge=1, le=256, description="requests in flight")
    max_attempts: int = Field(5, ge=1, le=20, description="tries per request, the first included")
    timeout: float = Field(120.0, ge=0.1, le=3600, description="seconds per attempt")
    backoff_base: float = Field(0.5, ge=0, le=60, description="first retry's backoff cap, seconds")
    backoff_max: float = Field(30.0, ge=0, le=3600, description="largest backoff, seconds")
    mc_max_tokens: int | None = Field(
        None, ge=1, le=4096, description="answer tokens for multiple choice by letter (default: the backend's)"
    )


# --------------------------------------------------------------------------- describing options


@dataclass(frozen=True)
class OptionDoc:
    """One option as help text shows it: kind, inclusive bounds or choices, default, meaning."""

    name: str
    kind: str  # int, float, bool, str, url, path or choice
    help: str
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] | None = None
    default: Any = None

    def describe(self) -> str:
        """What a valid value is: ``int in 1..1,024``, ``prompt | auto | none``, ``bool``."""
        if self.choices:
            return " | ".join(self.choices)
        if self.lo is not None and self.hi is not None:
            return f"{self.kind} in {_num(self.lo)}..{_num(self.hi)}"
        if self.lo is not None:
            return f"{self.kind} ≥ {_num(self.lo)}"
        if self.hi is not None:
            return f"{self.kind} ≤ {_num(self.hi)}"
        return self.kind


def _num(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:g}"


def _unwrap(tp: Any) -> tuple[Any, list[Any]]:
    """The type inside ``Optional[...]`` / ``Annotated[...]``, and the Annotated metadata met."""
    meta: list[Any] = []
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            meta += list(tp.__metadata__)
            tp = get_args(tp)[0]
        elif origin is Union or origin is types.UnionType:
            args = [a for a in get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp, meta
            tp = args[0]
        else:
            return tp, meta


def _kind(tp: Any, meta: list[Any]) -> str:
    for m in meta:
        if isinstance(m, _Kind):
            return m.name
    if get_origin(tp) is Literal:
        return "choice"
    if isinstance(tp, type):
        for base, name in ((bool, "bool"), (int, "int"), (float, "float"), (Path, "path"), (SecretStr, "str")):
            if issubclass(tp, base):
                return name
        if issubclass(tp, str):
            return "str"
        return str(tp.__name__)
    return str(tp)


def _doc(name: str, field: FieldInfo) -> OptionDoc:
    tp, meta = _unwrap(field.annotation)
    meta += list(field.metadata)
    lo = hi = None
    for m in meta:
        lo = getattr(m, "ge", None) if getattr(m, "ge", None) is not None else lo
        lo = getattr(m, "gt", None) if getattr(m, "gt", None) is not None else lo
        hi = getattr(m, "le", None) if getattr(m, "le", None) is not None else hi
        hi = getattr(m, "lt", None) if getattr(m, "lt", None) is not None else hi
    choices = tuple(str(c) for c in get_args(tp)) if get_origin(tp) is Literal else None
    default = None if field.is_required() else field.get_default(call_default_factory=True)
    return OptionDoc(name, _kind(tp, meta), field.description or "", lo, hi, choices, default)


def option_docs(model: type[BackendOptions]) -> dict[str, OptionDoc]:
    """Every option a model declares, in declaration order."""
    return {name: _doc(name, field) for name, field in model.model_fields.items()}


# --------------------------------------------------------------------------- parsing

M = TypeVar("M", bound=BackendOptions)


def _is_secret(field: FieldInfo | None) -> bool:
    return field is not None and _unwrap(field.annotation)[0] is SecretStr


def _error(model: type[BackendOptions], backend: str, err: Mapping[str, Any]) -> InputError:
    loc = err.get("loc") or ()
    name = str(loc[0]) if loc else ""
    declared = list(model.model_fields)
    if err.get("type") == "extra_forbidden" or (name and name not in model.model_fields):
        close = difflib.get_close_matches(name, declared, n=2)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        known = ", ".join(sorted(declared)) or "none"
        return InputError(f"unknown {backend} option '{name}'{hint} (known: {known})", field=name or None)
    if not name:  # a check across options (a model validator)
        return InputError(f"{backend} options: {err.get('msg', 'invalid')}")
    if err.get("type") == OPTION_ERROR:
        return InputError(f"{backend} option '{name}' {err.get('msg', '')}", field=name)
    doc = _doc(name, model.model_fields[name])
    shown = "" if _is_secret(model.model_fields[name]) else f", not {redact_userinfo(str(err.get('input')))[:80]!r}"
    return InputError(f"{backend} option '{name}' must be {doc.describe()}{shown}", field=name)


def parse_options(model: type[M], backend: str, raw: Mapping[str, object]) -> M:
    """The options as ``model``: query-string text (or typed values) converted and checked.

    An unknown option names the valid ones and the closest match; a bad value names the option and
    its valid range or choices. When several options are wrong, the first one given is reported.
    """
    try:
        return model.model_validate(dict(raw))
    except ValidationError as exc:
        order = {key: i for i, key in enumerate(raw)}
        errors = exc.errors()

        def given_order(e: Any) -> int:
            loc = e.get("loc") or ()
            return order.get(str(loc[0]), len(order)) if loc else len(order)

        raise _error(model, backend, min(errors, key=given_order)) from None
