"""Fixtures for the server extension tests: a real Jupyter server (pytest-jupyter) with
jupyter-mlops enabled and authentication enforced, on an embedded platform whose data folder is
shared by the whole session (the demo store is written once)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tornado.httpclient import HTTPClientError

from jupyter_mlops.embedded import free_loopback_port

from .secret_scan import SecretScan, scanning

Fetch = Callable[..., Awaitable[Any]]


@pytest.fixture(scope="session", autouse=True)
def secret_scan() -> Iterator[SecretScan]:
    """Fail the run if any credential handed out during it shows up in a response or a log."""
    with scanning() as scan:
        yield scan
    leaks = scan.leaks()
    assert not leaks, "tokens leaked:\n" + "\n".join(leaks)


@pytest.fixture
def jp_fetch(jp_fetch: Fetch, secret_scan: SecretScan) -> Fetch:
    """pytest-jupyter's jp_fetch, with every response (errors included) kept for the scan."""

    async def fetch(*args: Any, **kwargs: Any) -> Any:
        try:
            response = await jp_fetch(*args, **kwargs)
        except HTTPClientError as error:
            if error.response is not None:
                secret_scan.record_response(error.response)
            raise
        secret_scan.record_response(response)
        return response

    return fetch


@pytest.fixture(scope="session")
def embedded_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embedded-platform")


@pytest.fixture(autouse=True)
def no_ambient_tokens(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests decide which token sources exist: none from the developer's environment."""
    for name in ("MLOPS_TOKEN", "GITLAB_TOKEN", "JUPYTERHUB_API_URL", "JUPYTERHUB_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLOPS_CREDENTIALS_PATH", str(tmp_path / "credentials.json"))


@pytest.fixture
def mlops_config(embedded_data_dir: Path) -> dict[str, Any]:
    """The JupyterMLOps section of the server config; tests override it to change platforms."""
    return {"embedded_data_dir": str(embedded_data_dir), "embedded_start_timeout": 180.0}


@pytest.fixture(scope="session")
def remote_catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A separately started mlops-server standing in for a remote SharingHub."""
    store = tmp_path_factory.mktemp("remote") / "projects"
    subprocess.run([sys.executable, "-m", "mlops_server", "demo", str(store)], check=True)
    port = free_loopback_port()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "mlops_server", "serve", "--projects", str(store)),
            *("--port", str(port), "--mlflow-url", "http://mlflow.invalid/mlflow"),
        ],
        # Registered models are pulled from a loopback port nothing listens on (no DNS).
        env={
            **os.environ,
            "MLOPS_MLFLOW_INTERNAL_URL": f"http://127.0.0.1:{free_loopback_port()}/mlflow",
        },
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/status").status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    yield url
    process.terminate()
    process.wait(timeout=20)


@pytest.fixture
def jp_server_config(mlops_config: dict[str, Any]) -> dict[str, Any]:
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_mlops": True},
            "allow_unauthenticated_access": False,
        },
        "JupyterMLOps": mlops_config,
    }


async def wait_ready(jp_fetch: Fetch, wait_seconds: float = 200.0) -> dict[str, Any]:
    """Poll /jupyter-mlops/info until the platform left the 'starting' state."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    while True:
        response = await jp_fetch("jupyter-mlops", "info")
        info: dict[str, Any] = json.loads(response.body)
        if info["status"] != "starting" or loop.time() > deadline:
            return info
        await asyncio.sleep(0.25)
