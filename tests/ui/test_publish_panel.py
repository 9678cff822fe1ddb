"""The Publish panel in a real JupyterLab, in real Chromium, on the embedded platform: fill the
form (box drawn on the map, file picked in the workspace), see live validation, publish, and
open the new catalog item."""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

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


def open_publish_panel(page: Page, lab_url: str) -> Locator:
    """Load JupyterLab and open the Publish panel from the sidebar."""
    page.goto(f"{lab_url}/lab?reset&token={TOKEN}")
    page.wait_for_selector("#jupyterlab-splash", state="detached")
    page.locator('.jp-SideBar [data-id="jupyter-mlops-publish"]').click()
    panel = page.locator(PANEL)
    expect(panel).to_be_visible()
    return panel


def test_fill_the_form_publish_and_open_the_item(page: Page, lab_url: str, artifacts: Path) -> None:
    # Given: an ONNX model in the workspace and the Publish panel open
    put_workspace_file(lab_url, "ui-models/flood-clf.onnx", logistic_regression_onnx())
    panel = open_publish_panel(page, lab_url)

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


def lab_json(lab_url: str, route: str) -> Any:
    request = urllib.request.Request(
        f"{lab_url}/jupyter-mlops/{route}", headers={"Authorization": f"token {TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def register_onnx_version(lab_url: str, project: str, name: str) -> str:
    """Log an ONNX model in ``project``'s MLflow on the lab's platform and register it.

    Returns the registered model's full name (with the project suffix).
    """
    import mlflow
    import onnx

    from jupyter_mlops.tracking import register, tracking_uri

    deadline = time.monotonic() + 240
    while (info := lab_json(lab_url, "info"))["status"] == "starting":
        assert time.monotonic() < deadline, "the embedded platform did not start"
        time.sleep(0.5)
    uri = tracking_uri(info["mlflow_url"], project)
    project_id = lab_json(lab_url, f"catalog/check/{project}")["id"]
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        mlflow.set_experiment(f"ui publish ({project_id})")
        with mlflow.start_run() as run:
            mlflow.onnx.log_model(onnx.load_from_string(logistic_regression_onnx()), name="model")
        return register(run.info.run_id, name, tracking_uri=uri).name
    finally:
        mlflow.set_tracking_uri(previous)


def test_publish_a_registered_model_version_picked_in_the_panel(
    page: Page, lab_url: str, artifacts: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: a model version registered in the MLflow of a demo model project
    monkeypatch.chdir(tmp_path)  # MLflow 3 may write ./mlruns
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    project = "demo/flood-mapping-threshold"
    registered = register_onnx_version(lab_url, project, "ui picked water")
    panel = open_publish_panel(page, lab_url)

    # When: the user names the model and picks project, registered model and version
    panel.locator('[data-field="name"] input').fill("UI water from MLflow")
    panel.locator('[data-field="architecture"] input').fill("logistic regression")
    panel.locator('.jp-mlops-tasks input[value="classification"]').check()
    picker = panel.locator(".jp-mlops-mlflow-picker")
    expect(picker.locator("datalist option[value='demo/flood-mapping-threshold']")).to_have_count(
        1, timeout=60_000
    )
    picker.get_by_label("Project whose MLflow has the model").fill(project)
    picker.get_by_label("Project whose MLflow has the model").press("Enter")
    models = picker.get_by_label("Registered model")
    expect(models).to_be_enabled(timeout=60_000)
    models.select_option(label="ui picked water")

    # Then: the newest version is chosen and the dry run plans its artifacts
    expect(picker.get_by_label("Model version")).to_be_enabled(timeout=60_000)
    expect(picker.get_by_label("Model version")).to_have_value("1")
    expect(panel.locator(".jp-mlops-plan-title")).to_contain_text("Valid:", timeout=120_000)
    expect(panel.locator(".jp-mlops-plan-files")).to_contain_text("model/model.onnx")
    expect(panel.locator(".jp-mlops-plan-files")).to_contain_text("model/MLmodel")
    page.screenshot(path=str(artifacts / "publish-mlflow-picker.png"))

    # When: the user publishes
    panel.locator(".jp-mlops-publish-button").click()

    # Then: the project is created from the version, linked to it in the catalog item
    expect(panel.locator(".jp-mlops-publish-status")).to_contain_text("Created", timeout=120_000)
    panel.locator(".jp-mlops-open-published").click()
    view = page.locator(VIEW)
    expect(view.locator(".jp-mlops-item-title")).to_have_text(
        "UI water from MLflow", timeout=60_000
    )
    expect(view).to_contain_text(f"{registered} v1")
