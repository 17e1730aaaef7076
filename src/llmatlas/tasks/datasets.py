"""Where benchmark data comes from: local JSONL first, the Hugging Face hub (``datasets``) when online.

Search order for a file: ``--data-dir``, ``$LLMATLAS_DATA_DIR``, ``./shared/data``,
``../shared/data``, ``<user dir>/data``. A bad line is an InputError naming file, line and field.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Protocol, TypeVar

from llmatlas.core.errors import InputError, LlmatlasError, option
from llmatlas.core.paths import user_dir


@dataclass(frozen=True)
class DataSource:
    """Provenance of the data a run used, recorded in its results."""

    kind: str  # "file" or "hub"
    location: str
    sha256: str | None = None


def search_dirs(data_dir: str | Path | None = None) -> list[Path]:
    dirs: list[Path] = []
    if data_dir:
        dirs.append(Path(data_dir).expanduser())
    env = os.environ.get("LLMATLAS_DATA_DIR")
    if env:
        dirs.append(Path(env).expanduser())
    dirs += [Path("shared/data"), Path("../shared/data"), user_dir() / "data"]
    return dirs


def find_file(names: tuple[str, ...], data_dir: str | Path | None = None) -> Path | None:
    if data_dir and not Path(data_dir).expanduser().is_dir():
        raise InputError("data directory does not exist", path=data_dir, field="data_dir")
    for d in search_dirs(data_dir):
        for n in names:
            p = d / n
            if p.is_file():
                return p.resolve()
    return None


def packaged_sample(name: str) -> Path:
    """A small excerpt shipped in the package (first 50 ARC-Easy test rows, CC BY-SA 4.0) so that
    ``llmatlas quickstart`` evaluates offline even without a benchmark data folder."""
    return Path(str(resources.files("llmatlas.tasks") / "data" / name))


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


MAX_JSON_DEPTH = 64  # nesting of one data line (json.loads recurses and would exhaust the stack)


def _json_depth(line: str) -> int:
    """Deepest bracket nesting of a JSON line, outside strings (a cheap scan before parsing)."""
    depth = deepest = 0
    in_str = escaped = False
    for ch in line:
        if in_str:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) pairs; a line that is not a JSON object, is not UTF-8 or nests too
    deeply is an InputError naming the file and line."""
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")  # a spreadsheet's BOM is not an error
            except UnicodeDecodeError as exc:
                raise InputError(f"not UTF-8 text (byte {exc.start + 1})", path=path, line=lineno) from None
            if not line.strip():
                continue
            if _json_depth(line) > MAX_JSON_DEPTH:
                raise InputError(f"JSON nested more than {MAX_JSON_DEPTH} levels", path=path, line=lineno)
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"invalid JSON: {exc.msg} (column {exc.colno})", path=path, line=lineno) from None
            except RecursionError:
                raise InputError("JSON nested too deeply", path=path, line=lineno) from None
            if not isinstance(obj, dict):
                raise InputError("each line must be a JSON object", path=path, line=lineno)
            yield lineno, obj


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


D = TypeVar("D", bound=_HasId)


def converted(
    rows: Iterator[tuple[int, dict[str, Any]]], convert: Callable[[dict[str, Any], int], D], path: Path
) -> list[D]:
    """Each row converted to an item; two items with one id are an InputError (the journal keys
    samples by id, so a duplicate would either be lost or fail mid-run)."""
    out: list[D] = []
    first: dict[str, int] = {}
    for line, row in rows:
        item = convert(row, line)
        if item.id in first:
            raise InputError(f"duplicate item id '{item.id}' (first on line {first[item.id]})", path=path, line=line)
        first[item.id] = line
        out.append(item)
    return out


def field(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], path: Path, line: int) -> Any:
    """``obj[key]`` checked for type; missing or mistyped is an InputError with file, line, field."""
    if key not in obj:
        raise InputError("missing field", path=path, line=line, field=key)
    value = obj[key]
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise InputError(f"expected {names}, got {type(value).__name__}", path=path, line=line, field=key)
    return value


def hub_rows(path: str, name: str | None, split: str) -> Iterator[dict[str, Any]]:
    """Rows from the Hugging Face hub via ``datasets`` (needs network; not reachable in CI)."""
    try:
        import datasets
    except ImportError as exc:
        raise LlmatlasError(
            f"no local data for {path} and the 'datasets' package is missing: pip install datasets, "
            f"or give {option('data_dir')} with the JSONL files"
        ) from exc
    try:
        ds = datasets.load_dataset(path, name, split=split)
    except Exception as exc:
        raise LlmatlasError(
            f"could not load {path}{'/' + name if name else ''} [{split}] from the hub ({type(exc).__name__}); "
            f"give {option('data_dir')} with local JSONL files"
        ) from None
    yield from ds


Converter = Callable[[dict[str, Any], Path, int], Any]
