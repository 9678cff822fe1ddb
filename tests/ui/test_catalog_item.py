"""The item view: properties, Markdown, related items, download into the workspace, insert code."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from .test_catalog_panel import PANEL, open_panel

VIEW = ".jp-mlops-ItemView"


def open_classifier(page: Page) -> None:
    page.locator(f"{PANEL} .jp-mlops-text").fill("EuroSAT land-use")
    page.locator(f"{PANEL} .jp-mlops-search-button").click()
    entry = page.locator(f'{PANEL} .jp-mlops-result[data-item-id="demo/eurosat-lulc-classifier"]')
    entry.dblclick()
    expect(page.locator(f"{VIEW} .jp-mlops-item-title")).to_have_text("EuroSAT land-use classifier")


def test_item_view_shows_model_card_and_downloads_an_asset(
    page: Page, lab_url: str, artifacts: Path
) -> None:
    # Given
    open_panel(page, lab_url)

    # When: the user opens the classifier from the result list
    open_classifier(page)

    # Then: Markdown is rendered (not shown raw), MLM properties are readable rows
    view = page.locator(VIEW)
    expect(view.locator(".jp-mlops-item-description .jp-RenderedMarkdown h2")).to_contain_text(
        "Usage"
    )
    expect(view.locator(".jp-mlops-item-description")).not_to_contain_text("## Usage")
    model = view.locator(".jp-mlops-model-table")
    for label, value in [
        ("Architecture", "MLP"),
        ("Tasks", "classification"),
        ("Framework", "onnx 1.23.2"),
        ("Accelerator", "amd64"),
        ("Input", "reflectances · [N, 13] (batch, bands) float32"),
        ("Output", "10 classes"),
    ]:
        expect(model.locator("tr").filter(has_text=label).first).to_contain_text(value)
    expect(view.locator(".jp-mlops-access")).to_have_text("Read only")
    expect(view.locator(".jp-mlops-related-link")).to_have_text("demo/eurosat-rgb-samples")

    # When: the ONNX model is downloaded to the workspace
    asset = view.locator('.jp-mlops-asset[data-asset-key="model/eurosat-mlp.onnx"]')
    asset.locator(".jp-mlops-download").click()

    # Then: the view reports it, and JupyterLab's file browser lists the new folder and file
    expect(asset.locator(".jp-mlops-download-done")).to_have_text(
        "Saved to eurosat-lulc-classifier/model/eurosat-mlp.onnx", timeout=30_000
    )
    page.screenshot(path=str(artifacts / "catalog-item.png"))
    page.locator('.jp-SideBar [data-id="filebrowser"]').click()
    listing = page.locator(".jp-FileBrowser .jp-DirListing-itemName")
    folder = listing.filter(has_text="eurosat-lulc-classifier")
    expect(folder).to_have_count(1)
    folder.dblclick()
    listing.filter(has_text="model").first.dblclick()
    expect(listing.filter(has_text="eurosat-mlp.onnx")).to_have_count(1)

    # When: downloading again, the existing file is not silently replaced
    asset.locator(".jp-mlops-download").click()
    expect(asset.locator(".jp-mlops-overwrite")).to_be_visible()

    # When: a related item is opened
    view.locator(".jp-mlops-related-link").click()

    # Then: it opens in its own view
    expect(
        page.locator(f"{VIEW} .jp-mlops-item-title").filter(has_text="EuroSAT RGB samples")
    ).to_be_visible()


def test_insert_code_runs_in_a_notebook(page: Page, lab_url: str, artifacts: Path) -> None:
    # Given: a new notebook from the launcher, then the classifier opened from the catalog
    open_panel(page, lab_url)
    page.locator('.jp-LauncherCard[data-category="Notebook"]').first.click()
    expect(page.locator(".jp-NotebookPanel")).to_be_visible(timeout=30_000)
    open_classifier(page)

    # When: "Insert code" then run the cell
    page.locator(f"{VIEW} .jp-mlops-insert-code").click()
    notebook = page.locator(".jp-NotebookPanel")
    expect(notebook).to_be_visible()
    cell = notebook.locator(".jp-CodeCell").first
    expect(cell.locator(".jp-InputArea-editor")).to_contain_text("Client.open(")
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")

    # Then: the item is opened with pystac-client and the model loaded with onnxruntime
    output = cell.locator(".jp-OutputArea")
    expect(output).to_contain_text("demo/eurosat-lulc-classifier - EuroSAT", timeout=60_000)
    expect(output).to_contain_text("input: reflectance")
    expect(output).to_contain_text("output: probabilities")
    expect(output.locator('[data-mime-type="application/vnd.jupyter.stderr"]')).to_have_count(0)
    page.screenshot(path=str(artifacts / "catalog-insert-code.png"))
