"""The web UI in a real browser (Debian's headless Chromium through Playwright) against a real server.

A uvicorn server on loopback serves the app with three mock models; one of them answers any prompt
containing "xss" with a script/img payload. Every view must render with no console error, page
error or Content-Security-Policy violation, fetch nothing but the server itself, show the API's
numbers, and render model output as text. Screenshots of each view go to tests/artifacts/web/.

The ``browser`` fixture (tests/conftest.py) skips when Chromium or Playwright is missing, unless
LLMATLAS_REQUIRE_BROWSER=1, where the absence is a failure.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from llmatlas.backends.registry import load_backend
from llmatlas.engine.journal import Journal, default_path
from llmatlas.engine.runner import EvalConfig, run_task
from llmatlas.web.app import Settings, create_app
from tests.conftest import live_server

DATA = Path(__file__).parent / "data"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "web"
XSS = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
SPECS = ("mock:alpha?delay=0.02", "mock:beta?delay=0.02")
TIMEOUT_MS = 15_000


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """A real uvicorn server on a free loopback port; yields its base URL."""
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps({"xss": XSS}), encoding="utf-8")
    cfg = Settings(models=[*SPECS, f"mock:evil?replies={replies}"], arena_path=str(tmp_path / "arena.sqlite"))
    with live_server(create_app(cfg)) as base:
        yield base


@dataclass
class Tab:
    """A page that records every console error/warning, page error and off-site request."""

    page: Any
    base: str
    problems: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)

    def go(self, route: str) -> None:
        self.page.goto(f"{self.base}/#/{route}")
        name = route.split("/")[0] or "catalog"
        self.page.wait_for_selector(f"#view > .page-{name}", timeout=TIMEOUT_MS)

    def api(self, path: str, **params: Any) -> Any:
        r = httpx.get(f"{self.base}{path}", params=params, timeout=30)
        r.raise_for_status()
        return r.json()

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.mouse.move(0, 0)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 10_000
        return path

    def assert_clean(self) -> None:
        assert self.problems == []
        assert self.foreign == [], "the page fetched something from outside the server"


def open_tab(browser: Any, base: str, width: int = 1280) -> Tab:
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    tab = Tab(page, base)

    def console(m: Any) -> None:
        if m.type in ("error", "warning"):
            tab.problems.append(f"console {m.type}: {m.text}")

    page.on("console", console)
    page.on("pageerror", lambda e: tab.problems.append(f"page error: {e}"))
    page.on("request", lambda r: None if r.url.startswith((base, "data:")) else tab.foreign.append(r.url))
    return tab


@pytest.fixture
def tab(browser: Any, server: str) -> Iterator[Tab]:
    t = open_tab(browser, server)
    yield t
    t.page.close()


def column(tab: Tab, col: str) -> list[str]:
    texts: list[str] = tab.page.eval_on_selector_all(
        f"#catalog-table tbody td[data-col='{col}']", "cells => cells.map(c => c.textContent.trim())"
    )
    return texts


def row_ids(tab: Tab) -> list[str]:
    ids: list[str] = tab.page.eval_on_selector_all(
        "#catalog-table tbody tr[data-id]", "rs => rs.map(r => r.dataset.id)"
    )
    return ids


def test_catalog_search_sort_and_model_page(tab: Tab) -> None:
    page = tab.page
    page.goto(tab.base + "/")
    page.wait_for_selector("#catalog-table tbody tr[data-id]")
    assert page.evaluate("location.hash") == "#/catalog"
    everything = tab.api("/api/models", limit=1000)["models"]
    assert len(row_ids(tab)) == len(everything) > 100
    # Unknown is "undisclosed", never 0: every null price or parameter count reads so.
    by_id = {m["id"]: m for m in everything}
    for mid, params, price in zip(row_ids(tab), column(tab, "params_b"), column(tab, "input_price"), strict=True):
        if by_id[mid]["params_b"] is None:
            assert params == "undisclosed", mid
        hosted = by_id[mid]["hosted_input_price"]
        if by_id[mid]["input_price"] is None and hosted is not None:  # open weights: the cheapest hosted offer
            assert price.startswith("$") and f"via {by_id[mid]['hosted_provider']}" in price, (mid, price)
        elif by_id[mid]["input_price"] is None:
            assert price == "undisclosed", mid
        else:
            assert any(c in price for c in "$¥€£"), (mid, price)  # prices carry their currency
    tab.shot("catalog")

    page.fill("#q", "llama")
    expected = {m["id"] for m in tab.api("/api/models", q="llama")["models"]}
    page.wait_for_function(
        "n => document.querySelectorAll('#catalog-table tbody tr[data-id]').length === n", arg=len(expected)
    )
    assert set(row_ids(tab)) == expected and "llama-2-70b" in expected

    page.click("button[data-sort='mmlu']")
    assert page.get_attribute("th:has(button[data-sort='mmlu'])", "aria-sort") == "descending"
    cells = column(tab, "mmlu")
    known = [float(c) for c in cells if c != "undisclosed"]
    assert known == sorted(known, reverse=True) and len(known) >= 5
    assert cells[: len(known)] == [c for c in cells if c != "undisclosed"]  # unknown values sort last
    page.click("button[data-sort='mmlu']")
    assert page.get_attribute("th:has(button[data-sort='mmlu'])", "aria-sort") == "ascending"
    known_up = [float(c) for c in column(tab, "mmlu") if c != "undisclosed"]
    assert known_up == sorted(known_up)

    # Filters go to the API: open weights, at most 8B parameters.
    page.select_option("select[name='access']", "open_weights")
    page.fill("input[name='max_params_b']", "8")
    expected = {m["id"] for m in tab.api("/api/models", q="llama", access="open_weights", max_params_b=8)["models"]}
    page.wait_for_function(
        "n => document.querySelectorAll('#catalog-table tbody tr[data-id]').length === n", arg=len(expected)
    )
    assert set(row_ids(tab)) == expected
    page.click("button:text('Reset')")
    page.fill("#q", "llama 70b")
    page.wait_for_selector("#catalog-table tbody tr[data-id='llama-2-70b']")

    # A row click opens the model page: every fact grouped, with its source as a link, and the benchmarks.
    page.click("tr[data-id='llama-2-70b'] td[data-col='context']")
    page.wait_for_selector("#view > .page-model h1")
    assert page.evaluate("location.hash") == "#/model/llama-2-70b"
    assert page.inner_text("h1") == "Llama 2 70B"
    links = page.locator(".fact-card a.source-link")
    assert links.count() >= 8
    assert links.first.get_attribute("href").startswith("https://")
    assert links.first.inner_text().strip()
    assert page.locator(".fact-card h3", has_text="Parameters").count() == 1
    mmlu = page.locator("table.benchmarks tr[data-benchmark='mmlu']")
    assert mmlu.locator("a.source-link").get_attribute("href").startswith("http")
    assert "68.9" in mmlu.inner_text()
    page.wait_for_selector("[data-calc='memory'] [data-out='total_gib']")
    tab.shot("model")
    tab.assert_clean()


def test_catalog_status_and_lifecycle_of_a_retired_model(tab: Tab) -> None:
    """Retired APIs are hidden by default, shown with their shutdown date on request, and the model
    page says when the API retired, what replaces it and where that comes from."""
    page = tab.page
    page.goto(tab.base + "/#/catalog")
    page.wait_for_selector("#catalog-table tbody tr[data-id]")
    assert "claude-3-haiku" not in row_ids(tab)
    page.select_option("select[name='status']", "retired")
    expected = {m["id"] for m in tab.api("/api/models", status="retired", limit=1000)["models"]}
    page.wait_for_function(
        "n => document.querySelectorAll('#catalog-table tbody tr[data-id]').length === n", arg=len(expected)
    )
    assert "claude-3-haiku" in row_ids(tab)
    assert all(t.startswith("retired") for t in column(tab, "status"))
    cell = page.locator("tr[data-id='claude-3-haiku'] td[data-col='status']").inner_text()
    assert cell.strip() == "retired 2026-04-20"
    tab.go("model/claude-3-haiku")
    note = page.locator("#lifecycle")
    assert note.inner_text().startswith("API retired 2026-04-20, replaced by claude-haiku-4.5")
    assert note.locator("a", has_text="source").get_attribute("href").startswith("https://")
    assert "retired: no price today" in page.locator(".stats").inner_text()
    tab.assert_clean()


def test_cost_and_memory_calculators(tab: Tab) -> None:
    page = tab.page
    tab.go("model/gpt-4o")
    cost = page.locator("[data-calc='cost']")
    cost.locator("input[name='input_tokens']").fill("1000")
    cost.locator("input[name='output_tokens']").fill("300")
    cost.locator("input[name='requests']").fill("1000")
    want = tab.api("/api/cost", model="gpt-4o", input_tokens=1000, output_tokens=300, requests=1000)[0]
    total = cost.locator("[data-out='total_usd']")
    page.wait_for_function(
        "v => document.querySelector(\"[data-calc='cost'] [data-out='total_usd']\")?.dataset.value === v",
        arg=str(want["total_usd"]),
    )
    assert want["total_usd"] == pytest.approx(5.5) and total.inner_text() == "$5.50"
    assert float(cost.locator("[data-out='input_cost_usd']").get_attribute("data-value") or 0) == want["input_cost_usd"]
    assert (
        float(cost.locator("[data-out='output_cost_usd']").get_attribute("data-value") or 0) == want["output_cost_usd"]
    )
    shown = [cost.locator(f"[data-out='{k}']").inner_text() for k in ("input_cost_usd", "output_cost_usd")]
    assert sum(float(v.lstrip("$")) for v in shown) == pytest.approx(5.5)  # the parts add up to the total
    assert cost.locator("a.source-link").count() == 1
    # gpt-4o's parameter count is undisclosed: the memory answer says so instead of guessing.
    page.wait_for_selector("[data-calc='memory'] [data-out='total_gib']")
    assert page.inner_text("[data-calc='memory'] [data-out='total_gib']") == "undisclosed"

    tab.go("model/llama-2-70b")
    # An open-weights model has no API price: not free, unpriced.
    page.wait_for_selector("[data-calc='cost'] .alert-warn")
    assert "No price" in page.inner_text("[data-calc='cost'] .calc-out")
    assert "$0" not in page.inner_text("[data-calc='cost'] .calc-out")
    mem = page.locator("[data-calc='memory']")
    for quant in mem.locator("select[name='quant'] option").evaluate_all("os => os.map(o => o.value)"):
        tab.api("/api/memory", model="llama-2-70b", quant=quant)  # every choice offered is one the API knows
    mem.locator("select[name='quant']").select_option("Q4_K_M")
    mem.locator("input[name='context']").fill("4096")
    mem.locator("select[name='gpu']").select_option("rtx-4090")
    want = tab.api("/api/memory", model="llama-2-70b", quant="Q4_K_M", context=4096, gpu="rtx-4090", count=1)
    page.wait_for_function(
        "v => document.querySelector(\"[data-calc='memory'] [data-out='total_gib']\")?.dataset.value === v",
        arg=str(want["estimate"]["total_bytes"]),
    )
    est = want["estimate"]
    assert mem.locator("[data-out='fits']").inner_text() == "Does not fit" and want["fits"] is False
    assert mem.locator("[data-out='total_gib']").inner_text() == f"{est['total_bytes'] / 2**30:.2f} GiB"
    for part, key in (("weights", "weights_bytes"), ("kv", "kv_cache_bytes"), ("overhead", "overhead_bytes")):
        assert mem.locator(f"[data-out='{part}_gib']").get_attribute("data-value") == str(est[key])
    assert mem.locator("[data-out='decode']").inner_text() == f"{want['speed']['decode_tokens_per_s']:.1f} tok/s"
    mem.locator("select[name='gpu']").select_option("h100-sxm")
    mem.locator("input[name='count']").fill("2")
    page.wait_for_function(
        "() => document.querySelector(\"[data-calc='memory'] [data-out='fits']\")?.textContent === 'Fits'"
    )
    assert tab.api("/api/memory", model="llama-2-70b", quant="Q4_K_M", context=4096, gpu="h100-sxm", count=2)["fits"]

    # The Calculators view compares several models' cost for one workload.
    tab.go("calc")
    rows = page.locator("table.compare tbody tr[data-model]")
    rows.first.wait_for()
    assert rows.count() >= 3
    ids = [rows.nth(i).get_attribute("data-model") for i in range(rows.count())]
    api = {
        e["model"]: e for e in tab.api("/api/cost", model=ids, input_tokens=1000, output_tokens=300, requests=100000)
    }
    for i, mid in enumerate(ids):
        out = rows.nth(i).locator("[data-out='total_usd']")
        if api[mid]["total_usd"] is None:
            assert "no price" in rows.nth(i).inner_text()
        else:
            assert float(out.get_attribute("data-value") or "nan") == pytest.approx(api[mid]["total_usd"])
    priced = [api[m]["total_usd"] for m in ids if api[m]["total_usd"] is not None]
    assert priced == sorted(priced)  # cheapest first
    page.locator("[data-calc='memory'] [data-out='total_gib']").wait_for()
    tab.shot("calc")
    tab.assert_clean()


INSTALL_DELTA_COUNTER = """() => {
  window.__deltas = {};
  new MutationObserver((records) => {
    for (const r of records) {
      const pane = r.target.closest && r.target.closest('.pane');
      if (r.type === 'childList' && r.target.matches('pre.output') && pane) {
        window.__deltas[pane.dataset.model] = (window.__deltas[pane.dataset.model] || 0) + r.addedNodes.length;
      }
    }
  }).observe(document.querySelector('.panes'), {childList: true, subtree: true});
}"""


def run_playground(tab: Tab, specs: list[str], prompt: str) -> None:
    page = tab.page
    tab.go("playground")
    for box in page.locator("input[name='model']").all():
        box.set_checked(box.get_attribute("value") in specs)
    page.fill("textarea[name='prompt']", prompt)
    page.evaluate(INSTALL_DELTA_COUNTER)
    page.click("#run")
    for spec in specs:
        page.wait_for_selector(f".pane[data-model='{spec}'][data-state='done']")


def test_playground_streams_two_models_side_by_side(tab: Tab) -> None:
    page = tab.page
    specs = list(SPECS)
    run_playground(tab, specs, "Say hello in one short sentence.")
    deltas = page.evaluate("window.__deltas")
    for spec in specs:
        pane = page.locator(f".pane[data-model='{spec}']")
        r = httpx.post(
            f"{tab.base}/api/generate",
            json={"model": spec, "prompt": "Say hello in one short sentence.", "max_tokens": 128},
            timeout=30,
        ).json()
        assert pane.locator("pre.output").inner_text() == r["text"]
        assert deltas.get(spec, 0) >= 2, f"{spec}: text did not arrive in pieces ({deltas})"
        stats = pane.locator(".run-stats").inner_text()
        for label in ("LATENCY", "TTFT", "OUTPUT TOKENS", "TOKENS / S", "COST"):
            assert label in stats.upper(), (label, stats)
        assert pane.locator("dd[data-stat='output tokens']").inner_text() == str(r["output_tokens"])
        assert "local model" in pane.locator("dd[data-stat='cost']").inner_text()
        assert "$0" not in stats
    box = [page.locator(f".pane[data-model='{s}']").bounding_box() for s in specs]
    assert box[0] and box[1] and abs(box[0]["y"] - box[1]["y"]) < 2 and box[1]["x"] > box[0]["x"]  # side by side
    tab.shot("playground")
    tab.assert_clean()


def assert_payload_is_text(tab: Tab, pane_selector: str) -> None:
    page = tab.page
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator(f"{pane_selector} img, {pane_selector} script").count() == 0
    assert page.locator(f"{pane_selector} pre.output", has_text=XSS).count() >= 1
    assert page.evaluate("document.querySelectorAll('img').length") == 0


def test_model_output_is_rendered_as_text(tab: Tab) -> None:
    page = tab.page
    evil = next(b["spec"] for b in tab.api("/api/backends") if b["label"] == "evil")
    run_playground(tab, [evil, SPECS[0]], "xss: render this")
    assert page.locator(f".pane[data-model='{evil}'] pre.output").inner_text() == XSS
    assert_payload_is_text(tab, ".panes")

    tab.go("arena")
    page.fill("textarea[name='prompt']", "xss, please")
    for _ in range(30):  # two of the three models are drawn at random: until evil is one of them
        page.click("#battle")
        page.wait_for_selector(".battle .vote-bar")
        if page.locator(".battle pre.output", has_text=XSS).count():
            break
    else:
        pytest.fail("the arena never drew the scripted model")
    assert_payload_is_text(tab, ".battle")
    page.wait_for_timeout(200)  # an onerror handler would have fired by now
    assert page.evaluate("typeof window.__pwned") == "undefined"
    tab.assert_clean()


def test_arena_vote_reveals_names_and_counts(tab: Tab) -> None:
    page = tab.page
    specs = {b["spec"] for b in tab.api("/api/backends")}
    tab.go("arena")
    page.fill("textarea[name='prompt']", "Name a prime number.")
    page.click("#battle")
    page.wait_for_selector(".battle .vote-bar")
    battle = page.inner_text(".battle")
    assert "Model A" in battle and "Model B" in battle
    assert all(s not in battle and s.split("?")[0] not in battle for s in specs)  # names hidden
    assert page.locator(".battle .identity").all_inner_texts() == ["hidden until you vote"] * 2
    page.click("button[data-winner='a']")
    page.wait_for_selector(".battle .identity.revealed")
    a, b = (page.locator(f".pane[data-side='{side}'] .identity").get_attribute("data-spec") for side in "ab")
    assert a in specs and b in specs and a != b
    labels = {b["spec"]: b["label"] for b in tab.api("/api/backends")}
    assert page.locator(".battle .identity").all_inner_texts() == [labels[a], labels[b]]
    assert page.locator(".pane[data-side='a']").get_attribute("class") == "pane winner"
    assert page.locator("button[data-winner]:enabled").count() == 0  # one vote per battle
    tab.shot("arena")

    page.click("a.ratings-link")
    page.wait_for_selector("#view > .page-leaderboard #arena table.ratings")
    assert page.inner_text("#arena [data-out='votes']") == "1 vote"
    rated = page.eval_on_selector_all("#arena table.ratings tbody tr", "rs => rs.map(r => r.dataset.model)")
    assert sorted(rated) == sorted([a, b])
    assert page.locator("#arena td[data-col='votes']").all_inner_texts() == ["1", "1"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator("#arena").screenshot(path=str(ARTIFACTS / "arena-ratings.png"))
    top = page.evaluate("document.getElementById('arena').getBoundingClientRect().top")
    assert page.evaluate("window.scrollY") > 0 and 0 <= top < 900 - 100  # scrolled to the ratings
    tab.assert_clean()


def test_leaderboard_tables_and_pareto_chart(tab: Tab) -> None:
    page = tab.page
    journal = Journal(default_path())  # a measured score beside the reported ones
    try:
        run_task(load_backend("mock:m"), "arc_easy", EvalConfig(limit=20, data_dir=str(DATA)), journal)
    finally:
        journal.close()
    board = tab.api("/api/leaderboard")
    tab.go("leaderboard")
    rows = page.locator("table.scores tbody tr")
    assert rows.count() == len(board["tasks"]["mmlu"])
    first = board["tasks"]["mmlu"][0]
    assert rows.first.get_attribute("data-model") == first["model"]
    assert f"{first['value']:.2f}".rstrip("0").rstrip(".") in rows.first.inner_text()
    assert rows.first.locator(".badge-reported").count() == 1
    assert rows.first.locator("a.source-link").get_attribute("href") == first["source"]
    page.select_option("#task-select", "arc_easy")
    measured = board["tasks"]["arc_easy"][0]
    row = page.locator("table.scores tbody tr").first
    assert measured["evidence"] == "measured" and row.get_attribute("data-evidence") == "measured"
    assert row.locator(".badge-measured").count() == 1 and row.locator(".sbar .ci").count() == 1
    assert f"{measured['ci_low']:.1f} – {measured['ci_high']:.1f}" in row.inner_text()
    assert measured["source"] in row.inner_text() and str(measured["n"]) in row.inner_text()
    page.select_option("#task-select", "humaneval")
    assert page.locator("table.scores tbody tr").count() == len(board["tasks"]["humaneval"])
    assert page.locator("table.overall tbody tr").count() == len(board["overall"])

    chart = page.locator("#pareto svg.chart")
    assert chart.is_visible()
    points = chart.locator("g.point")
    assert points.count() == len(board["pareto"]) >= 5
    assert chart.locator("g.point.frontier").count() == sum(p["frontier"] for p in board["pareto"])
    assert chart.locator("polyline.frontier-line").count() == 1
    titles = chart.locator("g.point > title").all_text_contents()
    assert all("MMLU" in t and "per 1M" in t for t in titles)
    cheap = min(board["pareto"], key=lambda p: p["blended_usd_per_m"])
    dear = max(board["pareto"], key=lambda p: p["blended_usd_per_m"])
    x_cheap = float(chart.locator(f"g.point[data-model='{cheap['model']}'] circle").get_attribute("cx") or 0)
    x_dear = float(chart.locator(f"g.point[data-model='{dear['model']}'] circle").get_attribute("cx") or 0)
    assert x_cheap < x_dear
    assert page.locator("#arena .empty-state").is_visible()  # no votes yet
    page.select_option("#task-select", "arc_easy")  # measured and reported side by side
    tab.shot("leaderboard")
    chart.locator(f"g.point[data-model='{dear['model']}']").click()
    page.wait_for_selector("#view > .page-model h1")
    assert page.evaluate("location.hash") == f"#/model/{dear['model']}"
    tab.assert_clean()


@pytest.mark.parametrize("width", [420])
def test_every_view_fits_a_narrow_screen(browser: Any, server: str, width: int) -> None:
    tab = open_tab(browser, server, width=width)
    try:
        for route in ("advisor", "catalog", "model/mixtral-8x7b", "calc", "leaderboard", "playground", "arena"):
            tab.go(route)
            tab.page.wait_for_timeout(350)  # calculators answer after a debounce
            scroll = tab.page.evaluate("document.documentElement.scrollWidth")
            assert scroll <= width + 20, f"#/{route} scrolls sideways: {scroll}px"
            name = route.split("/")[0]
            if name in ("catalog", "model", "playground"):
                tab.shot(f"{name}-{width}")
        tab.assert_clean()
    finally:
        tab.page.close()


def test_model_page_lists_api_offers(tab: Tab) -> None:
    """An open model's page lists who serves it, with prices, state and sources; the cost calculator
    prices its cheapest offer and names the provider."""
    page = tab.page
    tab.go("model/llama-3.3-70b-instruct")
    rows = page.locator("#offers tr[data-provider]")
    rows.first.wait_for()
    want = tab.api("/api/models/llama-3.3-70b-instruct")["offers"]
    assert rows.count() == len(want) >= 3
    text = page.inner_text("#offers")
    assert "DeepInfra" in text and "retired" in text and "dataset" in text
    assert page.locator("#offers a.source-link").count() == len(want)
    page.wait_for_selector("[data-calc='cost'] #offer")
    cheapest = tab.api("/api/cost", model="llama-3.3-70b-instruct", input_tokens=1000, output_tokens=300)[0]
    assert f"via {cheapest['provider']}" in page.inner_text("[data-calc='cost'] #offer")
    tab.go("model/llama-3-70b")  # open weights nobody serves: says so
    page.wait_for_selector("#no-offers")
    tab.assert_clean()
