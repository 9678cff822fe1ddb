"""Publishing on the embedded platform, end to end, from Python and through the server route.

A real Jupyter server with jupyter-mlops starts the embedded mlops-server (a child process over
HTTP, on its own data folder here). A scikit-learn model made in the test is exported to ONNX,
published, found again through the catalog search with its MLM properties, downloaded, and run
with onnxruntime.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import numpy as np
import pytest
from tornado.httpclient import HTTPClientError

from jupyter_mlops import publish
from jupyter_mlops.catalog import Catalog
from jupyter_mlops.publish import PublishResult

from .conftest import Fetch, wait_ready
from .onnx_models import logistic_regression, logistic_regression_onnx, training_data

MLM = {
    "architecture": "logistic regression",
    "tasks": ["classification"],
    "accelerator": "amd64",
    "framework_version": "1.20.0",
}
BBOX = [5.0, 43.0, 8.0, 46.0]


@pytest.fixture
def mlops_config(tmp_path: Path) -> dict[str, Any]:
    """A platform of our own: what we publish must not leak into other tests' catalogs."""
    return {"embedded_data_dir": str(tmp_path / "platform"), "embedded_start_timeout": 180.0}


def embedded_store() -> Path:
    """The local project store, as the platform file tells kernels."""
    known = json.loads(Path(os.environ["MLOPS_PLATFORM_FILE"]).read_text())
    return Path(known["embedded_data_dir"]) / "projects"


@pytest.fixture
def workspace(jp_root_dir: Path) -> tuple[Path, Any]:
    """The Jupyter workspace with a freshly trained model exported to ONNX."""
    model = logistic_regression()
    (jp_root_dir / "models").mkdir()
    (jp_root_dir / "models" / "water.onnx").write_bytes(logistic_regression_onnx(model))
    (jp_root_dir / "models" / "README-notes.txt").write_text("trained in the test\n")
    return jp_root_dir, model


async def test_publish_then_find_download_and_run_the_model(
    jp_fetch: Fetch, workspace: tuple[Path, Any], tmp_path: Path
) -> None:
    root, model = workspace
    info = await wait_ready(jp_fetch)
    assert info["status"] == "ready"

    # When a kernel publishes (it finds the embedded platform through MLOPS_PLATFORM_FILE)
    result = await asyncio.to_thread(
        publish,
        "Water classifier",
        files={"model/water.onnx": root / "models" / "water.onnx"},
        description="Water / land from four band features.",
        bbox=BBOX,
        temporal=("2021-01-01", "2021-12-31"),
        keywords=["water"],
        license="Apache-2.0",
        mlm=MLM,
        progress=False,
    )

    # Then it went to the local store, public by default on this one-user platform
    assert isinstance(result, PublishResult)
    assert result.created
    assert result.path.endswith("/water-classifier")
    assert (embedded_store() / result.path / "model" / "water.onnx").is_file()

    # And the catalog finds it right away, by id and by area, with its MLM properties
    catalog = Catalog()
    found = await asyncio.to_thread(catalog.search, collections=["ai-model"], bbox=BBOX)
    assert result.path in [item.id for item in found]
    item = await asyncio.to_thread(catalog.item, result.path, "ai-model")
    properties = item.properties
    assert properties["mlm:architecture"] == "logistic regression"
    assert properties["mlm:tasks"] == ["classification"]
    assert properties["mlm:framework"] == "ONNX"
    assert properties["mlm:input"][0]["input"]["shape"] == [-1, 4]
    assert properties["license"] == "Apache-2.0"
    assert "water" in properties["keywords"]
    assert item.bbox == BBOX
    assert any("mlm" in ext for ext in item.stac_extensions)
    asset = item.assets["model/water.onnx"]
    assert "mlm:model" in asset.roles
    assert asset.extra_fields["mlm:artifact_type"] == "onnx"

    # When the ONNX asset is downloaded and run with onnxruntime
    path = await asyncio.to_thread(
        catalog.download, item, "model/water.onnx", tmp_path / "dl", False
    )
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    features, _ = training_data()
    labels = session.run(["label"], {"X": features[:20]})[0]

    # Then it predicts what the scikit-learn model predicts
    np.testing.assert_array_equal(labels, model.predict(features[:20]))

    # And a rerun changes nothing
    again = await asyncio.to_thread(
        publish,
        "Water classifier",
        files={"model/water.onnx": root / "models" / "water.onnx"},
        description="Water / land from four band features.",
        bbox=BBOX,
        temporal=("2021-01-01", "2021-12-31"),
        keywords=["water"],
        license="Apache-2.0",
        mlm=MLM,
        progress=False,
    )
    assert isinstance(again, PublishResult)
    assert again.committed == []
    assert not again.created


async def post_publish(jp_fetch: Fetch, body: dict[str, Any], **kwargs: Any) -> Any:
    return await jp_fetch(
        "jupyter-mlops", "publish", method="POST", body=json.dumps(body), **kwargs
    )


async def test_publish_route_dry_run_publish_with_progress_and_errors(
    jp_fetch: Fetch, jp_base_url: str, jp_http_port: int, workspace: tuple[Path, Any]
) -> None:
    await wait_ready(jp_fetch)
    body = {
        "name": "Route model",
        "files": ["models/water.onnx"],
        "bbox": BBOX,
        "mlm": MLM,
        "license": "MIT",
    }

    # When the UI asks for a dry run
    response = await post_publish(jp_fetch, {**body, "dry_run": True})

    # Then it gets the plan: the item, the files and their sizes; nothing is written
    plan = json.loads(response.body)
    assert plan["collection"] == "ai-model"
    assert plan["item"]["properties"]["mlm:architecture"] == "logistic regression"
    sizes = {f["path"]: f["size"] for f in plan["files"]}
    assert sizes["water.onnx"] == (workspace[0] / "models" / "water.onnx").stat().st_size
    assert not (embedded_store() / plan["path"]).exists()

    # When it publishes, streaming progress events
    response = await post_publish(jp_fetch, body, headers={"Accept": "application/x-ndjson"})

    # Then each line is an event, the last one the result with the catalog coordinates
    lines = [json.loads(line) for line in response.body.decode().splitlines()]
    steps = [line["event"]["step"] for line in lines[:-1]]
    assert steps[0] == "check"
    assert "commit" in steps
    assert steps[-1] == "done"
    result = lines[-1]["result"]
    assert result["path"] == plan["path"]
    assert result["collection"] == "ai-model"
    assert "water.onnx" in result["committed"]
    secret = (embedded_store().parent / "webhook-secret").read_text()
    assert secret not in response.body.decode()  # the re-index secret stays server-side

    # And the catalog serves the new item through the extension's own route
    item = await jp_fetch(
        "jupyter-mlops", "catalog", "collections", "ai-model", "items", *plan["path"].split("/")
    )
    assert json.loads(item.body)["properties"]["mlm:name"] == plan["path"].rsplit("/", 1)[-1]

    # When the metadata is invalid
    with pytest.raises(HTTPClientError) as invalid:
        await post_publish(
            jp_fetch, {"name": "Bad", "files": ["models/water.onnx"], "mlm": {"tasks": ["x"]}}
        )
    # Then a 400 names the field
    error = json.loads(invalid.value.response.body)
    assert invalid.value.code == 400
    assert error["field"] == "mlm.architecture"
    assert error["reason"] == "invalid_metadata"

    # When a file is outside the workspace
    with pytest.raises(HTTPClientError) as outside:
        await post_publish(jp_fetch, {"name": "Bad", "kind": "dataset", "files": ["../x"]})
    assert json.loads(outside.value.response.body)["field"] == "files[0]"

    # When an unknown field is sent
    with pytest.raises(HTTPClientError) as unknown:
        await post_publish(jp_fetch, {"name": "Bad", "colour": "blue"})
    assert json.loads(unknown.value.response.body)["field"] == "colour"

    # When the request carries no Jupyter token, it is refused
    url = f"http://localhost:{jp_http_port}{jp_base_url}jupyter-mlops/publish"
    async with httpx.AsyncClient() as client:
        response = await client.post(url, json={"name": "x", "dry_run": True})
    assert response.status_code == 403


SOURCE = "demo/flood-mapping-threshold"


def register_water_model(project: str) -> tuple[str, str]:
    """Log an ONNX model in ``project``'s MLflow and register it, as a kernel would.

    Returns the registered model name and the version.
    """
    import mlflow
    import onnx

    from jupyter_mlops.tracking import configure, register

    tracking = configure(project, "water")
    with mlflow.start_run() as run:
        mlflow.onnx.log_model(onnx.load_from_string(logistic_regression_onnx()), name="model")
    registered = register(run.info.run_id, "water-clf", tracking_uri=tracking.tracking_uri)
    return registered.name, registered.version


@pytest.fixture
def kernel_like_mlflow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """MLflow settings that ``configure`` changes in this process, put back afterwards."""
    import mlflow

    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.chdir(tmp_path)  # MLflow 3 may write ./mlruns
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_AUTH")}
    previous = mlflow.get_tracking_uri()
    yield
    mlflow.set_tracking_uri(previous)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.mark.usefixtures("kernel_like_mlflow")
async def test_publish_route_reads_the_model_version_from_the_project_mlflow(
    jp_fetch: Fetch,
) -> None:
    info = await wait_ready(jp_fetch)
    assert info["mlflow_url"]
    # Given a model version registered in the MLflow of a demo model project
    name, version = await asyncio.to_thread(register_water_model, SOURCE)
    reference = f"models:/{name}/{version}"
    body = {"name": "Water from MLflow", "mlflow_model": reference, "mlm": MLM}

    # When the Publish panel plans it, naming the project whose MLflow holds it
    response = await post_publish(jp_fetch, {**body, "mlflow_project": SOURCE, "dry_run": True})

    # Then the version's artifacts are the files and the version is linked at its project
    plan = json.loads(response.body)
    assert {"model/MLmodel", "model/model.onnx"} <= {f["path"] for f in plan["files"]}
    assert plan["item"]["properties"]["mlm:input"][0]["input"]["shape"] == [-1, 4]
    [link] = [x for x in plan["item"]["links"] if x["rel"] == "mlflow:model"]
    assert link["mlflow:uri"] == reference
    tracking = f"{info['mlflow_url'].rstrip('/')}/{SOURCE}/tracking/"
    assert link["href"] == f"{tracking}#/models/{quote(name)}/versions/{version}"

    # When it publishes for real
    response = await post_publish(jp_fetch, {**body, "mlflow_project": SOURCE})

    # Then the ONNX file in the new project is the registered one, and it runs
    result = json.loads(response.body)
    onnx_file = embedded_store() / result["path"] / "model" / "model.onnx"
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    features, _ = training_data()
    labels = session.run(["label"], {"X": features[:20]})[0]
    np.testing.assert_array_equal(labels, logistic_regression().predict(features[:20]))

    # When no source project is named, the published project's own MLflow is read
    own = await post_publish(
        jp_fetch,
        {**body, "namespace": "demo", "path": SOURCE.split("/")[1], "dry_run": True},
    )
    assert "model/model.onnx" in {f["path"] for f in json.loads(own.body)["files"]}

    # When the version does not exist, a 400 names the field and nothing is written
    with pytest.raises(HTTPClientError) as missing:
        await post_publish(
            jp_fetch,
            {**body, "name": "Ghost", "mlflow_model": f"models:/{name}/99",
             "mlflow_project": SOURCE},
        )  # fmt: skip
    assert missing.value.code == 400
    assert json.loads(missing.value.response.body)["field"] == "mlflow_model"
    assert not any(embedded_store().glob("*/ghost"))
