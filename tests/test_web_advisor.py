"""The advisor in the browser (Debian's Chromium through Playwright) and its JSON API.

From a shipped example to a downloaded report; an uploaded file's mistakes with their lines; the
form's errors next to their fields; XSS payloads in every field stay text; "measure the shortlist"
runs the embedded SmolLM2 and ranks again with the measured score; the page fits 420 px.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from llmatlas.advise.requirements import EXAMPLES_DIR, example_names, load_requirements
from llmatlas.web.app import Settings, create_app
from tests.conftest import live_server
from tests.test_web_browser import XSS, Tab, open_tab

TINY = """name: On-device reasoning helper
use_case: Short reasoning answers on a laptop, no data leaves it.
tasks: {reasoning: 1}
workload: {requests_per_day: 100, input_tokens: 200, output_tokens: 50}
hosting: {mode: self-host}
models: [smollm2-135m-instruct]
shortlist: 1
"""
BAD = """name: Bad file
use_case: x
tasks: {chat: 1}
workload:
  requests_per_day: 0
  input_tokens: 10
  output_tokens: 10
budjet: 5
"""


def settings(tmp_path: Path, models: list[str] | None = None) -> Settings:
    return Settings(
        models=models if models is not None else [],
        arena_path=str(tmp_path / "arena.sqlite"),
        journal_path=str(tmp_path / "runs.sqlite"),
    )


# ------------------------------------------------------------------ JSON API


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings(tmp_path))) as c:
        yield c


def test_examples_and_a_recommendation_with_its_downloads(client: TestClient) -> None:
    examples = client.get("/api/advisor/examples").json()
    assert [e["name"] for e in examples] == example_names()
    r = client.post("/api/advisor/recommend", json={"example": "customer_support_chatbot"})
    assert r.status_code == 200, r.text
    view = r.json()
    rec = view["recommendation"]
    assert rec["schema_version"] >= 1 and rec["candidates"] and rec["summary"]
    assert [c["key"] for c in view["charts"]] == ["pareto", "cost", "memory", "benchmarks"]
    assert all(c["image"].startswith("data:image/svg+xml;base64,") for c in view["charts"])
    assert set(view["filter_names"]) == {e["filter"] for e in rec["excluded"]}
    assert "on_premises" not in view["filter_names"].values()
    top = rec["candidates"][0]["name"]
    html = client.get(view["downloads"]["html"])
    assert html.status_code == 200 and "attachment" in html.headers["content-disposition"]
    assert html.text.lstrip().lower().startswith("<!doctype html") and top in html.text
    md = client.get(view["downloads"]["md"]).text
    assert top in md
    as_json = client.get(view["downloads"]["json"]).json()
    assert as_json["candidates"][0]["model"] == rec["candidates"][0]["model"]
    req = yaml.safe_load(client.get(view["downloads"]["requirements"]).text)
    want = load_requirements(EXAMPLES_DIR / "customer_support_chatbot.yaml")
    assert req["name"] == want.name and req["workload"]["input_tokens"] == want.workload.input_tokens
    assert client.get("/api/advisor/nosuchid/report.html").status_code == 404


def test_form_and_upload_give_the_same_answer_as_the_example(client: TestClient) -> None:
    text = (EXAMPLES_DIR / "chinese_app.yaml").read_text("utf-8")
    by_example = client.post("/api/advisor/recommend", json={"example": "chinese_app"}).json()
    by_upload = client.post("/api/advisor/recommend", json={"yaml": text}).json()
    form = load_requirements(EXAMPLES_DIR / "chinese_app.yaml").model_dump(mode="json")
    by_form = client.post("/api/advisor/recommend", json={"requirements": form}).json()
    ranks = [[c["model"] for c in v["recommendation"]["candidates"]] for v in (by_example, by_upload, by_form)]
    assert ranks[0] == ranks[1] == ranks[2] and ranks[0]


def test_upload_mistakes_carry_their_lines(client: TestClient) -> None:
    r = client.post("/api/advisor/recommend", json={"yaml": BAD, "filename": "mine.yaml"})
    assert r.status_code == 422
    got = {(tuple(d["loc"]), d["line"]) for d in r.json()["detail"]}
    assert (("body", "yaml", "workload", "requests_per_day"), 5) in got
    assert (("body", "yaml", "budjet"), 8) in got
    broken = client.post("/api/advisor/recommend", json={"yaml": "name: [\n"}).json()["detail"]
    assert broken[0]["line"] == 2 and "invalid YAML" in broken[0]["msg"]
    assert client.post("/api/advisor/recommend", json={}).status_code == 422
    two = client.post("/api/advisor/recommend", json={"example": "chinese_app", "yaml": "x: 1"})
    assert two.status_code == 422 and "exactly one" in two.text


# ------------------------------------------------------------------ the browser


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    with live_server(create_app(settings(tmp_path, models=["smollm2"]))) as base:
        yield base


@pytest.fixture
def tab(browser: Any, server: str) -> Iterator[Tab]:
    t = open_tab(browser, server)
    yield t
    t.page.close()


def upload(tab: Tab, name: str, text: str) -> None:
    tab.page.set_input_files(
        "input[name='upload']", files=[{"name": name, "mimeType": "text/yaml", "buffer": text.encode()}]
    )


def recommend_example(tab: Tab, name: str) -> None:
    page = tab.page
    tab.go("advisor")
    page.select_option("select[name='example']", name)
    page.click("#use-example")
    page.wait_for_selector(".advice #shortlist table.shortlist tbody tr", timeout=60_000)


def test_from_an_example_to_a_downloaded_report(tab: Tab, tmp_path: Path) -> None:
    page = tab.page
    recommend_example(tab, "customer_support_chatbot")
    assert page.locator(".advice .summary li").count() >= 2
    rows = page.locator("table.shortlist tbody tr")
    assert rows.count() >= 3
    assert page.locator("table.shortlist .badge").count() >= rows.count()  # every quality has its evidence label
    assert page.locator(".advice figure.chart img").count() == 4
    assert page.locator(".exclusion-group").count() >= 2
    groups = page.locator(".exclusion-group summary").all_inner_texts()
    assert all("_" not in g for g in groups), groups  # filters in words, not keys
    assert page.locator("table.sensitivity tbody tr").count() == 10
    page.locator("details.candidate").first.locator("summary").click()
    assert page.locator("details.candidate").first.locator("a.source-link").count() >= 1
    # the form now holds the example's requirements
    want = load_requirements(EXAMPLES_DIR / "customer_support_chatbot.yaml")
    assert page.input_value("input[name='name']") == want.name
    assert page.input_value("input[name='workload.input_tokens']") == str(want.workload.input_tokens)
    top = page.locator("table.shortlist tbody tr").first.get_attribute("data-model")
    for kind, check in (
        ("html", lambda t: t.lstrip().lower().startswith("<!doctype html")),
        ("md", lambda t: t.startswith("#")),
        ("json", lambda t: json.loads(t)["candidates"][0]["model"] == top),
        ("requirements", lambda t: "workload" in yaml.safe_load(t)),
    ):
        with page.expect_download() as info:
            page.click(f"a[data-download='{kind}']")
        saved = tmp_path / f"download.{kind}"
        info.value.save_as(saved)
        text = saved.read_text("utf-8")
        assert check(text), kind
        if kind in ("html", "md"):
            assert str(top) in text
    tab.shot("advisor")
    tab.assert_clean()


def test_errors_show_next_to_fields_and_with_file_lines(tab: Tab) -> None:
    page = tab.page
    tab.go("advisor")
    page.fill("input[name='workload.requests_per_day']", "-5")
    page.click("#advise")
    err = page.locator(".field[data-path='workload.requests_per_day'] .field-error")
    err.wait_for()
    page.wait_for_function("el => el.textContent.length > 0", arg=err.element_handle())
    assert "greater than 0" in err.inner_text()
    page.set_input_files(
        "input[name='upload']", files=[{"name": "mine.yaml", "mimeType": "text/yaml", "buffer": BAD.encode()}]
    )
    page.wait_for_selector(".problems li")
    problems = page.locator(".problems li").all_inner_texts()
    assert any("mine.yaml line 8" in p and "budjet" in p for p in problems), problems
    assert any("mine.yaml line 5" in p for p in problems), problems
    tab.assert_clean()


def test_xss_in_every_field_stays_text(tab: Tab) -> None:
    page = tab.page
    recommend_example(tab, "customer_support_chatbot")
    for sel in ("input[name='name']", "textarea[name='use_case']", "input[name='languages']"):
        page.fill(sel, XSS)
    page.fill("input[name='hosting.hardware.gpu']", XSS)
    page.click("#advise")
    gpu_err = page.locator(".field[data-path='hosting.hardware.gpu'] .field-error")
    page.wait_for_function("el => el.textContent.length > 0", arg=gpu_err.element_handle())
    assert "unknown GPU" in gpu_err.inner_text()
    page.fill("input[name='hosting.hardware.gpu']", "")
    page.click("#advise")
    page.wait_for_selector(".advice .summary li", timeout=60_000)
    evil = f"{XSS}: {XSS}\n" + (EXAMPLES_DIR / "chinese_app.yaml").read_text("utf-8")
    page.set_input_files(
        "input[name='upload']", files=[{"name": f"{XSS}.yaml", "mimeType": "text/yaml", "buffer": evil.encode()}]
    )
    page.wait_for_selector(".problems li")
    assert XSS[:20] in page.locator(".problems").inner_text()  # shown as text
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#view script, #view img[src='x']").count() == 0
    tab.assert_clean()


@pytest.mark.slow
def test_measure_the_shortlist_runs_smollm2_and_reranks(tab: Tab) -> None:
    page = tab.page
    tab.go("advisor")
    page.set_input_files(
        "input[name='upload']", files=[{"name": "tiny.yaml", "mimeType": "text/yaml", "buffer": TINY.encode()}]
    )
    page.wait_for_selector("table.shortlist tbody tr[data-model='smollm2-135m-instruct']", timeout=60_000)
    runs = page.locator("#measure-panel li").all_inner_texts()
    assert any("arc_challenge" in r for r in runs) and any("smollm2" in r for r in runs), runs
    page.fill("#measure-panel input[name='limit']", "3")
    page.click("#measure")
    page.wait_for_selector(".advice .alert-ok", timeout=120_000)  # ranked again: a new result
    assert "measured here" in page.locator("table.shortlist tbody tr").first.inner_text()
    assert page.locator("#measure-panel progress").get_attribute("max") is not None
    tab.assert_clean()


def test_the_advisor_fits_a_narrow_screen(browser: Any, server: str) -> None:
    tab = open_tab(browser, server, width=420)
    try:
        recommend_example(tab, "chinese_onprem_a100" if "chinese_onprem_a100" in example_names() else "chinese_app")
        page = tab.page
        page.locator("details.candidate").first.locator("summary").click()
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= 440, f"the advisor scrolls sideways: {scroll}px"
        tab.shot("advisor-420")
        tab.assert_clean()
    finally:
        tab.page.close()
