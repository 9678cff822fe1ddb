"""The Publish panel in a real JupyterLab, in real Chromium, on the embedded platform: fill the
form (box drawn on the map, file picked in the workspace), see live validation, publish, and
open the new catalog item."""

from __future__ import annotations

import base64
import json
import re
import urllib.request
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.extension.onnx_models import logistic_regression_onnx

from .conftest import TOKEN

PANEL = "#jupyter-mlops-publish"
VIEW = ".jp-mlops-ItemView"


def put_workspace_file(lab_url: str, path: str, data: bytes) -> None:
    """Save a file into the Jupyter workspace through the contents API."""
    folder = path.rsplit("/", 1)[0]
    for target, model in (
        (folder, {"type": "directory"}),
        (path, {"type": "file", "format": "base64", "content": base64.b64encode(data).decode()}),
    ):
        request = urllib.request.Request(
            f"{lab_url}/api/contents/{target}",
            data=json.dumps(model).encode(),
            method="PUT",
            headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status in (200, 201)


def test_fill_the_form_publish_and_open_the_item(page: Page, lab_url: str, artifacts: Path) -> None:
    # Given: an ONNX model in the workspace and the Publish panel open
    put_workspace_file(lab_url, "ui-models/flood-clf.onnx", logistic_regression_onnx())
    page.goto(f"{lab_url}/lab?reset&token={TOKEN}")
    page.wait_for_selector("#jupyterlab-splash", state="detached")
    page.locator('.jp-SideBar [data-id="jupyter-mlops-publish"]').click()
    panel = page.locator(PANEL)
    expect(panel).to_be_visible()

    # When: the user names the model and picks the file in the workspace picker
    panel.locator('[data-field="name"] input').fill("UI flood classifier")
    panel.locator('[data-field="license"] input').fill("MIT")
    panel.locator('[data-field="keywords"] input').fill("flood, ui-test")
    panel.locator(".jp-mlops-folder", has_text="ui-models/").click()
    panel.get_by_label("Publish ui-models/flood-clf.onnx").check()
    expect(panel.locator(".jp-mlops-selected-files")).to_contain_text("ui-models/flood-clf.onnx")

    # Then: live validation says what is missing, on the field
    expect(panel.locator('[data-field="architecture"] .jp-mlops-field-error')).to_contain_text(
        "mlm.architecture", timeout=60_000
    )

    # When: the model fields are completed and a box is drawn on the map
    panel.locator('[data-field="architecture"] input').fill("logistic regression")
    panel.locator('.jp-mlops-tasks input[value="classification"]').check()
    panel.locator(".jp-mlops-draw-box").click()
    box = panel.locator(".jp-mlops-publish-map").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.35)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.55, box["y"] + box["height"] * 0.45, steps=5)
    page.mouse.up()
    expect(panel.locator(".jp-mlops-bbox-status")).to_have_text(re.compile(r"^Box "))

    # Then: the dry run is valid and lists the files with their sizes
    plan = panel.locator(".jp-mlops-plan-title")
    expect(plan).to_contain_text("Valid:", timeout=60_000)
    expect(plan).to_contain_text("/ui-flood-classifier in ai-model")
    expect(panel.locator(".jp-mlops-plan-files")).to_contain_text("flood-clf.onnx")
    expect(panel.locator('[data-field="architecture"] .jp-mlops-field-error')).to_have_text("")

    # When: the user publishes
    panel.locator(".jp-mlops-publish-button").click()

    # Then: progress ends with the result and a link to the new item
    expect(panel.locator(".jp-mlops-publish-status")).to_contain_text("Created", timeout=120_000)
    open_item = panel.locator(".jp-mlops-open-published")
    expect(open_item).to_be_visible()
    page.screenshot(path=str(artifacts / "publish-panel.png"))

    # When: the user opens it
    open_item.click()

    # Then: the catalog item shows, with the model's MLM metadata
    view = page.locator(VIEW)
    expect(view.locator(".jp-mlops-item-title")).to_have_text("UI flood classifier", timeout=60_000)
    expect(view).to_contain_text("logistic regression")
    page.screenshot(path=str(artifacts / "publish-item.png"))
