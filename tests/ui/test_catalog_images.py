"""README images in the item view load through the server extension, never from the platform."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, Request, expect

from .test_catalog_panel import PANEL, open_panel

VIEW = ".jp-mlops-ItemView"


def test_readme_image_renders_through_the_proxy(page: Page, lab_url: str, artifacts: Path) -> None:
    # Given: every request the page makes is recorded
    requests: list[str] = []

    def record(request: Request) -> None:
        requests.append(request.url)

    page.on("request", record)
    open_panel(page, lab_url)

    # When: the user opens the EuroSAT samples dataset, whose README shows docs/classes.png
    page.locator(f"{PANEL} .jp-mlops-text").fill("EuroSAT RGB samples")
    page.locator(f"{PANEL} .jp-mlops-search-button").click()
    page.locator(f'{PANEL} .jp-mlops-result[data-item-id="demo/eurosat-rgb-samples"]').dblclick()

    # Then: the image is painted (decoded with its real width) from our image route
    image = page.locator(f"{VIEW} .jp-mlops-item-description img")
    expect(image).to_have_attribute("alt", "EuroSAT class colours", timeout=60_000)
    page.wait_for_function(
        "el => el.complete && el.naturalWidth > 0", arg=image.element_handle(), timeout=60_000
    )
    assert image.evaluate("el => el.naturalWidth") == 160
    src = image.get_attribute("src") or ""
    assert src.startswith(
        f"{lab_url}/jupyter-mlops/catalog/image/demo/eurosat-rgb-samples/repository/docs/"
    )
    assert "token" not in src
    page.screenshot(path=str(artifacts / "catalog-item-image.png"))
    # And: the browser only ever talked to the Jupyter server
    assert requests
    assert all(url.startswith((lab_url, "data:", "blob:")) for url in requests), [
        url for url in requests if not url.startswith(lab_url)
    ]
