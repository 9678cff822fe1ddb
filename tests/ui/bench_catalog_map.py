"""Browser benchmark of the catalog panel: time from "Search" to results painted.

Not collected by ``pytest tests/ui`` (the file name does not start with ``test_``); run it with
``.venv/bin/pytest tests/ui/bench_catalog_map.py -p no:cacheprovider -s``. The search route is
answered by Playwright with synthetic items (a grid of small footprints over the world), so the
numbers are the frontend's own cost: parsing, list, and Leaflet footprints (SVG up to
``CANVAS_THRESHOLD`` footprints, one canvas above). The 10,000-footprint case is measured in
interleaved rounds on both canvas paths - ``FootprintCanvas`` (one flat layer, one hit-test
handler) and the former one (Leaflet GeoJSON layers on ``L.canvas``, selected with the
``jp-mlops-bench-footprints=geojson`` localStorage key) - and their ratio is printed.
Nothing is asserted about time.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

from playwright.sync_api import Page, Route, expect

from .test_catalog_panel import PANEL, open_panel

BENCH_KEY = "jp-mlops-bench-footprints"
ROUNDS = 5


def median(samples: list[tuple[float, float]]) -> tuple[float, float]:
    """Median of each column of (total, frontend) samples."""
    return (
        statistics.median(total for total, _ in samples),
        statistics.median(frontend for _, frontend in samples),
    )


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

    # When: 400 footprints (SVG), then all 10,000 footprints on each canvas path, interleaved
    def body(count: int) -> dict[str, Any]:
        return {
            "type": "FeatureCollection",
            "numberMatched": count,
            "numberReturned": count,
            "features": items[:count],
            "links": [],
        }

    for _ in range(2):
        rows.append(("search -> 400 footprints + list painted", time_search(page, body(400), 400)))
    paths: dict[str, list[tuple[float, float]]] = {"geojson": [], "flat": []}
    for _ in range(ROUNDS):
        for path in paths:
            page.evaluate(f"localStorage.setItem('{BENCH_KEY}', '{path}')")
            # Start each measured search from a small result on the same path, so neither path
            # pays for removing the other's 10,000 footprints.
            time_search(page, body(20), 20)
            paths[path].append(time_search(page, body(10_000), 10_000))
    for path, label in (("geojson", "before: GeoJSON layers"), ("flat", "after: FootprintCanvas")):
        rows.append((f"10,000 footprints + list, {label} (median)", median(paths[path])))
    page.evaluate(f"localStorage.removeItem('{BENCH_KEY}')")
    time_search(page, body(10_000), 10_000)

    # Then: the 10,000 footprints are on one canvas, not 10,000 SVG paths
    expect(page.locator(f"{PANEL} .jp-mlops-map canvas.jp-mlops-footprints-canvas")).to_have_count(
        1
    )
    expect(page.locator(f"{PANEL} .jp-mlops-map path.jp-mlops-footprint")).to_have_count(0)
    # ... and the list stops at 500 entries, saying how many more the map shows
    expect(page.locator(f"{PANEL} .jp-mlops-result")).to_have_count(500)
    expect(page.locator(f"{PANEL} .jp-mlops-list-more")).to_have_text(
        "9500 more on the map; narrow the search to list them."
    )
    print("\ncatalog panel benchmark, ms (Chromium headless, this machine; 'total' includes")
    print("Playwright delivering the mocked response, 'frontend' is response received -> painted)")
    print(f"  {'':<64} {'total':>8} {'frontend':>9}")
    for label, (total, frontend) in rows:
        print(f"  {label:<64} {total:8.0f} {frontend:9.0f}")
    before, after = median(paths["geojson"]), median(paths["flat"])
    print(
        f"  10,000 footprints, before / after: total x{before[0] / after[0]:.2f},"
        f" frontend x{before[1] / after[1]:.2f} ({ROUNDS} interleaved rounds)"
    )
