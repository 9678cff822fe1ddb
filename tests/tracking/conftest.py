"""Fixtures: a SharingHub check-API double, the real catalog, and real ``mlflow server``
processes running the ``sharinghub`` app plugin, all over HTTP on loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.processes import stop, wait_http

PROJECTS = {
    "public": {"id": 11, "path": "team/public-model", "visibility": "public"},
    "internal": {"id": 12, "path": "team/internal-model", "visibility": "internal"},
    "private": {"id": 13, "path": "team/private-model", "visibility": "private"},
}
DATASET = {"id": 14, "path": "team/a-dataset", "visibility": "public"}
ROLES = {"guest": 1, "reporter": 2, "developer": 3, "maintainer": 4}
OUTSIDER = "outsider-token"


def token_of(role: str) -> str:
    return f"{role}-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(process: subprocess.Popen[bytes], url: str, log: Path, seconds: float = 60) -> None:
    """Wait until ``url`` answers anything but a server error."""
    wait_http(url, process, log, seconds, ready=lambda status: status < 500)


def base_env() -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }


@pytest.fixture(scope="session")
def sharinghub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The check-API double: three ai-model projects (one per visibility) and a dataset."""
    work = tmp_path_factory.mktemp("double")
    projects = [{**p, "categories": ["ai-model"]} for p in PROJECTS.values()]
    projects.append({**DATASET, "categories": ["dataset"]})
    members = {
        token_of(role): {p["path"]: level for p in projects} for role, level in ROLES.items()
    }
    members[OUTSIDER] = {}
    config = work / "config.json"
    config.write_text(json.dumps({"projects": projects, "members": members}))
    port = free_port()
    log = work / "double.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "--port", str(port),
             "tests.tracking.sharinghub_double:create_app"],
            stdout=out, stderr=subprocess.STDOUT, cwd=Path(__file__).parents[2],
            env={**base_env(), "DOUBLE_CONFIG": str(config)},
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(process, f"{url}/calls", log)
        yield url
    finally:
        stop(process)


@dataclass
class MlflowServer:
    url: str
    log: Path

    def tracking_uri(self, project_path: str | None) -> str:
        return f"{self.url}/{project_path}/tracking/" if project_path else f"{self.url}/"


def start_mlflow(
    work: Path,
    sharinghub_url: str,
    backend: str,
    artifacts: str,
    extra_env: dict[str, str] | None = None,
    port: int | None = None,
) -> tuple[subprocess.Popen[bytes], MlflowServer]:
    port = port or free_port()
    log = work / "mlflow.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--app-name", "sharinghub",
             "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
             "--backend-store-uri", backend, "--serve-artifacts",
             "--artifacts-destination", artifacts],
            stdout=out, stderr=subprocess.STDOUT, cwd=work,
            env={**base_env(), "SHARINGHUB_URL": sharinghub_url, "PROJECT_CACHE_TIMEOUT": "5",
                 **(extra_env or {})},
        )  # fmt: skip
    server = MlflowServer(f"http://127.0.0.1:{port}", log)
    wait_ready(process, f"{server.url}/health", log, seconds=240)
    return process, server


@pytest.fixture(scope="session")
def mlflow_server(
    sharinghub: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MlflowServer]:
    """``mlflow server --app-name sharinghub`` on SQLite with local proxied artifacts."""
    work = tmp_path_factory.mktemp("mlflow")
    process, server = start_mlflow(
        work, sharinghub, f"sqlite:///{work / 'mlflow.db'}", str(work / "artifacts")
    )
    try:
        yield server
    finally:
        stop(process)


# -- the embedded platform: ``mlops-server serve --mlflow`` over the demo store -------------

MODEL_PROJECT = "demo/eurosat-lulc-classifier"  # id 101, ai-model, public
DATASET_PROJECT = "demo/eurosat-dataset"
PRIVATE_PROJECT = "lab/private-model"  # id 950, ai-model, private


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo store plus a hand-written private model project."""
    root = tmp_path_factory.mktemp("store")
    done = subprocess.run(
        [sys.executable, "-m", "mlops_server", "demo", str(root), "--force"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    private = root / PRIVATE_PROJECT
    private.mkdir(parents=True)
    (private / "mlops-project.yaml").write_text(
        "id: 950\nname: Private model\ntopics: [sharinghub:aimodel]\nvisibility: private\n"
        "created_at: 2024-01-01T00:00:00Z\n"
    )
    (private / "README.md").write_text("# Private model\n")
    return root


@pytest.fixture(scope="session")
def platform(store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``mlops-server serve --mlflow`` on a free loopback port."""
    port = free_port()
    log = tmp_path_factory.mktemp("embedded") / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "mlops_server", "serve", "--projects", str(store),
             "--port", str(port), "--mlflow"],
            stdout=out, stderr=subprocess.STDOUT, env=base_env(),
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(process, f"{url}/mlflow/health", log, seconds=240)
        yield url
    finally:
        stop(process)


@dataclass
class Seed:
    """Objects made by a maintainer in one project, for other roles to act on."""

    project_id: int
    path: str
    experiment_id: str
    run_id: str
    model: str
    victims: dict[str, str]  # role -> a run that role tries to delete


@pytest.fixture(scope="session", autouse=True)
def _mlflow_client_env() -> Iterator[None]:
    saved = {
        k: os.environ.get(k) for k in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_TRACKING_TOKEN")
    }
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


class as_token:
    """Set ``MLFLOW_TRACKING_TOKEN`` (``None``: anonymous) for the MLflow calls inside."""

    def __init__(self, token: str | None) -> None:
        self.token = token

    def __enter__(self) -> None:
        self.saved = os.environ.pop("MLFLOW_TRACKING_TOKEN", None)
        if self.token is not None:
            os.environ["MLFLOW_TRACKING_TOKEN"] = self.token

    def __exit__(self, *exc: object) -> None:
        os.environ.pop("MLFLOW_TRACKING_TOKEN", None)
        if self.saved is not None:
            os.environ["MLFLOW_TRACKING_TOKEN"] = self.saved


@pytest.fixture(scope="session")
def seeds(mlflow_server: MlflowServer) -> dict[str, Seed]:
    """In each project: an experiment, a run with a param, a metric and ``file.txt``, a
    registered model with version 1, and one run per role to try deleting."""
    from mlflow import MlflowClient

    made: dict[str, Seed] = {}
    with as_token(token_of("maintainer")):
        for visibility, project in PROJECTS.items():
            client = MlflowClient(tracking_uri=mlflow_server.tracking_uri(project["path"]))
            pid = project["id"]
            experiment_id = client.create_experiment(f"seed ({pid})")
            run = client.create_run(experiment_id)
            client.log_param(run.info.run_id, "alpha", "0.5")
            client.log_metric(run.info.run_id, "rmse", 0.7)
            client.log_text(run.info.run_id, "hello", "file.txt")
            client.set_terminated(run.info.run_id)
            model = f"seed model ({pid})"
            client.create_registered_model(model)
            client.create_model_version(model, f"{run.info.artifact_uri}", run_id=run.info.run_id)
            victims = {
                role: client.create_run(experiment_id).info.run_id
                for role in [*ROLES, "anonymous", "outsider"]
            }
            made[visibility] = Seed(
                pid, str(project["path"]), experiment_id, run.info.run_id, model, victims
            )
    return made
