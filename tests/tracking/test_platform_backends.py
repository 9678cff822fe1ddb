"""The platform deployment shape: PostgreSQL backend store and S3 artifacts served through the
layer (``--serve-artifacts``), driven by an upstream-style notebook flow."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import boto3
import numpy as np
import pytest
from moto.server import ThreadedMotoServer

from tests.tracking.conftest import (
    MlflowServer,
    as_token,
    free_port,
    start_mlflow,
    stop,
    token_of,
)

PG_BIN = Path("/usr/lib/postgresql/15/bin")
BUCKET = "mlflow-artifacts"
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _as_postgres_user(*command: str) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as ``nobody`` when we are root."""
    return ["runuser", "-u", "nobody", "--", *command] if os.geteuid() == 0 else list(command)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL 15 cluster on a free loopback port (fails if PG is missing)."""
    if not (PG_BIN / "initdb").exists():
        pytest.fail(
            f"PostgreSQL server binaries not found in {PG_BIN} (apt-get install postgresql)"
        )
    work = Path(tempfile.mkdtemp(prefix="mlflow-pg-"))
    if os.geteuid() == 0:
        shutil.chown(work, "nobody")
    data = work / "data"
    port = free_port()
    subprocess.run(
        _as_postgres_user(str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"),
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {work} -c listen_addresses=127.0.0.1 -c fsync=off"
    pg_ctl = [str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(work / "pg.log")]
    subprocess.run(
        _as_postgres_user(*pg_ctl, "-o", options, "-w", "start"), check=True, capture_output=True
    )
    try:
        subprocess.run(
            _as_postgres_user(
                str(PG_BIN / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                "mlflow",
            ),
            check=True,
            capture_output=True,
        )
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/mlflow"
    finally:
        subprocess.run(_as_postgres_user(*pg_ctl, "-m", "fast", "stop"), check=False)
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server (the S3-compatible test server) with an empty bucket."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    url = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=url, **_boto_credentials()).create_bucket(Bucket=BUCKET)
    try:
        yield url
    finally:
        server.stop()


def _boto_credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": S3_ENV["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": S3_ENV["AWS_SECRET_ACCESS_KEY"],
        "region_name": S3_ENV["AWS_DEFAULT_REGION"],
    }


@pytest.fixture(scope="module")
def platform_mlflow(
    sharinghub: str, postgres_url: str, s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MlflowServer]:
    work = tmp_path_factory.mktemp("platform-mlflow")
    process, server = start_mlflow(
        work,
        sharinghub,
        postgres_url,
        f"s3://{BUCKET}/",
        {**S3_ENV, "MLFLOW_S3_ENDPOINT_URL": s3_endpoint},
    )
    try:
        yield server
    finally:
        stop(process)


def test_notebook_flow_on_postgres_and_s3(
    platform_mlflow: MlflowServer, s3_endpoint: str, tmp_path: Path
) -> None:
    import mlflow
    from mlflow import MlflowClient
    from sklearn.linear_model import LinearRegression

    # Given a developer's notebook pointed at the project tracking URI with a GitLab token
    mlflow.set_tracking_uri(platform_mlflow.tracking_uri("team/private-model"))
    features = np.arange(20, dtype=float).reshape(10, 2)
    target = features @ np.array([1.5, -2.0]) + 0.5
    with as_token(token_of("developer")):
        # When it runs the upstream flow: named experiment, params, metrics, model, register
        experiment = mlflow.set_experiment("wine (13)")
        with mlflow.start_run() as run:
            model = LinearRegression().fit(features, target)
            mlflow.log_params({"fit_intercept": True})
            mlflow.log_metrics({"r2": float(model.score(features, target))})
            info = mlflow.sklearn.log_model(
                model, name="model", pip_requirements=["scikit-learn"], input_example=features[:2]
            )
        version = mlflow.register_model(info.model_uri, "wine regressor (13)")
        client = MlflowClient()
        client.set_registered_model_alias("wine regressor (13)", "champion", version.version)
        loaded = mlflow.pyfunc.load_model("models:/wine regressor (13)@champion")
        prediction = loaded.predict(features[:3])
        logged = client.get_run(run.info.run_id)
    mlflow.set_tracking_uri("")

    # Then the run, tag, model and alias live in PostgreSQL, the files in S3, and the model
    # loads back through the layer
    assert experiment.tags["project"] == "team/private-model"
    assert logged.data.metrics["r2"] == pytest.approx(1.0)
    assert np.allclose(prediction, target[:3])
    keys = [
        item["Key"]
        for item in boto3.client("s3", endpoint_url=s3_endpoint, **_boto_credentials())
        .list_objects_v2(Bucket=BUCKET)
        .get("Contents", [])
    ]
    assert any(key.endswith("MLmodel") for key in keys)
    assert any(key.startswith(f"{experiment.experiment_id}/") for key in keys)


def test_reporter_cannot_write_on_postgres_backend(platform_mlflow: MlflowServer) -> None:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    # Given a reporter on the same platform
    client = MlflowClient(tracking_uri=platform_mlflow.tracking_uri("team/private-model"))
    with as_token(token_of("reporter")), pytest.raises(MlflowException) as caught:
        # When they try to create an experiment
        client.create_experiment("reporter (13)")
    # Then the layer refuses it whatever the backend
    assert caught.value.get_http_status_code() == 403
