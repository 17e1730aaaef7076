"""Reports of the advisor: terminal tables, JSON, Markdown and a self-contained HTML file with charts.

Every format shows the same facts with the same footnote numbers, their evidence level, and
"unknown" where a value is unknown (never 0). :func:`write_report` picks the format from the suffix.
"""

from __future__ import annotations

import os
from pathlib import Path

from llmatlas.advise.schema import Recommendation
from llmatlas.core.errors import InputError
from llmatlas.report.html import render_html
from llmatlas.report.markdown import render_markdown
from llmatlas.report.terminal import render_terminal

FORMATS = {".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html", ".json": "json"}


def render_json(rec: Recommendation) -> str:
    """The recommendation as JSON (the schema itself: scripts read this)."""
    return rec.model_dump_json(indent=2)


def render(rec: Recommendation, fmt: str) -> str:
    """A report as text in one of "markdown", "html", "json"."""
    if fmt == "markdown":
        return render_markdown(rec)
    if fmt == "html":
        return render_html(rec)
    if fmt == "json":
        return render_json(rec)
    raise InputError(f"unknown report format '{fmt}': use markdown, html or json")


def write_report(rec: Recommendation, path: str | Path) -> Path:
    """Write the report in the format the suffix names (.md, .html, .json), all or nothing.

    The file is written to a temporary sibling and renamed, so a failure never leaves half a report.
    """
    p = Path(path)
    fmt = FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise InputError(f"cannot tell the report format from '{p.suffix or p.name}': use .md, .html or .json", path=p)
    text = render(rec, fmt)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text if text.endswith("\n") else text + "\n")
            os.replace(tmp, p)
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as exc:
        raise InputError(f"cannot write the report: {exc.strerror or exc}", path=p) from None
    return p


__all__ = ["FORMATS", "render", "render_html", "render_json", "render_markdown", "render_terminal", "write_report"]
