"""Browser benchmark: from "Search" to results painted, against a real 10,000-project catalog.

Not collected by ``pytest tests/ui`` (the file name does not start with ``test_``); run it with
``.venv/bin/pytest tests/ui/bench_catalog_real.py -p no:cacheprovider -s``. Nothing is mocked: a
real ``mlops-server`` serves an index of 10,000 generated projects (``bench/catalog.py``'s
generator: real-world-like footprints, 40 % models, 60 % datasets), a real JupyterLab proxies it
(``--JupyterMLOps.sharinghub_url``) and headless Chromium clicks Search. In each round the same
query also goes straight to the catalog (httpx), so the catalog's share of the total shows.
Nothing is asserted about time. ``bench_catalog_map.py`` measures the frontend alone, with
10,000 footprints in one answer.
"""

from __future__ import annotations

import importlib.util
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from .conftest import TOKEN, running_lab

_spec = importlib.util.spec_from_file_location(
    "bench_catalog", Path(__file__).parents[2] / "bench" / "catalog.py"
)
assert _spec is not None
assert _spec.loader is not None
catalog_bench = importlib.util.module_from_spec(_spec)
sys.modules["bench_catalog"] = catalog_bench  # its dataclasses look their module up
_spec.loader.exec_module(catalog_bench)

PANEL = "#jupyter-mlops-catalog"
PROJECTS = 10_000
ROUNDS = 7


@pytest.fixture(scope="module")
def catalog_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real catalog server over an index of 10,000 generated public projects."""
    work = tmp_path_factory.mktemp("catalog-10k")
    db_url = f"sqlite:///{work / 'index.sqlite'}"
    started = time.perf_counter()
    catalog_bench.build_ours(db_url, catalog_bench.map_projects_parallel(PROJECTS, 2))
    print(f"\nindex of {PROJECTS} projects built in {time.perf_counter() - started:.0f} s")
    server = catalog_bench.start_ours("ours", db_url, work / "server.log")
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def real_lab(catalog_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("lab-root")
    data = tmp_path_factory.mktemp("unused-data")
    log = tmp_path_factory.mktemp("lab-log") / "lab.log"
    with running_lab(root, data, log, (f"--JupyterMLOps.sharinghub_url={catalog_url}",)) as url:
        yield url


def time_search(page: Page) -> float:
    """Milliseconds from clicking Search to the summary and the map painted."""
    summary = page.locator(f"{PANEL} .jp-mlops-summary")
    page.evaluate(f"document.querySelector('{PANEL} .jp-mlops-summary').textContent = ''")
    start = time.perf_counter()
    page.locator(f"{PANEL} .jp-mlops-search-button").click()
    expect(summary).to_contain_text("matched", timeout=60_000)
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    return (time.perf_counter() - start) * 1000


def time_direct(client: httpx.Client, catalog_url: str, params: dict[str, str]) -> float:
    start = time.perf_counter()
    response = client.get(f"{catalog_url}/api/stac/search", params=params, timeout=60)
    response.raise_for_status()
    return (time.perf_counter() - start) * 1000


def test_bench_search_on_a_real_catalog(page: Page, real_lab: str, catalog_url: str) -> None:
    # Given: the catalog panel on JupyterLab, connected to the 10,000-project catalog
    page.goto(f"{real_lab}/lab?reset&token={TOKEN}")
    page.wait_for_selector("#jupyterlab-splash", state="detached")
    if not page.locator(PANEL).is_visible():
        page.locator('.jp-SideBar [data-id="jupyter-mlops-catalog"]').click()
    text = page.locator(f"{PANEL} .jp-mlops-text")
    models = page.locator(f'{PANEL} .jp-mlops-collections input[value="ai-model"]')
    queries = {
        "everything (page of 20)": ({"limit": "20"}, lambda: None),
        "free text 'flood' (page of 20)": (
            {"limit": "20", "q": "flood"},
            lambda: text.fill("flood"),
        ),
        "ai-model + 'flood' (page of 20)": (
            {"limit": "20", "q": "flood", "collections": "ai-model"},
            lambda: models.check(),
        ),
    }
    rows: list[tuple[str, float, float, str]] = []
    client = httpx.Client()  # keep-alive, like the proxy's client
    for label, (params, set_form) in queries.items():
        set_form()
        time_search(page)  # warm-up: caches, JIT
        browser, direct = [], []
        for _ in range(ROUNDS):
            browser.append(time_search(page))
            direct.append(time_direct(client, catalog_url, params))
        matched = page.locator(f"{PANEL} .jp-mlops-summary").inner_text()
        rows.append((label, statistics.median(browser), statistics.median(direct), matched))
    client.close()

    # Then: the whole catalog was searched (the first query matches every project)
    assert rows[0][3].startswith(f"{PROJECTS} matched")
    print(f"\nsearch on a real {PROJECTS:,}-project catalog, median of {ROUNDS} rounds, ms")
    print(f"  {'':<34} {'search->painted':>16} {'catalog alone':>14}  summary")
    for label, browser_ms, direct_ms, matched in rows:
        print(f"  {label:<34} {browser_ms:16.0f} {direct_ms:14.0f}  {matched}")
