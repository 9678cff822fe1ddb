"""The MLOps catalog panel in a real JupyterLab, in real Chromium, on the embedded platform."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from .conftest import TOKEN

PANEL = "#jupyter-mlops-catalog"


def open_panel(page: Page, lab_url: str) -> None:
    page.goto(f"{lab_url}/lab?reset&token={TOKEN}")
    # Wait until JupyterLab has started and restored its layout, then open our panel.
    page.wait_for_selector("#jupyterlab-splash", state="detached")
    if not page.locator(PANEL).is_visible():
        page.locator('.jp-SideBar [data-id="jupyter-mlops-catalog"]').click()
    expect(page.locator(PANEL)).to_be_visible()
    # The panel connects to the server extension, which starts the embedded platform.
    expect(page.locator(f"{PANEL} .jp-mlops-platform")).to_have_text(
        "Local demo platform", timeout=240_000
    )


def test_search_shows_demo_items_on_the_map_and_in_the_list(
    page: Page, lab_url: str, artifacts: Path
) -> None:
    # Given
    open_panel(page, lab_url)

    # When
    page.locator(f"{PANEL} .jp-mlops-search-button").click()

    # Then: titles in the list
    results = page.locator(f"{PANEL} .jp-mlops-result-title")
    expect(results.filter(has_text="EuroSAT land-use classifier")).to_have_count(1)
    expect(results.filter(has_text="Sen1Floods11: Bolivia flood event")).to_have_count(1)
    expect(page.locator(f"{PANEL} .jp-mlops-summary")).to_contain_text("matched, showing")
    # ... and one footprint per result on the Leaflet map
    footprints = page.locator(f"{PANEL} .jp-mlops-map path.jp-mlops-footprint")
    expect(footprints).to_have_count(results.count())
    # The offline world outline is drawn with no tile server.
    expect(page.locator(f"{PANEL} .jp-mlops-map path.jp-mlops-basemap")).not_to_have_count(0)
    page.screenshot(path=str(artifacts / "catalog-search.png"))


def test_collection_and_text_filters_narrow_the_results(page: Page, lab_url: str) -> None:
    # Given
    open_panel(page, lab_url)

    # When: only datasets, text "flood"
    page.locator(f'{PANEL} .jp-mlops-collections input[value="dataset"]').check()
    page.locator(f"{PANEL} .jp-mlops-text").fill("flood")
    page.locator(f"{PANEL} .jp-mlops-search-button").click()

    # Then
    results = page.locator(f"{PANEL} .jp-mlops-result-title")
    expect(results).to_have_count(1)
    expect(results.first).to_have_text("Sen1Floods11: Bolivia flood event")
    expect(page.locator(f"{PANEL} .jp-mlops-map path.jp-mlops-footprint")).to_have_count(1)


def test_selecting_a_result_highlights_it(page: Page, lab_url: str) -> None:
    # Given
    open_panel(page, lab_url)
    page.locator(f"{PANEL} .jp-mlops-search-button").click()
    entry = page.locator(f"{PANEL} .jp-mlops-result").filter(has_text="EuroSAT land-use")

    # When
    entry.click()

    # Then
    expect(entry).to_have_class("jp-mlops-result jp-mod-selected")
