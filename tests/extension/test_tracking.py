"""Tracking conventions and the MLflow proxy, against a real ``mlflow server``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tornado.httpclient import HTTPClientError

from jupyter_mlops.embedded import free_loopback_port
from jupyter_mlops.errors import BadRequestError
from jupyter_mlops.tracking import display_name, project_name, tracking_uri

from .conftest import Fetch, wait_ready


def test_tracking_uri_is_per_project() -> None:
    assert (
        tracking_uri("https://sh/mlflow/", "team/wine") == "https://sh/mlflow/team/wine/tracking/"
    )
    assert tracking_uri("http://h/mlflow", "a b/c") == "http://h/mlflow/a%20b/c/tracking/"
    with pytest.raises(BadRequestError):
        tracking_uri("http://h/mlflow", "team/../admin")


def test_project_names_get_the_suffix_once() -> None:
    assert project_name("wine", 42) == "wine (42)"
    assert project_name("wine (42)", 42) == "wine (42)"
    assert project_name("  my run  ", 7) == "my run (7)"
    assert display_name("wine (42)") == "wine"
    with pytest.raises(BadRequestError) as raised:
        project_name("wine (41)", 42)
    assert raised.value.reason == "wrong_project"


def test_auth_provider_sends_a_fresh_token_as_bearer(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given: MLflow's registry finds our provider through its entry point
    from mlflow.tracking.request_auth.registry import fetch_auth

    monkeypatch.setenv("MLOPS_TOKEN", "first-token")
    auth = fetch_auth("jupyter-mlops")
    request = httpx.Request("GET", "http://x")  # any object with .headers works

    # When: the token changes between two requests
    first = auth(request).headers["Authorization"]
    monkeypatch.setenv("MLOPS_TOKEN", "rotated-token")
    second = auth(httpx.Request("GET", "http://x")).headers["Authorization"]

    # Then
    assert (first, second) == ("Bearer first-token", "Bearer rotated-token")


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A plain MLflow 3 server (SQLite) standing in for the read-only global view."""
    data = tmp_path_factory.mktemp("mlflow")
    port = free_loopback_port()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port)),
            *("--backend-store-uri", f"sqlite:///{data / 'mlflow.db'}"),
            *("--default-artifact-root", str(data / "artifacts"), "--workers", "1"),
        ],
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # mlflow server runs uvicorn as a child: stop the whole group
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240  # MLflow migrates its database first: slow on 2 busy cores
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("mlflow server did not start") from None
            time.sleep(0.3)
    yield url
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class TestMLflowProxy:
    @pytest.fixture
    def mlops_config(self, remote_catalog: str, mlflow_server: str) -> dict[str, Any]:
        return {"sharinghub_url": remote_catalog, "mlflow_url": mlflow_server}

    async def test_read_and_create_through_the_proxy(self, jp_fetch: Fetch) -> None:
        # Given
        await wait_ready(jp_fetch)
        route = ("jupyter-mlops", "mlflow", "api", "2.0", "mlflow")

        # When
        created = await jp_fetch(
            *route, "experiments", "create", method="POST", body=json.dumps({"name": "proxied"})
        )
        found = await jp_fetch(
            *route, "experiments", "search", method="POST", body=json.dumps({"max_results": 10})
        )

        # Then
        experiment_id = json.loads(created.body)["experiment_id"]
        names = {e["name"]: e["experiment_id"] for e in json.loads(found.body)["experiments"]}
        assert names["proxied"] == experiment_id

    @pytest.mark.parametrize(
        ("method", "endpoint"),
        [("POST", "runs/delete"), ("GET", "users/get"), ("POST", "experiments/delete")],
    )
    async def test_endpoints_off_the_allow_list_are_404(
        self, jp_fetch: Fetch, method: str, endpoint: str
    ) -> None:
        # Given
        await wait_ready(jp_fetch)

        # When
        with pytest.raises(HTTPClientError) as raised:
            await jp_fetch(
                "jupyter-mlops", "mlflow", "api", "2.0", "mlflow", *endpoint.split("/"),
                method=method, body=json.dumps({}) if method == "POST" else None,
            )  # fmt: skip

        # Then
        assert raised.value.code == 404

    async def test_mlflow_errors_keep_their_meaning(self, jp_fetch: Fetch) -> None:
        # Given
        await wait_ready(jp_fetch)

        # When
        with pytest.raises(HTTPClientError) as raised:
            await jp_fetch(
                "jupyter-mlops", "mlflow", "api", "2.0", "mlflow", "experiments", "get",
                params={"experiment_id": "999999"},
            )  # fmt: skip

        # Then
        body = json.loads(raised.value.response.body)
        assert raised.value.code == 404
        assert body["reason"] == "resource_does_not_exist"
