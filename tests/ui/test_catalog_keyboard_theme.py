"""The catalog works from the keyboard and follows JupyterLab's dark theme."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from .test_catalog_panel import PANEL, open_panel

THEME_MENU = re.compile(r"^Theme$")


def luminance(page: Page, selector: str) -> float:
    """Relative luminance (0 black .. 1 white) of an element's computed background."""
    rgb = page.locator(selector).first.evaluate(
        "node => getComputedStyle(node).backgroundColor.match(/\\d+/g).slice(0, 3).map(Number)"
    )
    red, green, blue = (float(channel) / 255 for channel in rgb)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def test_results_are_reachable_and_openable_from_the_keyboard(page: Page, lab_url: str) -> None:
    # Given: a search typed and submitted with Enter
    open_panel(page, lab_url)
    page.locator(f"{PANEL} .jp-mlops-text").fill("eurosat")
    page.locator(f"{PANEL} .jp-mlops-text").press("Enter")
    results = page.locator(f"{PANEL} .jp-mlops-result")
    expect(results).to_have_count(2)

    # When: the user focuses the first result, moves down, selects with Space, opens with Enter
    results.first.focus()
    page.keyboard.press("ArrowDown")
    expect(results.nth(1)).to_be_focused()
    page.keyboard.press("Space")
    expect(results.nth(1)).to_have_class("jp-mlops-result jp-mod-selected")
    title = results.nth(1).locator(".jp-mlops-result-title").inner_text()
    page.keyboard.press("Enter")

    # Then: the item opens in the main area
    expect(page.locator(".jp-mlops-ItemView .jp-mlops-item-title")).to_have_text(title)


def test_panel_and_item_view_follow_the_dark_theme(
    page: Page, lab_url: str, artifacts: Path
) -> None:
    # Given: the panel with results, light theme
    open_panel(page, lab_url)
    page.locator(f"{PANEL} .jp-mlops-search-button").click()
    expect(page.locator(f"{PANEL} .jp-mlops-result")).to_have_count(4)
    assert luminance(page, PANEL) > 0.8

    # When: the user picks JupyterLab Dark in Settings > Theme
    page.locator(".lm-MenuBar-itemLabel", has_text="Settings").click()
    page.locator(".lm-Menu-itemLabel", has_text=THEME_MENU).hover()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^JupyterLab Dark$")).click()
    expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "false")

    try:
        # Then: the panel, its map controls and the item view are dark too
        page.wait_for_function(
            f"getComputedStyle(document.querySelector('{PANEL}')).backgroundColor "
            "!== 'rgb(255, 255, 255)'"
        )
        assert luminance(page, PANEL) < 0.3
        assert luminance(page, f"{PANEL} .jp-mlops-draw-box") < 0.3
        page.locator(f"{PANEL} .jp-mlops-result").first.dblclick()
        expect(page.locator(".jp-mlops-ItemView .jp-mlops-item-title")).to_be_visible()
        assert luminance(page, ".jp-mlops-ItemView") < 0.3
        page.screenshot(path=str(artifacts / "catalog-dark.png"))
    finally:
        # Leave the shared server in the light theme for other tests.
        page.locator(".lm-MenuBar-itemLabel", has_text="Settings").click()
        page.locator(".lm-Menu-itemLabel", has_text=THEME_MENU).hover()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^JupyterLab Light$")).click()
        expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "true")
