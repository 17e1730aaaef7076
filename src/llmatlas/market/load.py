"""Where a dataset comes from: the pinned package, a local file, or its public URL (fetched with
the same retrying httpx client as the API backends, so 429/5xx/timeouts/cut-off bodies are
retried and end as one clear error)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from urllib.parse import urljoin

from llmatlas.core.errors import InputError, LlmatlasError, option
from llmatlas.market.readers import read_genai_prices, read_litellm, read_models_dev, read_openrouter
from llmatlas.market.records import DATASETS, Snapshot

# The public locations of each dataset (what `--url` defaults to when no file is given).
URLS: dict[str, str] = {
    "openrouter": "https://openrouter.ai/api/v1/models",
    "models.dev": "https://models.dev/api.json",
    "litellm": "https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json",
}
ONLINE_ATTEMPTS = 4
ONLINE_TIMEOUT_S = 60.0


def dataset_name(text: str) -> str:
    """'models-dev' or 'modelsdev' → 'models.dev'; unknown names list the known ones."""
    key = text.strip().lower().replace("_", "-")
    aliases = {"models-dev": "models.dev", "modelsdev": "models.dev", "genai_prices": "genai-prices"}
    key = aliases.get(key, key)
    if key not in DATASETS:
        raise InputError(f"unknown dataset '{text}' (known: {', '.join(DATASETS)})", field="from")
    return key


def load_snapshot(
    dataset: str, *, file: str | Path | None = None, url: str | None = None, version: str | None = None
) -> Snapshot:
    """One dataset, read offline from ``file`` (or the genai-prices package), or fetched from ``url``."""
    name = dataset_name(dataset)
    if name == "genai-prices":
        if file is not None or url is not None:
            raise InputError(
                f"genai-prices is read from its installed package; give no {option('file')} or {option('url')}",
                field="file",
            )
        return read_genai_prices()
    if file is not None:
        p = Path(file).expanduser()
        try:
            raw = p.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read {name} file: {exc.strerror or exc}", path=p) from None
        stamp = version or dt.date.fromtimestamp(p.stat().st_mtime).isoformat()
        return _read(name, raw, str(p), stamp)
    target = url or URLS[name]
    doc = fetch_openrouter(target) if name == "openrouter" else fetch_json(target, name)
    return _read(name, doc, target, version or dt.date.today().isoformat())


def _read(name: str, raw: bytes | str | dict[str, object], origin: str, version: str) -> Snapshot:
    if name == "litellm":
        return read_litellm(raw, origin, version)
    if name == "models.dev":
        return read_models_dev(raw, origin, version)
    return read_openrouter(raw, origin, version)


MAX_PAGES = 50


def fetch_openrouter(url: str) -> dict[str, object]:
    """The models list, following ``links.next`` pages (the API may paginate with offset/limit)."""
    first = fetch_json(url, "openrouter")
    rows = first.get("data")
    if not isinstance(rows, list):
        return first  # the reader reports the malformed document
    seen = {url}
    links = first.get("links")
    nxt = links.get("next") if isinstance(links, dict) else None
    while isinstance(nxt, str) and nxt and len(seen) < MAX_PAGES:
        page_url = urljoin(url, nxt)
        if page_url in seen:
            break
        seen.add(page_url)
        page = fetch_json(page_url, "openrouter")
        more = page.get("data")
        if not isinstance(more, list) or not more:
            break
        rows.extend(more)
        links = page.get("links")
        nxt = links.get("next") if isinstance(links, dict) else None
    return {"data": rows}


def fetch_json(url: str, dataset: str) -> dict[str, object]:
    """GET a dataset's JSON with retries; a failure after the last attempt is one clear error."""
    from llmatlas.backends.http import HTTPPool  # the backends' client: retries, backoff, redaction

    if not url.startswith(("http://", "https://")):
        raise InputError(f"{dataset}: {option('url')} must be http(s)://…", field="url")
    pool = HTTPPool(
        url, {"Accept": "application/json"}, concurrency=1, max_attempts=ONLINE_ATTEMPTS, timeout_s=ONLINE_TIMEOUT_S
    )
    try:
        resp = pool.get_json("")
    finally:
        pool.close()
    if resp.data is None:
        raise LlmatlasError(f"{dataset}: could not fetch {url}: {resp.error}")
    return resp.data
