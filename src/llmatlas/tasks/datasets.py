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
from typing import Any

from llmatlas.errors import InputError, LlmatlasError
from llmatlas.paths import user_dir


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


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) pairs; a line that is not a JSON object is an InputError."""
    with path.open(encoding="utf-8-sig") as f:  # a BOM from a spreadsheet export is not an error
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"invalid JSON: {exc.msg} (column {exc.colno})", path=path, line=lineno) from None
            if not isinstance(obj, dict):
                raise InputError("each line must be a JSON object", path=path, line=lineno)
            yield lineno, obj


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
            "or pass --data-dir with the JSONL files"
        ) from exc
    try:
        ds = datasets.load_dataset(path, name, split=split)
    except Exception as exc:
        raise LlmatlasError(
            f"could not load {path}{'/' + name if name else ''} [{split}] from the hub ({type(exc).__name__}); "
            "pass --data-dir with local JSONL files"
        ) from None
    yield from ds


Converter = Callable[[dict[str, Any], Path, int], Any]
