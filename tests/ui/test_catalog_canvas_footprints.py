"""Above CANVAS_THRESHOLD footprints the map draws one canvas: hover and click still sync with
the list (one hit test on the map, no SVG path per footprint)."""

from __future__ import annotations

import json
from typing import Any

from playwright.sync_api import Page, Route, expect

from .test_catalog_panel import PANEL, open_panel

BIG = "bench/big-footprint"


def footprint(item_id: str, title: str, ring: list[list[float]]) -> dict[str, Any]:
    lons = [lon for lon, _ in ring]
    lats = [lat for _, lat in ring]
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": item_id,
        "collection": "dataset",
        "bbox": [min(lons), min(lats), max(lons), max(lats)],
        "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
        "properties": {"title": title},
        "links": [],
        "assets": {},
    }


def test_canvas_footprints_hover_and_select_sync_with_the_list(page: Page, lab_url: str) -> None:
    # Given: 600 results - one large footprint in the middle, 599 small ones along 60-70 N
    small = []
    for index in range(599):
        west = -170 + (index % 170) * 2
        south = 60 + (index // 170) * 2.5
        ring = [[west, south], [west + 1, south], [west + 1, south + 1], [west, south + 1]]
        small.append(footprint(f"bench/small-{index:03d}", f"Small {index}", ring))
    big = footprint(BIG, "Big footprint", [[-60, -40], [60, -40], [60, 40], [-60, 40]])
    body = {
        "type": "FeatureCollection",
        "numberMatched": 600,
        "numberReturned": 600,
        "features": [big, *small],
        "links": [],
    }

    def answer(route: Route) -> None:
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    open_panel(page, lab_url)
    page.route("**/jupyter-mlops/catalog/search?**", answer)
    page.locator(f"{PANEL} .jp-mlops-search-button").click()
    expect(page.locator(f"{PANEL} .jp-mlops-summary")).to_have_text("600 matched, showing 600")
    expect(page.locator(f"{PANEL} .jp-mlops-map canvas.jp-mlops-footprints-canvas")).to_have_count(
        1
    )
    expect(page.locator(f"{PANEL} .jp-mlops-map path.jp-mlops-footprint")).to_have_count(0)
    entry = page.locator(f'{PANEL} .jp-mlops-result[data-item-id="{BIG}"]')

    # When: the pointer rests over the middle of the map (inside the large footprint)
    box = page.locator(f"{PANEL} .jp-mlops-map").bounding_box()
    assert box is not None
    centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.move(centre[0] - 5, centre[1] - 5)
    page.mouse.move(*centre)

    # Then: its list entry is highlighted and the map shows its title
    expect(entry).to_have_class("jp-mlops-result jp-mod-hover")
    expect(page.locator(".leaflet-tooltip")).to_have_text("Big footprint")

    # When: the user clicks it on the map
    page.mouse.click(*centre)

    # Then: the list selects it
    expect(entry).to_have_class("jp-mlops-result jp-mod-hover jp-mod-selected")
