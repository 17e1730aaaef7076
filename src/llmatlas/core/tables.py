"""Tables that fit the terminal without cutting what matters.

Every rich table of the CLI and the terminal report goes through :class:`FitTable`: each column has a
priority, key columns (ids, prices, verdicts) are never cut to "…", free-text columns wrap between
words, and when the table is still wider than the terminal the lowest-priority columns drop, and one
line under the table names them. ``wide`` keeps every column and lets the table be as wide as its
key cells need, so nothing is ever cut.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console, ConsoleOptions, JustifyMethod, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

KEY = 0  # the priority of a column that is never dropped
WIDE_HINT = "--wide shows all"
WIDE_WRAP = 40  # with ``wide``, free-text columns wrap at this width, not at their longest word
_UNBOUNDED = 100_000  # a width no table reaches: measure cells as they would be unwrapped


@dataclass(frozen=True)
class Col:
    """A column and how it gives way to a narrow terminal.

    ``priority``: ``KEY`` (0) columns are never dropped; among the others the highest number drops
    first (the rightmost of equals). ``wrap``: free text that wraps between words, down to
    ``min_width`` or its longest word, whichever is wider, before anything drops; other columns keep
    each cell on one line. ``whole_words=False``: a wrap column whose long words are not worth a
    column (a URL inside a note) narrows to ``min_width`` and folds them. No cell is ever cut to "…".
    """

    header: str
    priority: int = KEY
    justify: JustifyMethod = "left"
    style: str | None = None
    wrap: bool = False
    min_width: int = 12
    whole_words: bool = True


@dataclass
class Fitted:
    """The table laid out for one width: what to print, how wide, and which columns were dropped."""

    table: Table
    width: int
    dropped: list[str] = field(default_factory=list)


class _AtWidth:
    """Renders a table at a fixed width, which may exceed the terminal's (``--wide``)."""

    def __init__(self, table: Table, width: int) -> None:
        self.table = table
        self.width = width

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from console.render(self.table, options.update_width(self.width))


class FitTable:
    """Rows and prioritized columns, laid out as a rich ``Table`` only when the width is known.

    ``options`` are rich ``Table`` keyword arguments (title, box, padding…); rows take one cell per
    column, as ``Table.add_row`` does.
    """

    def __init__(self, columns: Sequence[Col], **options: Any) -> None:
        self.columns = list(columns)
        self.options = options
        self.rows: list[list[RenderableType]] = []
        self.section_ends: set[int] = set()

    def add_row(self, *cells: RenderableType | None) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"{len(cells)} cells for {len(self.columns)} columns")
        self.rows.append(["" if c is None else c for c in cells])

    def add_section(self) -> None:
        """A rule under the last row added (as ``Table.add_section``)."""
        if self.rows:
            self.section_ends.add(len(self.rows) - 1)

    # -------------------------------------------------------------------------------- layout

    def _ranges(self, console: Console) -> list[tuple[int, int]]:
        """Each column's (longest word, longest line) over its header and cells."""
        options = console.options.update_width(_UNBOUNDED)
        out = []
        for i, col in enumerate(self.columns):
            cells: Iterable[RenderableType] = [col.header, *(row[i] for row in self.rows)]
            ms = [Measurement.get(console, options, cell) for cell in cells]
            out.append((max(m.minimum for m in ms), max(m.maximum for m in ms)))
        return out

    def _table(self, kept: Sequence[int], widths: dict[int, int], *, tight: bool, rows: bool = True) -> Table:
        opts = dict(self.options)
        if tight:  # no padding: the last resort before a key cell would fold
            opts["padding"] = 0
        if not rows:  # a probe: only the columns' widths and the table's frame count
            opts.pop("title", None)
            opts.pop("caption", None)
        table = Table(**opts)
        for i in kept:
            col = self.columns[i]
            table.add_column(
                col.header,
                justify=col.justify,
                style=col.style,
                no_wrap=not col.wrap,
                overflow="fold",
                width=widths.get(i),
            )
        if rows:
            for n, row in enumerate(self.rows):
                table.add_row(*(row[i] for i in kept), end_section=n in self.section_ends)
        return table

    def _span(self, console: Console, kept: Sequence[int], widths: Sequence[int], *, tight: bool) -> int:
        """The table's width with these columns at these content widths (padding and frame included)."""
        probe = self._table(kept, {i: max(1, widths[i]) for i in kept}, tight=tight, rows=False)
        return Measurement.get(console, console.options.update_width(_UNBOUNDED), probe).maximum

    def _drop(self, console: Console, need: Sequence[int], width: int, *, tight: bool) -> tuple[list[int], bool]:
        """The columns kept once the lowest-priority ones are dropped until the rest fit ``width``, and
        whether they do (key columns alone may not)."""
        kept = list(range(len(self.columns)))
        order = sorted(
            (i for i in kept if self.columns[i].priority != KEY), key=lambda i: (-self.columns[i].priority, -i)
        )
        for i in order:
            if self._span(console, kept, need, tight=tight) <= width:
                break
            kept.remove(i)
        return kept, self._span(console, kept, need, tight=tight) <= width

    def fit(self, console: Console, width: int | None = None, *, wide: bool = False) -> Fitted:
        """Lay the table out for ``width`` (default: the console's): drop the lowest-priority columns
        until the key cells fit whole, without padding if they fit no other way; with ``wide`` keep
        every column and widen the table instead."""
        width = width or console.width
        ranges = self._ranges(console)
        word = [lo for lo, _ in ranges]
        longest = [hi for _, hi in ranges]
        floor = WIDE_WRAP if wide else 0  # wide: free text gets room to read, not only its longest word
        need = [
            min(hi, max(lo if col.whole_words else 0, col.min_width, floor)) if col.wrap else hi
            for col, (lo, hi) in zip(self.columns, ranges, strict=True)
        ]
        tight = False
        if wide:
            kept = list(range(len(self.columns)))
            width = max(width, self._span(console, kept, need, tight=tight))
        else:
            kept, fits = self._drop(console, need, width, tight=False)
            if not fits and self.options.get("padding", 1) != 0:
                tight_kept, tight_fits = self._drop(console, need, width, tight=True)
                if tight_fits:
                    kept, tight = tight_kept, True
        fixed: dict[int, int] = {}
        excess = self._span(console, kept, longest, tight=tight) - width
        if excess > 0 and self._span(console, kept, need, tight=tight) <= width:
            # Wrap the widest free text first, so short cells (a deployment, a weight) stay on one line,
            # and between words before any long word (a path) folds.
            fixed = {i: longest[i] for i in kept if self.columns[i].wrap}
            while excess > 0:
                i = max(fixed, key=lambda i: (fixed[i] > need[i], fixed[i] > word[i], fixed[i]))
                fixed[i] -= 1
                excess -= 1
        dropped = [col.header for i, col in enumerate(self.columns) if i not in kept]
        return Fitted(self._table(kept, fixed, tight=tight), width, dropped)

    def print(self, console: Console, *, wide: bool = False, hint: str | None = WIDE_HINT) -> list[str]:
        """Print the table fitted to ``console`` and, under it, which columns were dropped (and
        ``hint``: how to see them). Returns the dropped headers."""
        fitted = self.fit(console, wide=wide)
        if fitted.width > console.width:
            console.print(_AtWidth(fitted.table, fitted.width), crop=False)
        else:
            console.print(fitted.table)
        if fitted.dropped:
            line = f"dropped at {console.width} columns: {', '.join(fitted.dropped)}"
            console.print(Text(line + (f" ({hint})" if hint else ""), style="dim"))
        return fitted.dropped
