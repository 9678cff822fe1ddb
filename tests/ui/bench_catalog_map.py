"""Browser benchmark of the catalog panel: time from "Search" to results painted.

Not collected by ``pytest tests/ui`` (the file name does not start with ``test_``); run it with
``.venv/bin/pytest tests/ui/bench_catalog_map.py -p no:cacheprovider -s``. The search route is
answered by Playwright with synthetic items (a grid of small footprints over the world), so the
numbers are the frontend's own cost: parsing, list, and Leaflet footprints (SVG up to
``CANVAS_THRESHOLD`` footprints, one canvas above). Nothing is asserted about time.
"""

from __future__ import annotations

import json
import time
from typing import Any

from playwright.sync_api import Page, Route, expect

from .test_catalog_panel import PANEL, open_panel


def synthetic_items(count: int) -> list[dict[str, Any]]:
    """``count`` items with 1x1 degree footprints on a grid."""
    items = []
    for index in range(count):
        west = -179 + (index * 2.9) % 356
        south = -70 + ((index * 2.9) // 356 * 1.3) % 140
        ring = [[west, south], [west + 1, south], [west + 1, south + 1], [west, south + 1]]
        items.append(
            {
                "type": "Feature",
                "stac_version": "1.0.0",
                "id": f"bench/item-{index:05d}",
                "collection": "dataset",
                "bbox": [west, south, west + 1, south + 1],
                "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
                "properties": {"title": f"Benchmark item {index}"},
                "links": [],
                "assets": {},
            }
        )
    return items


def time_search(page: Page, body: dict[str, Any], shown: int) -> tuple[float, float]:
    """Milliseconds from clicking Search to the summary and the map painted, and from the
    response fully received (browser resource timing) to painted: the frontend's own share."""

    def answer(route: Route) -> None:
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    page.route("**/jupyter-mlops/catalog/search?**", answer)
    try:
        start = time.perf_counter()
        page.locator(f"{PANEL} .jp-mlops-search-button").click()
        page.wait_for_function(
            """([selector, shown]) => {
                const summary = document.querySelector(selector);
                return summary && summary.textContent.endsWith('showing ' + shown);
            }""",
            arg=[f"{PANEL} .jp-mlops-summary", shown],
            polling="raf",
        )
        # Two animation frames: the frame that paints the new DOM and canvas has run.
        frontend = page.evaluate(
            """() => new Promise(resolve => requestAnimationFrame(() =>
                requestAnimationFrame(() => {
                    const searches = performance.getEntriesByType('resource')
                        .filter(entry => entry.name.includes('catalog/search'));
                    resolve(performance.now() - searches[searches.length - 1].responseEnd);
                })))"""
        )
        return (time.perf_counter() - start) * 1000, float(frontend)
    finally:
        page.unroute("**/jupyter-mlops/catalog/search?**")


def test_bench_search_and_footprints(page: Page, lab_url: str) -> None:
    # Given
    open_panel(page, lab_url)
    items = synthetic_items(10_000)
    rows = []

    # When: a 10,000-item catalog answers one page of 20 (the default page size)
    for _ in range(3):
        page_body = {
            "type": "FeatureCollection",
            "numberMatched": 10_000,
            "numberReturned": 20,
            "features": items[:20],
            "links": [{"rel": "next", "href": "/jupyter-mlops/catalog/search?token=next:20"}],
        }
        rows.append(
            ("search -> page of 20 painted (10,000 matched)", time_search(page, page_body, 20))
        )
    expect(page.locator(f"{PANEL} .jp-mlops-summary")).to_have_text("10000 matched, showing 20")

    # When: 400 footprints (SVG) and then all 10,000 footprints (canvas) in one answer
    for count in (400, 10_000):
        for _ in range(2):
            body = {
                "type": "FeatureCollection",
                "numberMatched": count,
                "numberReturned": count,
                "features": items[:count],
                "links": [],
            }
            rows.append(
                (f"search -> {count} footprints + list painted", time_search(page, body, count))
            )

    # Then: the 10,000 footprints are on one canvas, not 10,000 SVG paths
    expect(page.locator(f"{PANEL} .jp-mlops-map canvas")).to_have_count(1)
    expect(page.locator(f"{PANEL} .jp-mlops-map path.jp-mlops-footprint")).to_have_count(0)
    # ... and the list stops at 500 entries, saying how many more the map shows
    expect(page.locator(f"{PANEL} .jp-mlops-result")).to_have_count(500)
    expect(page.locator(f"{PANEL} .jp-mlops-list-more")).to_have_text(
        "9500 more on the map; narrow the search to list them."
    )
    print("\ncatalog panel benchmark, ms (Chromium headless, this machine; 'total' includes")
    print("Playwright delivering the mocked response, 'frontend' is response received -> painted)")
    print(f"  {'':<48} {'total':>8} {'frontend':>9}")
    for label, (total, frontend) in rows:
        print(f"  {label:<48} {total:8.0f} {frontend:9.0f}")
