"""The notebooks in ``examples/`` run top to bottom with nbclient in a real kernel against the
embedded platform (and the GitLab double for publishing); their outputs are checked."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import nbformat
import pytest
from mlflow import MlflowClient
from nbclient import NotebookClient

from tests.gitlab_double import GitLabDouble
from tests.notebooks.conftest import PUBLISHER_TOKEN

EXAMPLES = Path(__file__).parents[2] / "examples"


def execute(name: str, work: Path) -> Any:
    shutil.copy(EXAMPLES / name, work / name)
    notebook = nbformat.read(work / name, as_version=4)
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(work)}}
    ).execute()
    nbformat.write(notebook, work / name)  # as a user would save it
    return notebook


def outputs(notebook: Any, tag: str) -> tuple[str, dict[str, Any]]:
    """Text printed by the tagged cell, and its last rich result's data."""
    cell = next(c for c in notebook.cells if tag in c.metadata.get("tags", []))
    text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    rich = [o["data"] for o in cell.outputs if o.output_type in ("execute_result", "display_data")]
    return text, rich[-1] if rich else {}


@pytest.fixture
def work(platform_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MPLBACKEND", "agg")
    return tmp_path


def test_search_and_download(work: Path) -> None:
    # When the notebook runs
    notebook = execute("search-and-download.ipynb", work)

    # Then each step showed what it should
    whoami, _ = outputs(notebook, "whoami")
    assert "token:   none (anonymous)" in whoami
    _, table = outputs(notebook, "search")
    assert "Sen1Floods11: Bolivia flood event" in table["text/html"]
    _, text_search = outputs(notebook, "text-search")
    assert set(json.loads(text_search["text/plain"].replace("'", '"'))) == {
        "demo/eurosat-lulc-classifier"
    }
    _, show = outputs(notebook, "show")
    assert "eurosat-mlp.onnx" in show["text/plain"]
    downloaded, _ = outputs(notebook, "download")
    assert (work / "data" / "eurosat-mlp.onnx").stat().st_size > 0
    assert "eurosat-mlp.onnx" in downloaded
    _, widget = outputs(notebook, "widget")
    assert "application/vnd.jupyter.widget-view+json" in widget
    assert "<svg" in widget["text/html"]  # what a page without widgets shows
    _, selected = outputs(notebook, "selected")
    assert selected["text/plain"] == "'demo/sen1floods11-bolivia'"


def test_train_and_register(work: Path, platform: str) -> None:
    # When the notebook runs
    notebook = execute("train-and-register.ipynb", work)

    # Then the training streamed its epochs, summarized the run, and the model is registered
    streamed, summary = outputs(notebook, "train")
    assert "epoch 4/4" in streamed
    assert "<polyline" in summary["text/html"]
    assert "FINISHED" in summary["text/html"]
    registered, _ = outputs(notebook, "register")
    assert "Registered 'eurosat example (101)' version 1, alias 'champion'" in registered
    _, counts = outputs(notebook, "resilient")
    assert counts["text/plain"] == "(4, 1000)"
    uri = f"{platform}/mlflow/demo/eurosat-lulc-classifier/tracking/"
    client = MlflowClient(uri, registry_uri=uri)
    version = client.get_model_version_by_alias("eurosat example (101)", "champion")
    run = client.get_run(version.run_id)
    assert run.data.params == {"alpha": "0.0005", "epochs": "4"}
    assert run.data.metrics["accuracy"] > 0.5


def test_publish(work: Path, gitlab_publisher: GitLabDouble) -> None:
    # When the notebook runs (GitLab at the double, token from the environment)
    notebook = execute("publish.ipynb", work)

    # Then the plan was shown, the project was created, and no token is in the saved notebook
    _, plan = outputs(notebook, "plan")
    assert "'carol/example-flood-chips'" in plan["text/plain"]
    assert "[-66.0, -15.0, -64.0, -13.0]" in plan["text/plain"]
    _, result = outputs(notebook, "publish")
    assert "Created" in result["text/html"]
    project = gitlab_publisher.state.project("carol/example-flood-chips")
    assert project is not None
    assert project.content("chips/labels.csv").startswith(b"chip,label")
    assert PUBLISHER_TOKEN not in (work / "publish.ipynb").read_text()
