"""YAML with line numbers, bounded against hostile input: every file a user hands llmatlas
(catalog, offers, requirements, tasks) is parsed here, so every error names its line.

Files are parsed with PyYAML's composer so each value keeps the line it came from; aliases,
nesting and the expanded size are bounded (see ``MAX_*``), so a small file cannot take minutes
or gigabytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from llmatlas.core.errors import InputError

YamlPath = tuple[str | int, ...]


@dataclass
class Located:
    """Parsed data and the line each value (by its path of keys and indexes) came from."""

    data: Any
    lines: dict[YamlPath, int] = field(default_factory=dict)

    def line(self, loc: Iterable[str | int]) -> int | None:
        """The line of the deepest part of ``loc`` that the file spells out."""
        parts = tuple(loc)
        while parts:
            if parts in self.lines:
                return self.lines[parts]
            parts = parts[:-1]
        return self.lines.get((), None)


# Bounds that keep a hostile file from exhausting memory or the stack: catalog, requirements and
# task files are small, hand-written documents.
MAX_ALIASES = 50  # alias uses (*name) per document
MAX_DEPTH = 64  # nesting of mappings and sequences
MAX_VALUES = 200_000  # values after expanding aliases ("billion laughs")


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses deep nesting and alias bombs while composing, before any expansion."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0

    def _mark(self) -> Any:
        return self.peek_event().start_mark  # type: ignore[no-untyped-call]

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise yaml.MarkedYAMLError(
                    problem=f"more than {MAX_ALIASES} aliases (*name)", problem_mark=self._mark()
                )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.MarkedYAMLError(
                    problem=f"nested more than {MAX_DEPTH} levels deep", problem_mark=self._mark()
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _walk(
    node: yaml.Node,
    data: Any,
    path: YamlPath,
    lines: dict[YamlPath, int],
    source: str,
    line: int | None = None,
    budget: list[int] | None = None,
) -> None:
    budget = budget if budget is not None else [MAX_VALUES]
    budget[0] -= 1
    if budget[0] < 0:
        raise InputError(f"more than {MAX_VALUES:,} values once aliases are expanded", path=source)
    lines[path] = line or node.start_mark.line + 1  # a mapping value is reported at its key
    if isinstance(node, yaml.MappingNode) and isinstance(data, dict):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if not isinstance(key_node, yaml.ScalarNode):
                raise InputError(
                    "a key must be a plain value, not a list or mapping",
                    path=source,
                    line=key_node.start_mark.line + 1,
                    field=dotted(path),
                )
            if key in seen:
                raise InputError(
                    "duplicate key",
                    path=source,
                    line=key_node.start_mark.line + 1,
                    field=dotted((*path, key)),
                )
            seen.add(key)
            if key in data:
                _walk(value_node, data[key], (*path, key), lines, source, key_node.start_mark.line + 1, budget)
    elif isinstance(node, yaml.SequenceNode) and isinstance(data, list):
        for i, (child, item) in enumerate(zip(node.value, data, strict=False)):
            _walk(child, item, (*path, i), lines, source, None, budget)


def parse_yaml(text: str, source: str) -> Located:
    """Parse YAML text, keeping the line of each value; every malformed or hostile input becomes InputError.

    Aliases, nesting and the expanded size are bounded (see ``MAX_*``), so a small file cannot
    take minutes or gigabytes; a bad typed value (``!!float abc``) is reported, not raised.
    """
    loader: _BoundedLoader | None = None
    try:
        loader = _BoundedLoader(text)
        node = loader.get_single_node()
        if node is None:
            return Located(None)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise InputError(f"invalid YAML: {exc.problem or exc}", path=source, line=line) from None
    except yaml.YAMLError as exc:
        raise InputError(f"invalid YAML: {exc}", path=source) from None
    except RecursionError:
        raise InputError("invalid YAML: nested too deeply", path=source) from None
    except (ValueError, TypeError, OverflowError) as exc:  # a typed scalar that does not convert: !!float abc
        raise InputError(f"invalid YAML value: {exc}", path=source) from None
    finally:
        if loader is not None:
            loader.dispose()
    located = Located(data)
    _walk(node, data, (), located.lines, source)
    return located


def dotted(loc: Iterable[str | int]) -> str:
    """``("scorer", 1, "pattern")`` -> ``scorer[1].pattern``: how errors name a field of a file."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def read_yaml_mapping(path: str | Path, what: str, keys: str) -> Located:
    """A user's YAML file that must hold a mapping (a requirements or campaign file), parsed with
    lines; a missing, unreadable or non-mapping file is an InputError naming ``what`` it should be
    and the ``keys`` it takes."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{what} not found", path=p) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {what}: {exc}", path=p) from None
    located = parse_yaml(text, str(p))
    if not isinstance(located.data, dict):
        raise InputError(f"a {what} must be a YAML mapping ({keys})", path=p, line=1)
    return located
