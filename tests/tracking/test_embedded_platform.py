"""The embedded platform: ``mlops-server serve --mlflow`` serves the catalog and MLflow (behind
the layer) on one loopback port; and a plugin ``mlflow server`` asks the real catalog's check
API."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from tests.tracking.conftest import (
    DATASET_PROJECT,
    MODEL_PROJECT,
    PRIVATE_PROJECT,
    MlflowServer,
    as_token,
    start_mlflow,
    stop,
)


def test_config_and_items_point_at_the_mounted_mlflow(platform: str) -> None:
    # Given the embedded platform
    # When a client reads the UI config and a model item
    config = httpx.get(f"{platform}/api/config/").json()
    item = httpx.get(f"{platform}/api/stac/collections/ai-model/items/{MODEL_PROJECT}").json()
    # Then both name the MLflow mounted on the same port
    assert config["mlflow"]["url"] == f"{platform}/mlflow"
    links = {link["rel"]: link["href"] for link in item["links"]}
    assert links["mlflow:tracking-uri"] == f"{platform}/mlflow/{MODEL_PROJECT}/tracking/"


def test_local_user_tracks_without_a_token_and_rules_still_apply(platform: str) -> None:
    import mlflow

    # Given the tracking URI of a demo model project, and no token at all
    mlflow.set_tracking_uri(f"{platform}/mlflow/{MODEL_PROJECT}/tracking/")
    with as_token(None):
        # When the local user runs the notebook flow
        experiment = mlflow.set_experiment("eurosat (101)")
        with mlflow.start_run() as run:
            mlflow.log_param("lr", 0.01)
            mlflow.log_metric("accuracy", 0.93)
            mlflow.log_text("weights", "weights.txt")
        client = MlflowClient()
        client.create_registered_model("eurosat classifier (101)")
        client.create_model_version(
            "eurosat classifier (101)", run.info.artifact_uri, run_id=run.info.run_id
        )
        client.set_registered_model_alias("eurosat classifier (101)", "champion", "1")
        text = mlflow.artifacts.load_text(f"{run.info.artifact_uri}/weights.txt")
        # and breaks the naming rule or touches the project tag
        with pytest.raises(MlflowException) as bad_name:
            mlflow.set_experiment("no suffix")
        with pytest.raises(MlflowException) as tag_change:
            client.set_experiment_tag(experiment.experiment_id, "project", "elsewhere")
    mlflow.set_tracking_uri("")

    # Then tracking works, the project tag is set, and the rules are enforced
    assert experiment.tags["project"] == MODEL_PROJECT
    assert text == "weights"
    assert client.get_model_version_by_alias("eurosat classifier (101)", "champion").version
    assert bad_name.value.get_http_status_code() == 403
    assert "must end with ' (101)'" in bad_name.value.message
    assert tag_change.value.get_http_status_code() == 403


def test_embedded_global_view_is_read_only_and_datasets_have_no_mlflow(platform: str) -> None:
    # Given the embedded platform's global view and a dataset project
    create = f"{platform}/mlflow/api/2.0/mlflow/experiments/create"
    dataset = f"{platform}/mlflow/{DATASET_PROJECT}/tracking/api/2.0/mlflow/experiments/search"
    # When the local user writes at the root or uses MLflow on a dataset
    at_root = httpx.post(create, json={"name": "root (101)"})
    on_dataset = httpx.post(dataset, json={"max_results": 10})
    # Then both are refused
    assert at_root.status_code == 403
    assert on_dataset.status_code == 403


@pytest.fixture(scope="module")
def plugin_on_catalog(
    platform: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MlflowServer]:
    """A plugin ``mlflow server`` whose SHARINGHUB_URL is the real catalog (public mode)."""
    work = tmp_path_factory.mktemp("plugin-on-catalog")
    process, server = start_mlflow(
        work, platform, f"sqlite:///{work / 'mlflow.db'}", str(work / "artifacts")
    )
    try:
        yield server
    finally:
        stop(process)


def test_plugin_against_the_real_catalog_check_api(plugin_on_catalog: MlflowServer) -> None:
    # Given the real catalog in public mode (anonymous callers read public projects, level 2)
    base = plugin_on_catalog.url
    search = "api/2.0/mlflow/experiments/search"
    # When an anonymous client reads and writes through project routes
    page = {"max_results": 10}
    public_read = httpx.post(f"{base}/{MODEL_PROJECT}/tracking/{search}", json=page)
    public_write = httpx.post(
        f"{base}/{MODEL_PROJECT}/tracking/api/2.0/mlflow/experiments/create",
        json={"name": "anon (101)"},
    )
    private_read = httpx.post(f"{base}/{PRIVATE_PROJECT}/tracking/{search}", json=page)
    dataset_read = httpx.post(f"{base}/{DATASET_PROJECT}/tracking/{search}", json=page)
    # Then the catalog's answers decide: read-only on public, login asked for private,
    # and no MLflow for a dataset
    assert public_read.status_code == 200, public_read.text
    assert public_write.status_code == 403
    assert private_read.status_code == 401
    assert private_read.headers["www-authenticate"] == 'Bearer realm="mlflow"'
    assert dataset_read.status_code == 401
