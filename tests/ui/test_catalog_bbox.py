"""Searching by a bounding box drawn, edited or taken from the view on the catalog map."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from .test_catalog_panel import PANEL, open_panel

BOLIVIA = '[data-item-id="demo/sen1floods11-bolivia"]'


def search_all(page: Page) -> None:
    page.locator(f"{PANEL} .jp-mlops-search-button").click()
    expect(page.locator(f"{PANEL} .jp-mlops-result")).to_have_count(4)
    # Wait for the zoom-to-results animation to end: footprints stop moving.
    footprint = page.locator(f"{PANEL} path.jp-mlops-footprint{BOLIVIA}")
    previous = None
    for _ in range(50):
        current = footprint.bounding_box()
        if current is not None and current == previous:
            return
        previous = current
        page.wait_for_timeout(100)


def test_drawing_a_box_over_bolivia_finds_the_flood_dataset_only(
    page: Page, lab_url: str, artifacts: Path
) -> None:
    # Given: all four demo items on the map, zoomed to fit them
    open_panel(page, lab_url)
    search_all(page)
    footprint = page.locator(f"{PANEL} path.jp-mlops-footprint{BOLIVIA}").bounding_box()
    europe = page.locator(
        f'{PANEL} path.jp-mlops-footprint[data-item-id="demo/eurosat-rgb-samples"]'
    ).bounding_box()
    assert footprint is not None
    assert europe is not None

    # When: the user draws a box a little larger than the Bolivia footprint
    page.locator(f"{PANEL} .jp-mlops-draw-box").click()
    page.mouse.move(footprint["x"] - 8, footprint["y"] - 8)
    page.mouse.down()
    page.mouse.move(footprint["x"] + footprint["width"] / 2, footprint["y"] + 4, steps=4)
    page.mouse.move(
        footprint["x"] + footprint["width"] + 8, footprint["y"] + footprint["height"] + 8, steps=4
    )
    page.mouse.up()

    # Then: the search re-runs with the box; Bolivia is in, the European items are out
    results = page.locator(f"{PANEL} .jp-mlops-result")
    expect(results.filter(has_text="Sen1Floods11: Bolivia flood event")).to_have_count(1)
    expect(results.filter(has_text="EuroSAT")).to_have_count(0)
    expect(page.locator(f"{PANEL} path.jp-mlops-bbox")).to_have_count(1)
    # ... and the box shown covers the Bolivia footprint and stops far short of Europe
    status = page.locator(f"{PANEL} .jp-mlops-bbox-status")
    expect(status).to_have_text(re.compile(r"^In box "))
    west, south, east, north = (float(v) for v in status.inner_text()[7:].split(","))
    assert west < -65.95
    assert south < -14.95
    assert east > -64.25
    assert north > -13.2
    assert east < -30
    assert north < 20
    page.screenshot(path=str(artifacts / "catalog-bbox.png"))

    # When: the user drags the box's north-east corner up over Europe
    handles = page.locator(f"{PANEL} .jp-mlops-bbox-handle")
    expect(handles).to_have_count(2)
    corner = handles.nth(1).bounding_box()
    assert corner is not None
    page.mouse.move(corner["x"] + 6, corner["y"] + 6)
    page.mouse.down()
    page.mouse.move(europe["x"] + europe["width"] / 2, europe["y"] + europe["height"] / 2, steps=6)
    page.mouse.up()

    # Then: editing the box re-ran the search, which now reaches the EuroSAT items too
    expect(results.filter(has_text="EuroSAT")).to_have_count(2)
    expect(results.filter(has_text="Sen1Floods11")).to_have_count(1)

    # When: the box is cleared
    page.locator(f"{PANEL} .jp-mlops-clear-box").click()

    # Then: everything is back
    expect(results).to_have_count(4)
    expect(page.locator(f"{PANEL} path.jp-mlops-bbox")).to_have_count(0)


def test_use_current_view_searches_what_the_map_shows(page: Page, lab_url: str) -> None:
    # Given: the map zoomed on the Bolivia footprint (clicking a result zooms to it)
    open_panel(page, lab_url)
    search_all(page)
    page.locator(f"{PANEL} .jp-mlops-result{BOLIVIA}").click()
    page.wait_for_timeout(600)  # Leaflet's zoom animation

    # When
    page.locator(f"{PANEL} .jp-mlops-use-view").click()

    # Then: the two Bolivian items remain, the European ones are gone
    results = page.locator(f"{PANEL} .jp-mlops-result")
    expect(results.filter(has_text="EuroSAT")).to_have_count(0)
    expect(results.filter(has_text="Sen1Floods11")).to_have_count(1)
    expect(page.locator(f"{PANEL} path.jp-mlops-bbox")).to_have_count(1)


def test_text_dates_and_sort_update_results_as_the_user_works(page: Page, lab_url: str) -> None:
    # Given
    open_panel(page, lab_url)
    search_all(page)
    results = page.locator(f"{PANEL} .jp-mlops-result-title")

    # When: typing only (no click on Search)
    page.locator(f"{PANEL} .jp-mlops-text").fill("eurosat")

    # Then: the debounced search narrows the list
    expect(results).to_have_count(2)
    expect(page.locator(f"{PANEL} .jp-mlops-summary")).to_have_text("2 matched, showing 2")

    # When: a date range before the Bolivia flood (2018-02-15), inside EuroSAT's 2017-2018
    page.locator(f"{PANEL} .jp-mlops-text").fill("")
    page.locator(f"{PANEL} .jp-mlops-start").fill("2018-02-01")
    page.locator(f"{PANEL} .jp-mlops-end").fill("2018-02-10")
    page.locator(f"{PANEL} .jp-mlops-sort").select_option("properties.title")

    # Then: only the EuroSAT items, sorted by title (the server's default order is by id,
    # which puts "land-use" first)
    expect(results).to_have_text(["EuroSAT RGB samples", "EuroSAT land-use classifier"])

    # When: an open range ending before every item
    page.locator(f"{PANEL} .jp-mlops-start").fill("")
    page.locator(f"{PANEL} .jp-mlops-end").fill("2016-12-31")

    # Then
    expect(page.locator(f"{PANEL} .jp-mlops-summary")).to_have_text("No results")

    # When: an impossible range
    page.locator(f"{PANEL} .jp-mlops-start").fill("2019-01-01")
    page.locator(f"{PANEL} .jp-mlops-end").fill("2018-01-01")

    # Then: the user is told, nothing is sent
    expect(page.locator(f"{PANEL} .jp-mlops-message")).to_have_text(
        "The start date is after the end date."
    )
