"""Registered models in the project's STAC item: ``mlflow:model`` links and model assets,
pulled by the catalog from MLflow as the caller, for MLflow 3 and MLflow 2-style sources.

Two real setups: the embedded ``mlops-server serve --mlflow`` (one process), and a separate
``mlflow server --app-name sharinghub`` next to a catalog over a GitLab test double.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient
from mlops_server.tracking.stac import fetch_model_links, logged_model_id, model_file
from sklearn.linear_model import LinearRegression

from tests.gitlab_double import DEVELOPER, GUEST, GitLabDouble, Project, User
from tests.tracking.conftest import (
    OUTSIDER,
    MlflowServer,
    Seed,
    as_token,
    base_env,
    free_port,
    start_mlflow,
    stop,
    token_of,
    wait_ready,
)

EMBEDDED_PROJECT = "demo/flood-mapping-threshold"  # id 103, ai-model, public
ITEM = "/api/stac/collections/ai-model/items/"


def _model_links(item: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {link["title"]: link for link in item["links"] if link["rel"] == "mlflow:model"}


def _tracking_uri(item: dict[str, Any]) -> str:
    [uri] = [link["href"] for link in item["links"] if link["rel"] == "mlflow:tracking-uri"]
    return str(uri)


def _wait_for_links(
    get: Any, url: str, count: int, seconds: float = 30
) -> tuple[httpx.Response, dict[str, Any]]:
    """GET the item until it shows ``count`` model links (the catalog caches a few seconds)."""
    deadline = time.monotonic() + seconds
    while True:
        answer = get(url)
        assert answer.status_code == 200, answer.text
        item = answer.json()
        if len(_model_links(item)) >= count or time.monotonic() > deadline:
            return answer, item
        time.sleep(0.5)


def _fitted() -> LinearRegression:
    features = np.array([[0.1], [0.4], [0.8], [1.0]])
    return LinearRegression().fit(features, features[:, 0] * 2)


def test_the_model_file_is_read_from_mlmodel_flavors() -> None:
    # Given MLmodel documents of a scikit-learn model, an ONNX model and a folder-only flavor
    sklearn = {"flavors": {"python_function": {"model_path": "model.skops"}, "sklearn": {}}}
    onnx = {"flavors": {"onnx": {"data": "model.onnx"}, "python_function": {"env": {}}}}
    folder = {"flavors": {"python_function": {"data": "data"}, "pytorch": {"model_data": "data"}}}

    # When the model file is looked up
    found = [model_file(document) for document in (sklearn, onnx, folder, {})]

    # Then files are found in python_function first, then other flavors; folders are skipped
    assert found == ["model.skops", "model.onnx", None, None]


def test_logged_model_ids_are_found_in_mlflow_3_sources() -> None:
    # Given version sources of each kind
    sources = [
        "models:/m-0123abcd",
        "mlflow-artifacts:/4/models/m-0123abcd/artifacts",
        "s3://bucket/4/models/m-0123abcd/artifacts/",
        "mlflow-artifacts:/4/5e0405c5/artifacts/model",
        "runs:/5e0405c5/model",
    ]

    # When the logged model id is looked for
    found = [logged_model_id(source) for source in sources]

    # Then MLflow 3 sources name it and run sources do not
    assert found == ["m-0123abcd", "m-0123abcd", "m-0123abcd", None, None]


def test_models_of_a_project_become_links_with_run_and_asset(
    mlflow_server: MlflowServer, seeds: dict[str, Seed]
) -> None:
    # Given the private project's registered model (version 1 made from a run's artifacts; the
    # permission tests of this session may have added versions: the newest one is linked)
    seed = seeds["private"]
    uri = mlflow_server.tracking_uri(seed.path)
    with as_token(token_of("maintainer")):
        versions = MlflowClient(tracking_uri=uri).search_model_versions(f"name = '{seed.model}'")
    newest = max(versions, key=lambda version: int(version.version))

    # When the catalog pulls links with a reporter's token, and with an outsider's
    found = fetch_model_links(uri, "https://hub.example/mlflow/x/tracking/", token_of("reporter"))
    hidden = fetch_model_links(uri, None, OUTSIDER)

    # Then the reporter gets the version as an mlflow:model link with its run, hrefs on the
    # public URI, and (no MLmodel in that source) an MLmodel asset; the outsider gets nothing
    assert found is not None
    links, assets = found
    [link] = links
    assert link["mlflow:uri"] == f"models:/{seed.model}/{newest.version}"
    assert link["mlflow:run_id"] == newest.run_id
    assert link["href"].startswith("https://hub.example/mlflow/x/tracking/#/models/")
    assert link["title"] == f"seed model v{newest.version}"
    [asset] = assets.values()
    assert asset["href"].startswith("https://hub.example/mlflow/x/tracking/model-versions/")
    assert hidden is None


# -- embedded platform ----------------------------------------------------------------------


@dataclass
class Registered:
    run_id: str
    classic_bytes: bytes  # the model file of the MLflow 2-style (plain artifacts) model


@pytest.fixture(scope="module")
def registered(platform: str, tmp_path_factory: pytest.TempPathFactory) -> Registered:
    """Models registered four ways in the embedded platform by the local user (no token)."""
    saved = tmp_path_factory.mktemp("saved") / "classic"
    mlflow.sklearn.save_model(_fitted(), str(saved))
    mlflow.set_tracking_uri(f"{platform}/mlflow/{EMBEDDED_PROJECT}/tracking/")
    try:
        with as_token(None):
            mlflow.set_experiment("floods (103)")
            with mlflow.start_run() as run:
                # MLflow 3: a logged model registered as models:/m-... (versions 1 and 2)
                logged = mlflow.sklearn.log_model(
                    _fitted(), name="model", registered_model_name="logged (103)"
                )
                # MLflow 2 style: a saved model folder logged as plain run artifacts
                mlflow.log_artifacts(str(saved), "classic")
            mlflow.register_model(logged.model_uri, "logged (103)")
            mlflow.register_model(f"runs:/{run.info.run_id}/classic", "runs (103)")
            client = MlflowClient()
            client.create_registered_model("artifacts (103)")
            client.create_model_version(
                "artifacts (103)", f"{run.info.artifact_uri}/classic", run_id=run.info.run_id
            )
            # MLflow 3: the logged model's artifact location, with the model id and no run
            location = client.get_logged_model(logged.model_id).artifact_location
            client.create_registered_model("logged artifacts (103)")
            client.create_model_version(
                "logged artifacts (103)", location, model_id=logged.model_id
            )
    finally:
        mlflow.set_tracking_uri("")
    model_file = next(p for p in saved.iterdir() if p.name.startswith("model."))
    return Registered(run.info.run_id, model_file.read_bytes())


def test_embedded_item_shows_registered_models_of_every_source(
    platform: str, registered: Registered
) -> None:
    # Given models registered through the embedded platform from four kinds of source
    url = f"{platform}{ITEM}{EMBEDDED_PROJECT}"

    # When the local user reads the project's item
    _, item = _wait_for_links(httpx.get, url, 4)

    # Then each registered model has one mlflow:model link (its newest version) with the run
    # that made it, pointing into the project's tracking URI, and a downloadable model asset
    tracking = _tracking_uri(item)
    links = _model_links(item)
    assert sorted(links) == ["artifacts v1", "logged artifacts v1", "logged v2", "runs v1"]
    assert links["logged v2"]["mlflow:uri"] == "models:/logged (103)/2"
    for link in links.values():
        assert link["mlflow:run_id"] == registered.run_id
        assert link["href"].startswith(f"{tracking}#/models/")
    model_assets = {
        key: asset for key, asset in item["assets"].items() if "mlflow:model" in asset["roles"]
    }
    assert len(model_assets) == 4
    for asset in model_assets.values():
        assert asset["href"].startswith(f"{tracking}model-versions/get-artifact?")
        assert "data" in asset["roles"]
        downloaded = httpx.get(asset["href"])
        assert downloaded.status_code == 200, asset
        assert downloaded.content
    classic = next(a for a in model_assets.values() if a["title"].startswith("artifacts v1"))
    assert httpx.get(classic["href"]).content == registered.classic_bytes


def test_embedded_item_picks_up_a_new_version_within_seconds(
    platform: str, registered: Registered
) -> None:
    # Given an item already showing "runs v1"
    url = f"{platform}{ITEM}{EMBEDDED_PROJECT}"
    _, before = _wait_for_links(httpx.get, url, 4)
    assert "runs v1" in _model_links(before)

    # When a second version of that model is registered
    mlflow.set_tracking_uri(f"{platform}/mlflow/{EMBEDDED_PROJECT}/tracking/")
    try:
        with as_token(None):
            mlflow.register_model(f"runs:/{registered.run_id}/classic", "runs (103)")
    finally:
        mlflow.set_tracking_uri("")

    # Then, within the catalog's short cache time, the item links the new version instead
    deadline = time.monotonic() + 30
    while "runs v2" not in _model_links(httpx.get(url).json()) and time.monotonic() < deadline:
        time.sleep(0.5)
    links = _model_links(httpx.get(url).json())
    assert "runs v2" in links
    assert "runs v1" not in links


# -- separate MLflow server next to a catalog over GitLab -----------------------------------

LAB_PROJECT = "lab/wine-model"
SERVICE = "svc-token"


@dataclass
class Platform:
    catalog: str
    mlflow: str
    project_id: int


@pytest.fixture(scope="module")
def gitlab_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """GitLab double + ``mlops-server serve --gitlab-url`` + ``mlflow server --app-name
    sharinghub`` whose ``SHARINGHUB_URL`` is that catalog (and the catalog's MLflow URL)."""
    users = [User("root", [SERVICE], admin=True), User("outsider", [OUTSIDER])]
    users += [User(role, [token_of(role)]) for role in ("developer", "guest")]
    project = Project(
        LAB_PROJECT,
        visibility="private",
        topics=["sharinghub:aimodel"],
        files={"README.md": "---\ntitle: Wine model\n---\n# Wine model\n"},
        members={"developer": DEVELOPER, "guest": GUEST},
    )
    work = tmp_path_factory.mktemp("gitlab-platform")
    catalog_port, mlflow_port = free_port(), free_port()
    mlflow_url = f"http://127.0.0.1:{mlflow_port}"
    with GitLabDouble(users, [project]) as gitlab:
        log = work / "catalog.log"
        with log.open("w") as out:
            catalog = subprocess.Popen(
                [sys.executable, "-m", "mlops_server", "serve", "--gitlab-url", gitlab.url,
                 "--sync-interval", "0", "--port", str(catalog_port), "--mlflow-url", mlflow_url],
                stdout=out, stderr=subprocess.STDOUT,
                env={**base_env(), "MLOPS_GITLAB_TOKEN": SERVICE, "GITLAB_ALLOW_PUBLIC": "true",
                     "MLOPS_MLFLOW_MODELS_TTL": "2"},
            )  # fmt: skip
        catalog_url = f"http://127.0.0.1:{catalog_port}"
        try:
            wait_ready(catalog, f"{catalog_url}/status", log)
            process, server = start_mlflow(
                work,
                catalog_url,
                f"sqlite:///{work / 'mlflow.db'}",
                str(work / "artifacts"),
                port=mlflow_port,
            )
            try:
                check = httpx.get(
                    f"{catalog_url}/api/check/{LAB_PROJECT}",
                    params={"info": "true"},
                    headers={"X-Gitlab-Token": token_of("developer")},
                )
                assert check.status_code == 200, check.text
                yield Platform(catalog_url, server.url, int(check.json()["id"]))
            finally:
                stop(process)
        finally:
            stop(catalog)


def test_separate_mlflow_models_reach_the_catalog_item_without_tokens_in_hrefs(
    gitlab_platform: Platform,
) -> None:
    # Given a developer's upstream-style notebook flow on the private project
    pid = gitlab_platform.project_id
    uri = f"{gitlab_platform.mlflow}/{LAB_PROJECT}/tracking/"
    url = f"{gitlab_platform.catalog}{ITEM}{LAB_PROJECT}"
    developer = token_of("developer")
    mlflow.set_tracking_uri(uri)
    try:
        with as_token(developer):
            mlflow.set_experiment(f"wine ({pid})")
            with mlflow.start_run() as run:
                mlflow.sklearn.log_model(
                    _fitted(), name="model", registered_model_name=f"wine ({pid})"
                )
    finally:
        mlflow.set_tracking_uri("")

    # When the developer reads the item with the token in the query (upstream's habit), the
    # guest with the header, and an outsider tries
    def as_query(target: str) -> httpx.Response:
        return httpx.get(target, params={"gitlab_token": developer})

    def as_guest(target: str) -> httpx.Response:
        return httpx.get(target, headers={"X-Gitlab-Token": token_of("guest")})

    answer, item = _wait_for_links(as_query, url, 1)
    _, guest_item = _wait_for_links(as_guest, url, 1)
    outsider = httpx.get(url, headers={"X-Gitlab-Token": OUTSIDER})

    # Then both readers see the model link with its run, on the public tracking URI, and no
    # token appears anywhere in the item; the asset needs the reader's own credentials
    [link] = _model_links(item).values()
    assert link["mlflow:uri"] == f"models:/wine ({pid})/1"
    assert link["mlflow:run_id"] == run.info.run_id
    assert link["href"].startswith(f"{uri}#/models/")
    assert list(_model_links(guest_item)) == ["wine v1"]
    assert developer not in answer.text
    assert "gitlab_token" not in json.dumps(item)
    [asset] = [a for a in item["assets"].values() if "mlflow:model" in a["roles"]]
    with_token = httpx.get(asset["href"], headers={"Authorization": f"Bearer {developer}"})
    assert with_token.status_code == 200
    assert with_token.content
    assert httpx.get(asset["href"]).status_code == 401
    assert outsider.status_code == 404


def test_embedded_mlflow_is_refused_for_gitlab_with_a_clear_usage_error(tmp_path: Path) -> None:
    # Given a GitLab URL nobody listens on, and the embedded MLflow flag without a data folder
    env = {**os.environ, "MLOPS_GITLAB_TOKEN": SERVICE}

    # When the server is started
    done = subprocess.run(
        [sys.executable, "-m", "mlops_server", "serve", "--gitlab-url",
         f"http://127.0.0.1:{free_port()}", "--mlflow"],
        capture_output=True, text=True, timeout=120, check=False, env=env, cwd=tmp_path,
    )  # fmt: skip

    # Then it stops with a usage error that says what to run instead, before any GitLab call
    assert done.returncode == 2
    assert "--mlflow is the embedded single-user MLflow and needs a local store" in done.stderr
    assert "mlflow server --app-name sharinghub" in done.stderr
    assert "Traceback" not in done.stderr
