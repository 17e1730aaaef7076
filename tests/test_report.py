"""Reports: every shortlisted model shown, every number traceable to a source, unknown never printed as $0."""

from __future__ import annotations

import inspect
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from rich.console import Console

from llmatlas.advise.schema import Fact, Recommendation
from llmatlas.core.errors import InputError
from llmatlas.report import render_html, render_markdown, render_terminal, write_report
from llmatlas.report.charts import build_charts
from llmatlas.report.common import Footnotes, fmt_fact, tokens
from tests.advise_fixtures import sample_recommendation

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples" / "requirements").glob("*.yaml"))
ZERO_DOLLARS = re.compile(r"\$0(?![\d.,]*\d)|\$0\.0+\b")


@pytest.fixture(scope="module")
def rec() -> Recommendation:
    return sample_recommendation()


@pytest.fixture(scope="module")
def html(rec: Recommendation) -> str:
    return render_html(rec)


@pytest.fixture(scope="module")
def markdown(rec: Recommendation) -> str:
    return render_markdown(rec)


class _Links(HTMLParser):
    """Collects ids, footnote hrefs per shortlist row, source entries and inline SVG spans."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.hrefs: list[str] = []
        self.row_links: dict[str, set[str]] = {}
        self.source_ids: dict[str, str] = {}  # anchor -> source id
        self._row: str | None = None
        self._in_shortlist = False
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if a.get("id"):
            self.ids.add(str(a["id"]))
        if tag == "table" and "shortlist" in (a.get("class") or ""):
            self._in_shortlist = True
        if tag == "tr" and self._in_shortlist and a.get("data-model"):
            self._row = str(a["data-model"])
            self.row_links[self._row] = set()
        if tag == "a" and a.get("href", "").startswith("#"):  # type: ignore[union-attr]
            href = str(a["href"])
            self.hrefs.append(href)
            if self._row is not None and href.startswith("#src-"):
                self.row_links[self._row].add(href[1:])
        if tag == "li" and a.get("data-source-id") and a.get("id"):
            self.source_ids[str(a["id"])] = str(a["data-source-id"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self._row = None
        if tag == "table":
            self._in_shortlist = False


def _links(html: str) -> _Links:
    p = _Links()
    p.feed(html)
    return p


# ------------------------------------------------------------------------------------------- formats


def test_unknown_is_words_never_zero() -> None:
    assert fmt_fact(Fact(), "cost") == "unknown"
    assert fmt_fact(Fact(text="undisclosed"), "context") == "undisclosed"
    assert fmt_fact(Fact(value=0.0), "cost") == "$0.00"  # a known zero stays a number
    assert fmt_fact(Fact(value=1672.9), "cost") == "$1,673"
    # table cells stay short: long words become the value (or "unknown"), units decide the format
    words = "English: documented, German: multilingual, not listed"
    assert fmt_fact(Fact(value=0.5, text=words), "languages", compact=True) == "50%"
    assert fmt_fact(Fact(value=0.5, text=words), "languages") == words
    assert fmt_fact(Fact(text=words.replace("documented", "unknown")), "languages", compact=True) == "unknown"
    assert fmt_fact(Fact(value=5.69, unit="s"), "speed", compact=True) == "5.7 s"
    assert fmt_fact(Fact(value=131072, text="131,072 tokens", unit="tokens"), "context", compact=True) == "128K"
    assert fmt_fact(Fact(value=734.4, text="$734/month", unit="USD/month"), "cost", compact=True) == "$734"
    assert [tokens(n) for n in (8192, 128000, 131072, 200000, 16385, 1_000_000)] == [
        "8K",
        "128K",
        "128K",
        "200K",
        "16,385",
        "1M",
    ]


def test_footnote_numbering_is_shared_and_complete(rec: Recommendation) -> None:
    fn = Footnotes.for_recommendation(rec)
    entries = fn.entries()
    assert [e.number for e in entries] == list(range(1, len(entries) + 1))
    assert {e.id for e in entries} == set(rec.sources)  # every source listed, none invented
    # reading order: the first shortlisted model's first fact gets footnote 1
    assert fn.number(rec.candidates[0].quality.sources[0]) == 1


# ---------------------------------------------------------------------------------------- markdown


def test_markdown_has_every_shortlisted_model_and_sections(rec: Recommendation, markdown: str) -> None:
    for c in rec.shortlist:
        assert c.name in markdown
        assert f"`{c.model}`" in markdown
    for e in rec.excluded:
        assert e.name in markdown and e.reason.split(" ")[0] in markdown
    for heading in (
        "## Answer",
        "## Shortlist",
        "## Excluded models",
        "## Sensitivity",
        "## Assumptions",
        "## Sources",
    ):
        assert heading in markdown
    for line in rec.summary:
        assert line.split(" — ")[0] in markdown
    assert "### Budget (2)" in markdown


def test_markdown_footnotes_resolve_to_sources(rec: Recommendation, markdown: str) -> None:
    refs = {int(n) for n in re.findall(r"\[\^(\d+)\](?!:)", markdown)}
    defs = dict(re.findall(r"^\[\^(\d+)\]: (.*)$", markdown, flags=re.M))
    assert refs and refs <= {int(n) for n in defs}
    fn = Footnotes.for_recommendation(rec)
    for c in rec.shortlist:
        for f in (c.quality, c.monthly_cost, c.speed, c.context):
            for sid in f.sources:
                n = fn.number(sid)
                assert n in refs
                src = rec.sources[sid]
                assert src.title.split(" ")[0] in defs[str(n)]
                if src.url and src.url.startswith("http"):
                    assert f"<{src.url}>" in defs[str(n)]
                if src.as_of:
                    assert src.as_of.isoformat() in defs[str(n)]


def test_markdown_unknown_cost_is_unknown_not_zero(markdown: str) -> None:
    row = next(line for line in markdown.splitlines() if line.startswith("| 5 |"))
    cells = [c.strip() for c in row.split("|")]
    assert "Cohere Coral" in cells[2]
    assert cells[5].startswith("unknown _unknown_")  # $/month
    assert cells[4].startswith("unknown")  # quality
    assert cells[8].startswith("undisclosed")  # context
    assert not ZERO_DOLLARS.search(markdown)


def test_markdown_evidence_levels_visible(markdown: str) -> None:
    row = next(line for line in markdown.splitlines() if line.startswith("| 3 |"))
    assert "79.1 _measured_" in row and "$5,986 _estimated_" in row and "8K _reported_" in row


# -------------------------------------------------------------------------------------------- HTML


def test_html_has_every_shortlisted_model(rec: Recommendation, html: str) -> None:
    links = _links(html)
    assert set(links.row_links) == {c.model for c in rec.shortlist}
    for c in rec.shortlist:
        assert c.name in html
        assert f'id="cand-{c.rank}"' in html
    for section in ("answer", "shortlist", "charts", "details", "excluded", "sensitivity", "assumptions", "sources"):
        assert f'id="{section}"' in html


def test_html_every_number_links_to_its_source(rec: Recommendation, html: str) -> None:
    links = _links(html)
    for href in links.hrefs:
        assert href[1:] in links.ids, f"dangling link {href}"
    assert set(links.source_ids.values()) == set(rec.sources)
    anchor_of = {sid: anchor for anchor, sid in links.source_ids.items()}
    for c in rec.shortlist:
        for f in (c.quality, c.monthly_cost, c.speed, c.latency, c.context, c.languages):
            for sid in f.sources:
                assert anchor_of[sid] in links.row_links[c.model], (c.model, sid)
    # each source entry shows title, link and date
    for sid, src in rec.sources.items():
        assert f'data-source-id="{sid}"' in html
        if src.url and src.url.startswith("https://"):
            assert f'href="{src.url}"' in html
        if src.as_of:
            assert f"as of {src.as_of.isoformat()}" in html


def test_html_unknown_cost_is_unknown_not_zero(html: str) -> None:
    row = re.search(r'<tr class="[^"]*" data-model="coral">(.*?)</tr>', html, flags=re.S)
    assert row is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), flags=re.S)
    assert ">unknown</span>" in cells[4]  # $ / month
    assert "ev-unknown" in cells[4]
    assert ">undisclosed</span>" in cells[7]
    text = re.sub(r"<svg.*?</svg>", "", html, flags=re.S)  # chart axes legitimately start at $0
    assert not ZERO_DOLLARS.search(re.sub(r"<[^>]+>", " ", text))


def test_html_evidence_badges_next_to_numbers(html: str) -> None:
    row = re.search(r'data-model="llama-3-70b-instruct">(.*?)</tr>', html, flags=re.S)
    assert row is not None
    for level in ("measured", "estimated", "reported"):
        assert f'class="ev ev-{level}"' in row.group(1)


def test_html_is_self_contained(html: str) -> None:
    assert "<script" not in html.lower()
    assert not re.search(r'<(img|link|iframe|object|embed)[^>]+(src|href)="(?!data:)', html, flags=re.I)
    assert "url(http" not in html and "@import" not in html
    assert "Content-Security-Policy" in html
    assert "<!DOCTYPE svg" not in html and "<?xml" not in html


def test_user_text_is_escaped(rec: Recommendation) -> None:
    evil = "<script>alert('x')</script> & <b>bold</b> | pipe"
    req = rec.requirements.model_copy(update={"use_case": evil, "name": "Name <img src=x onerror=alert(1)>"})
    cand = rec.candidates[0].model_copy(update={"name": "GPT-4o <script>alert(2)</script>"})
    bad = rec.model_copy(
        update={"requirements": req, "candidates": [cand, *rec.candidates[1:]], "summary": ["<i>not markup</i>"]}
    )
    html = render_html(bad)
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    assert "<img src=x" not in html and "<i>not markup</i>" not in html
    md = render_markdown(bad)
    assert "<script" not in md.lower() and "<img" not in md and "<i>" not in md
    assert "&lt;script&gt;" in md
    assert "\\| pipe" in md  # a pipe in user text cannot split a table row
    console = Console(record=True, width=160)
    render_terminal(bad, console)  # rich markup in user text must not be interpreted (or crash)
    assert "<script>alert(2)</script>" in console.export_text()


def test_charts_are_valid_svg(rec: Recommendation, html: str) -> None:
    charts = build_charts(rec)
    assert [c.key for c in charts] == ["pareto", "cost", "memory", "benchmarks"]
    for ch in charts:
        root = ET.fromstring(ch.svg)
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert root.get("viewBox")
        assert ch.sources and set(ch.sources) <= set(rec.sources)
    inline = re.findall(r"<svg\b.*?</svg>", html, flags=re.S)
    assert len(inline) == 4
    ids: list[str] = []
    for svg in inline:
        root = ET.fromstring(svg)
        ids += [el.get("id", "") for el in root.iter() if el.get("id")]
    assert len(ids) == len(set(ids)), "element ids must be unique across the page's charts"


def test_charts_show_unknown_and_frontier(rec: Recommendation) -> None:
    charts = {c.key: c for c in build_charts(rec)}
    assert "unknown" in charts["cost"].svg and "Cohere Coral" in charts["cost"].svg
    assert "Cohere Coral" in charts["pareto"].caption  # not plotted, and said so
    assert "Pareto frontier" in charts["pareto"].svg
    assert "Llama 3 70B Instruct" in charts["memory"].svg and "66.4 of 80 GiB" in charts["memory"].svg
    for name in ("MT-Bench", "ARC-C", "HumanEval", "HellaSwag", "measured here", "reported"):
        assert name in charts["benchmarks"].svg


# ----------------------------------------------------------------------------------------- terminal


def test_terminal_report(rec: Recommendation) -> None:
    console = Console(record=True, width=170)
    render_terminal(rec, console)
    out = console.export_text()
    for c in rec.shortlist:
        assert c.name in out and c.model in out
    for e in rec.excluded:
        assert e.reason in out
    assert "Budget (2)" in out
    assert "cost +20%" in out and "Claude 3 Haiku (changed)" in out
    assert rec.summary[0][:40] in out
    assert "unknown ?" in out and "$5,986 E" in out and "79.1 M" in out and "93.2 R" in out
    assert not ZERO_DOLLARS.search(out)
    assert "[1] " in out  # sources listed with the same numbers


# ---------------------------------------------------------------------------------------- writing


def test_write_report_by_suffix(rec: Recommendation, tmp_path: Path) -> None:
    md = write_report(rec, tmp_path / "r.md")
    assert md.read_text(encoding="utf-8").startswith("# Model recommendation")
    page = write_report(rec, tmp_path / "sub" / "r.HTML")
    assert page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    js = write_report(rec, tmp_path / "r.json")
    data = json.loads(js.read_text(encoding="utf-8"))
    assert data["schema_version"] == 1
    assert Recommendation.model_validate(data) == rec
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["r.HTML", "r.json", "r.md", "sub"]


def test_write_report_unknown_suffix(rec: Recommendation, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"\.md, \.html or \.json"):
        write_report(rec, tmp_path / "report.pdf")
    with pytest.raises(InputError):
        write_report(rec, tmp_path / "report")
    assert list(tmp_path.iterdir()) == []


def test_empty_recommendation_renders(rec: Recommendation) -> None:
    """No model passed: every format still renders, charts say why they are empty."""
    empty = rec.model_copy(update={"candidates": [], "pareto": [], "sensitivity": [], "summary": ["Nothing fits."]})
    html = render_html(empty)
    assert "No model passed the hard filters" in html
    assert len(re.findall(r"<svg\b", html)) == 4
    assert "No model passed the hard filters" in render_markdown(empty)
    console = Console(record=True, width=120)
    render_terminal(empty, console)
    assert "No model passed the hard filters" in console.export_text()


# ------------------------------------------------------------------------------- the real pipeline


def _recommend() -> object | None:
    try:
        from llmatlas.advise import advisor
    except ImportError:
        return None
    return getattr(advisor, "recommend", None)


@pytest.mark.skipif(_recommend() is None or not EXAMPLES, reason="advisor pipeline or examples not present")
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_real_pipeline_renders(path: Path, tmp_path: Path) -> None:
    from llmatlas.advise.advisor import recommend
    from llmatlas.advise.requirements import load_requirements
    from llmatlas.catalog import load_catalog

    kwargs = {"requirements_path": str(path)} if "requirements_path" in inspect.signature(recommend).parameters else {}
    rec = recommend(load_requirements(path), load_catalog(include_user=False), **kwargs)  # type: ignore[arg-type]
    html = write_report(rec, tmp_path / "r.html").read_text(encoding="utf-8")
    md = write_report(rec, tmp_path / "r.md").read_text(encoding="utf-8")
    links = _links(html)
    for href in links.hrefs:
        assert href[1:] in links.ids, f"dangling link {href}"
    assert set(links.row_links) == {c.model for c in rec.shortlist}
    for c in rec.shortlist:
        assert c.name in md
        if c.monthly_cost.value is None:
            cell = re.search(rf'data-model="{re.escape(c.model)}">(.*?)</tr>', html, flags=re.S)
            assert cell is not None and "ev-unknown" in cell.group(1)
    for svg in re.findall(r"<svg\b.*?</svg>", html, flags=re.S):
        ET.fromstring(svg)
    console = Console(record=True, width=160)
    render_terminal(rec, console)
    out = console.export_text()
    assert all(c.name in out for c in rec.shortlist)


@pytest.mark.parametrize("which", ["self-host", "all"])
def test_known_zero_cost_owned_hardware(rec: Recommendation, which: str) -> None:
    """Owned hardware costs a known $0: shown with its reason, and the log-scale chart still draws it."""
    owned = Fact(value=0.0, text="owned hardware (no rental)", unit="USD/month", evidence="estimated")
    cands = [
        c.model_copy(update={"monthly_cost": owned}) if which == "all" or c.deployment == "self-host" else c
        for c in rec.candidates
    ]
    zero = rec.model_copy(update={"candidates": cands})
    assert fmt_fact(owned, "cost", compact=True) == "owned hardware (no rental)"
    charts = {c.key: c for c in build_charts(zero)}
    for ch in charts.values():
        ET.fromstring(ch.svg)
    assert "Llama 3 70B Instruct" in charts["pareto"].svg  # plotted, not dropped
    assert "owned hardware (no rental)" in charts["cost"].svg
    html = render_html(zero)
    row = re.search(r'data-model="llama-3-70b-instruct">(.*?)</tr>', html, flags=re.S)
    assert row is not None and "owned hardware (no rental)" in row.group(1)
