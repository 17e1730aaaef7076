"""Wire format between the judge and the worker: length-prefixed JSON frames that carry plain data only.

The worker (which runs the untrusted program) and the judge (which runs the test and decides the verdict) live in
different processes; everything the program can tell the judge passes through `decode`, which builds nothing but
None, bool, int, float, complex, str, bytes, bytearray, list, tuple, dict, set, frozenset and opaque handles. So a
reply can be wrong, but it cannot be code, a frame, or an object with its own ``__eq__``.

This file is stdlib-only: the judge and the worker load its source with exec (the package is not importable inside
the sandbox); tests import it as a module.
"""

from __future__ import annotations

import os
from _json import encode_basestring_ascii as _quote
from _json import make_encoder as _make_encoder
from _json import make_scanner as _make_scanner

TYPE_CHECKING = False  # typing is not imported at run time: the sandbox's start-up time matters
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

# The C scanner and encoder of the json package, used directly: importing json itself (and re with it) would
# double the worker's start-up, and json.loads/dumps run Python code that looks up builtins at call time. Bound
# now, so that a program which later patches os or builtins in the worker can only break its own replies (the
# judge then fails it), not make the channel misread.
_read, _write = os.read, os.write


class _ScanContext:
    """What _json.make_scanner reads from a JSONDecoder: strict parsing, plain int/float, NaN and the infinities."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}.__getitem__


_scan = _make_scanner(_ScanContext())  # type: ignore[arg-type]  # it reads only these attributes


def _no_default(obj: object) -> object:
    raise TypeError(f"{type(obj).__name__} is not part of the wire format")


_c_encode = _make_encoder({}, _no_default, _quote, None, ":", ",", False, False, True)
_join = "".join

MAX_FRAME = 32 << 20  # bytes per message; a bigger reply is an error, not a partial read
MAX_DEPTH = 200  # nesting of a value; deeper containers cross as handles (worker) or are refused (judge)
_MAX_HEX = 1 << 22  # digits of one big int / bytes value
_BIG_INT_BITS = 63


class ProtocolError(Exception):
    """A frame or value that breaks the format; the judge scores it as a failure of the program."""


class NeedHandle(Exception):
    """Raised inside a dict key or set element that cannot be sent as plain data."""


def send(fd: int, message: object) -> None:
    """One frame: 4-byte big-endian length, then JSON (non-ASCII and lone surrogates escaped; NaN, Infinity allowed)."""
    text = _join(_c_encode(message, 0))
    data = text.encode("utf-8")
    if len(data) > MAX_FRAME:
        raise ProtocolError(f"message of {len(data)} bytes is over the {MAX_FRAME}-byte limit")
    view = memoryview(len(data).to_bytes(4, "big") + data)
    while view:
        view = view[_write(fd, view) :]


def _read_exact(fd: int, size: int) -> bytes:
    chunks: list[bytes] = []
    left = size
    while left:
        data = _read(fd, min(left, 1 << 20))
        if not data:
            if not chunks and left == size:
                raise EOFError("the other side closed the channel")
            raise ProtocolError(f"frame cut short: {size - left} of {size} bytes")
        chunks.append(data)
        left -= len(data)
    return b"".join(chunks)


def recv(fd: int) -> Any:
    """Read one frame; EOFError when the peer is gone, ProtocolError for anything malformed."""
    size = int.from_bytes(_read_exact(fd, 4), "big")
    if size > MAX_FRAME:
        raise ProtocolError(f"frame of {size} bytes announced, over the {MAX_FRAME}-byte limit")
    data = _read_exact(fd, size) if size else b""
    try:
        text = data.decode("utf-8")
        value, end = _scan(text, 0)
    except (ValueError, StopIteration, RecursionError, MemoryError) as exc:
        raise ProtocolError(f"not a JSON frame: {type(exc).__name__}") from None
    if end != len(text):
        raise ProtocolError("not a JSON frame: trailing data")
    return value


def encode(value: Any, handle: Callable[[object], int], depth: int = 0, key: bool = False) -> object:
    """A JSON-able tree for `value`; objects that are not plain data become {"h": handle(obj)}.

    Subclasses of the plain types (IntEnum, namedtuple, OrderedDict, Counter...) cross as their base type. Inside a
    dict key or a set element a handle is not allowed (the judge could not hash it): NeedHandle makes the whole
    container cross as one handle.
    """
    t = type(value)
    if value is None or t is bool or t is str:
        return value
    if t is int:
        return value if value.bit_length() <= _BIG_INT_BITS else {"i": format(value, "x")}
    if t is float:
        return value
    if depth > MAX_DEPTH:
        return _as_handle(value, handle, key)
    nxt = depth + 1
    if t is list:
        return [encode(v, handle, nxt) for v in value]
    if t is tuple:
        return {"t": [encode(v, handle, nxt, key) for v in value]}
    if t is dict:
        try:
            return {"d": [[encode(k, handle, nxt, True), encode(v, handle, nxt, key)] for k, v in value.items()]}
        except NeedHandle:
            return _as_handle(value, handle, key)
    if t is set or t is frozenset:
        try:
            return {"s" if t is set else "f": [encode(v, handle, nxt, True) for v in value]}
        except NeedHandle:
            return _as_handle(value, handle, key)
    if t is bytes:
        return {"b": value.hex()}
    if t is bytearray:
        return {"y": value.hex()}
    if t is complex:
        return {"c": [value.real, value.imag]}
    for base in (int, float, str, bytes, tuple, list, dict, frozenset, set, complex):  # bool has no subclasses
        if isinstance(value, base):
            return encode(_as_base(value, base), handle, depth, key)
    return _as_handle(value, handle, key)


def _as_base(value: Any, base: type) -> object:
    if base is dict:
        return dict(value.items())
    if base is str:
        return str.__str__(value)
    return base(value)


def _as_handle(value: object, handle: Callable[[object], int], key: bool) -> object:
    if key:
        raise NeedHandle
    return {"h": handle(value)}


def _number(v: object) -> float | int:
    if type(v) not in (int, float):
        raise ProtocolError("complex parts must be numbers")
    return v  # type: ignore[return-value]


def _hex(v: object) -> str:
    if type(v) is not str or len(v) > _MAX_HEX:
        raise ProtocolError("hex payload must be a bounded string")
    return v


def decode(node: Any, remote: Callable[[int], object] | None, depth: int = 0) -> Any:
    """The value a tree stands for, built from plain types only; `remote(id)` makes a handle (None: refused)."""
    t = type(node)
    if node is None or t is bool or t is int or t is float or t is str:
        return node
    if depth > MAX_DEPTH + 2:
        raise ProtocolError("value nested too deeply")
    nxt = depth + 1
    if t is list:
        return [decode(v, remote, nxt) for v in node]
    if t is not dict or len(node) != 1:
        raise ProtocolError("a tagged value must be an object with exactly one key")
    ((tag, v),) = node.items()
    try:
        if tag == "t" and type(v) is list:
            return tuple(decode(x, remote, nxt) for x in v)
        if tag == "d" and type(v) is list:
            out = {}
            for pair in v:
                if type(pair) is not list or len(pair) != 2:
                    raise ProtocolError("dict items must be [key, value] pairs")
                out[decode(pair[0], None, nxt)] = decode(pair[1], remote, nxt)
            return out
        if tag in ("s", "f") and type(v) is list:
            items = [decode(x, None, nxt) for x in v]
            return set(items) if tag == "s" else frozenset(items)
        if tag == "b":
            return bytes.fromhex(_hex(v))
        if tag == "y":
            return bytearray.fromhex(_hex(v))
        if tag == "c" and type(v) is list and len(v) == 2:
            return complex(_number(v[0]), _number(v[1]))
        if tag == "i":
            return int(_hex(v), 16)
        if tag == "h" and type(v) is int:
            if remote is None:
                raise ProtocolError("a handle cannot be a dict key or a set element")
            return remote(v)
    except (TypeError, ValueError, OverflowError) as exc:  # unhashable key, bad hex, huge float...
        raise ProtocolError(f"bad {tag!r} value: {type(exc).__name__}") from None
    raise ProtocolError(f"unknown tag {tag!r}")
