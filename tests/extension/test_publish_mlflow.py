"""publish(mlflow_model=...): a registered model version's artifacts become the project's files.

MLflow runs for real here (SQLite backend store, local artifacts) in this process; the model is
a scikit-learn model exported to ONNX and logged with ``mlflow.onnx``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import onnx
import pytest

from jupyter_mlops import publish
from jupyter_mlops.errors import PublishValidationError
from jupyter_mlops.publish import PublishPlan, PublishResult
from jupyter_mlops.publishing.gitlab import GitLabTarget
from tests.gitlab_double import GitLabDouble, User

from .onnx_models import logistic_regression_onnx

MLM = {"architecture": "logistic regression", "tasks": ["classification"]}


@pytest.fixture
def registered_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Version 1 of registered model ``water-clf`` in a fresh MLflow store."""
    import mlflow

    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    # MLflow 3 puts logged models under the store's default root, ./mlruns: keep it in tmp_path
    monkeypatch.chdir(tmp_path)
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    # artifacts in the test's folder, not ./mlruns of the working directory
    mlflow.create_experiment("water", artifact_location=(tmp_path / "artifacts").as_uri())
    mlflow.set_experiment("water")
    with mlflow.start_run():
        mlflow.onnx.log_model(
            onnx.load_from_string(logistic_regression_onnx()),
            name="model",
            registered_model_name="water-clf",
        )
    yield "models:/water-clf/1"
    mlflow.set_tracking_uri(previous)


def test_dry_run_plans_the_model_version_artifacts_and_links_it(registered_model: str) -> None:
    # When a registered model version is published (dry run)
    plan = publish(
        "Water classifier",
        namespace="alice",
        mlflow_model=registered_model,
        mlm=MLM,
        dry_run=True,
        progress=False,
    )

    # Then its artifacts are the files, under model/, the ONNX one as the MLM model asset
    assert isinstance(plan, PublishPlan)
    paths = {file.path for file in plan.files}
    assert {"model/MLmodel", "model/model.onnx"} <= paths
    assets = plan.item["assets"]
    assert assets["model/model.onnx"]["roles"] == ["mlm:model"]
    assert assets["model/MLmodel"]["roles"] == ["metadata"]
    # its inputs come from the ONNX graph, and the version is linked for the catalog
    assert plan.item["properties"]["mlm:input"][0]["input"]["shape"] == [-1, 4]
    [link] = plan.front_matter["links"]
    assert link["rel"] == "mlflow:model"
    assert link["mlflow:uri"] == "models:/water-clf/1"
    assert link["href"].endswith("#/models/water-clf/versions/1")


def test_model_version_is_published_to_gitlab(registered_model: str) -> None:
    # Given alice on GitLab
    with GitLabDouble([User("alice", tokens=["alice-token"])], []) as gitlab:
        # When she publishes the registered model version
        result = publish(
            "Water classifier",
            mlflow_model=registered_model,
            mlm=MLM,
            progress=False,
            target=GitLabTarget(gitlab.url, "alice-token"),
        )
        # Then the ONNX file is in the project, through LFS
        assert isinstance(result, PublishResult)
        project = gitlab.state.project("alice/water-classifier")
        assert project is not None
        assert "model/model.onnx" in project.lfs
        assert onnx.load_from_string(project.content("model/model.onnx")).graph.input[0].name


def test_unknown_model_version_names_the_field(registered_model: str) -> None:
    with pytest.raises(PublishValidationError) as error:
        publish(
            "X", namespace="a", mlflow_model="models:/water-clf/9", dry_run=True, progress=False
        )
    assert error.value.field == "mlflow_model"
    with pytest.raises(PublishValidationError) as shape:
        publish("X", namespace="a", mlflow_model="water-clf", dry_run=True, progress=False)
    assert shape.value.field == "mlflow_model"
