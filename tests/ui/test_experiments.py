"""One-click tracking and the experiments panel in a real JupyterLab, in real Chromium, on the
embedded platform: track a notebook, train with scikit-learn autolog, see the run and its chart,
download an artifact, register the model with an alias, find it in the catalog item view."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Locator, Page, expect

from .conftest import TOKEN
from .test_catalog_item import VIEW
from .test_catalog_panel import PANEL, open_panel

PROJECT = "demo/eurosat-lulc-classifier"  # id 101, an ai-model project of the demo store
EXPERIMENTS = ".jp-mlops-ExperimentsPanel"
STATUS = ".jp-mlops-TrackingStatus"
TRACK_BUTTON = '.jp-NotebookPanel-toolbar [data-jp-item-name="mlops-track"]'

TRAIN = """\
import mlflow
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
X, y = load_iris(return_X_y=True)
with mlflow.start_run(run_name="iris-ui"):
    model = LogisticRegression(max_iter=300, C=0.5).fit(X, y)
    for step in range(40):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
print("trained")
"""


def new_notebook(page: Page) -> None:
    page.locator('.jp-LauncherCard[data-category="Notebook"]').first.click()
    expect(page.locator(".jp-NotebookPanel")).to_be_visible(timeout=30_000)
    expect(page.locator(f"{TRACK_BUTTON} button")).to_be_visible()


def run_cell(page: Page, source: str) -> Locator:
    """Type into the last cell and run it; answer that cell's output area."""
    cells = page.locator(".jp-NotebookPanel .jp-CodeCell")
    cell = cells.nth(cells.count() - 1)
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.insert_text(source)
    page.keyboard.press("Shift+Enter")
    return cell.locator(".jp-OutputArea")


def track(page: Page, search: str, experiment: str) -> None:
    page.locator(f"{TRACK_BUTTON} button").click()
    picker = page.locator(".jp-mlops-TrackingPicker")
    expect(picker).to_be_visible()
    expect(picker.locator(".jp-mlops-picker-status")).to_contain_text("model project")
    picker.locator(".jp-mlops-picker-search").fill(search)
    options = picker.locator(".jp-mlops-picker-project")
    expect(options).to_have_count(1)
    options.first.click()
    picker.locator(".jp-mlops-picker-experiment").fill(experiment)
    page.locator(".jp-Dialog .jp-mod-accept").click()


def test_track_train_chart_register_and_find_in_catalog(
    page: Page, lab_url: str, artifacts: Path
) -> None:
    # Given: JupyterLab on the embedded platform and a new notebook
    open_panel(page, lab_url)
    new_notebook(page)

    # When: the toolbar button tracks the notebook in the classifier project
    track(page, "eurosat classifier", "iris ui")

    # Then: the status bar names the project and the experiment (suffix hidden from people)
    status = page.locator(STATUS)
    expect(status).to_have_text(f"MLflow: {PROJECT} \u203a iris ui", timeout=120_000)

    # When: a cell trains a scikit-learn model (autolog) and logs a loss curve
    output = run_cell(page, TRAIN)

    # Then: the run shows up in the status bar once the cell is done
    expect(output).to_contain_text("trained", timeout=180_000)
    expect(status).to_contain_text("run iris-ui (FINISHED)", timeout=60_000)

    # When: the status item opens the experiments panel
    status.click()

    # Then: the experiment of this notebook is selected and its run is in the table
    panel = page.locator(EXPERIMENTS)
    expect(panel.locator('.jp-mlops-exp-item[aria-pressed="true"]')).to_have_text("iris ui")
    run = panel.locator(".jp-mlops-run")
    expect(run).to_have_count(1, timeout=30_000)
    expect(run.locator(".jp-mlops-run-status")).to_have_text("FINISHED")
    expect(panel.locator(".jp-mlops-runs thead")).to_contain_text("training_accuracy_score")
    expect(panel.locator(".jp-mlops-runs thead")).to_contain_text("C")

    # When: the loss is charted
    panel.locator(".jp-mlops-chart-metric").select_option("loss")

    # Then: uPlot draws the 40 points of the run on a canvas
    chart = panel.locator(".jp-mlops-chart")
    expect(chart).to_have_attribute("data-state", "ready", timeout=30_000)
    expect(chart).to_have_attribute("data-points", "40")
    expect(chart.locator("canvas")).to_have_count(1)
    expect(chart.locator(".u-legend")).to_contain_text("iris-ui")
    page.screenshot(path=str(artifacts / "experiments-chart.png"))

    # When: the run's details are opened and an artifact downloaded into the workspace
    run.locator(".jp-mlops-run-name").click()
    detail = panel.locator(".jp-mlops-run-detail")
    artifact = detail.locator(".jp-mlops-artifact").first
    expect(artifact).to_be_visible(timeout=30_000)
    artifact_path = artifact.get_attribute("data-path")
    artifact.locator(".jp-mlops-artifact-download").click()

    # Then
    expect(artifact.locator(".jp-mlops-download-done")).to_have_text(
        f"Saved to mlflow-artifacts/iris-ui/{artifact_path}", timeout=30_000
    )

    # When: the run's model is registered (name pre-filled, suffix added) with alias champion
    detail.locator(".jp-mlops-register").first.click()
    form = page.locator(".jp-mlops-register-form")
    expect(form.locator(".jp-mlops-register-name")).to_have_value("eurosat-lulc-classifier")
    form.locator(".jp-mlops-register-name").fill("iris classifier")
    expect(form.locator(".jp-mlops-register-full")).to_have_text(
        'Registered as "iris classifier (101)"'
    )
    page.locator(".jp-Dialog .jp-mod-accept").click()

    # Then: version 1 with its alias, in the panel's registry list
    expect(detail.locator(".jp-mlops-registered")).to_have_text(
        "Registered iris classifier version 1 as @champion", timeout=30_000
    )
    model = panel.locator('.jp-mlops-model[data-name="iris classifier (101)"]')
    expect(model.locator(".jp-mlops-model-name")).to_have_text("iris classifier")
    expect(model.locator(".jp-mlops-model-version")).to_have_text(["v1 @champion"])
    page.screenshot(path=str(artifacts / "experiments-registered.png"))

    # When: the project is opened from the Catalog panel
    if not page.locator(PANEL).is_visible():
        page.locator('.jp-SideBar [data-id="jupyter-mlops-catalog"]').click()
    page.locator(f"{PANEL} .jp-mlops-text").fill("EuroSAT land-use")
    page.locator(f"{PANEL} .jp-mlops-search-button").click()
    page.locator(f'{PANEL} .jp-mlops-result[data-item-id="{PROJECT}"]').dblclick()

    # Then: its MLflow section links the project's tracking URI and the registered model
    links = page.locator(f"{VIEW} .jp-mlops-mlflow-link")
    expect(links.filter(has_text="Tracking URI")).to_contain_text(f"/mlflow/{PROJECT}/tracking/")
    expect(links.filter(has_text="iris classifier v1")).to_have_count(1)
    links.first.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "experiments-catalog-item.png"))


def test_second_click_stops_tracking(page: Page, lab_url: str) -> None:
    # Given: a tracked notebook
    open_panel(page, lab_url)
    new_notebook(page)
    track(page, "eurosat", "stop me")
    status = page.locator(STATUS)
    expect(status).to_contain_text("stop me", timeout=120_000)
    button = page.locator(f"{TRACK_BUTTON} button")
    expect(button).to_have_attribute("aria-pressed", "true")

    # When: the button is clicked again
    button.click()

    # Then: the status item goes away and the kernel no longer points at the project
    expect(status).to_be_hidden()
    expect(button).to_have_attribute("aria-pressed", "false")
    output = run_cell(page, "import os; print(repr(os.environ.get('MLFLOW_TRACKING_URI')))")
    expect(output).to_have_text("None", timeout=60_000)


LOG_BUTTON = '.jp-NotebookPanel-toolbar [data-jp-item-name="mlops-log-notebook"] button'


def test_log_this_notebook_records_the_selected_parameters(
    page: Page, lab_url: str, artifacts: Path
) -> None:
    # Given: a new notebook, not tracked: Log this notebook is disabled
    open_panel(page, lab_url)
    new_notebook(page)
    button = page.locator(LOG_BUTTON)
    expect(button).to_be_disabled()

    # When: the notebook is tracked and a cell defines variables
    track(page, "eurosat classifier", "logged ui")
    expect(page.locator(STATUS)).to_contain_text("logged ui", timeout=120_000)
    output = run_cell(page, "learning_rate = 0.125\nepochs = 4\nlayers = [8]\nprint('ready')")
    expect(output).to_contain_text("ready", timeout=120_000)

    # Then: the button is enabled; clicking it offers the simple variables only
    expect(button).to_be_enabled()
    button.click()
    picker = page.locator(".jp-mlops-log-params")
    expect(picker.locator("input[name=learning_rate]")).to_be_visible(timeout=120_000)
    expect(picker.locator("input[name=epochs]")).to_be_visible()
    expect(picker.locator("input[name=layers]")).to_have_count(0)

    # When: the user selects learning_rate and logs
    picker.locator("input[name=learning_rate]").check()
    page.screenshot(path=str(artifacts / "log-notebook-parameters.png"))
    page.locator(".jp-Dialog .jp-mod-accept").click()

    # Then: a notification names the run and its one parameter
    expect(page.get_by_text("with 1 parameter")).to_be_visible(timeout=180_000)

    # And: MLflow has the run with exactly that parameter and the notebook as an artifact
    headers = {"Authorization": f"token {TOKEN}"}
    proxy = f"{lab_url}/jupyter-mlops/mlflow/api/2.0/mlflow"
    experiment = page.request.get(
        f"{proxy}/experiments/get-by-name",
        params={"project": PROJECT, "experiment_name": "logged ui (101)"},
        headers=headers,
    ).json()["experiment"]
    runs = page.request.post(
        f"{proxy}/runs/search?project={PROJECT}",
        data={"experiment_ids": [experiment["experiment_id"]]},
        headers=headers,
    ).json()["runs"]
    assert len(runs) == 1
    params = {p["key"]: p["value"] for p in runs[0]["data"]["params"]}
    assert params == {"learning_rate": "0.125"}
    tags = {t["key"]: t["value"] for t in runs[0]["data"]["tags"]}
    assert tags["jupyter_mlops.logged_notebook"] == "true"
    assert tags["mlflow.source.name"].endswith(".ipynb")
