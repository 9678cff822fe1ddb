"""Fixtures for the notebook experience: the embedded platform (``mlops-server serve --mlflow``
over the demo store, catalog and MLflow on one loopback port) and an IPython shell with
``%load_ext jupyter_mlops`` pointed at it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

from tests.tracking.conftest import base_env, free_port, stop, wait_ready


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The embedded platform as Jupyter starts it, with the demo projects."""
    work = tmp_path_factory.mktemp("embedded")
    store = work / "projects"
    subprocess.run(
        [sys.executable, "-m", "mlops_server", "demo", str(store), "--force"],
        check=True, capture_output=True,
    )  # fmt: skip
    port = free_port()
    log = work / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "mlops_server", "serve", "--projects", str(store),
             "--port", str(port), "--mlflow", "--mlflow-data", str(work / "mlflow")],
            stdout=out, stderr=subprocess.STDOUT, env=base_env(),
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(process, f"{url}/mlflow/health", log, seconds=240)
        yield url
    finally:
        stop(process)


@pytest.fixture
def platform_env(platform: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """This process (and its children) see the embedded platform, and no ambient token."""
    monkeypatch.setenv("MLOPS_SHARINGHUB_URL", platform)
    monkeypatch.setenv("MLOPS_MLFLOW_URL", f"{platform}/mlflow")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("MLOPS_CREDENTIALS_PATH", str(tmp_path / "credentials.json"))
    monkeypatch.setenv("MLOPS_SPOOL_DIR", str(tmp_path / "spool"))
    for name in ("MLOPS_TOKEN", "GITLAB_TOKEN", "MLOPS_PLATFORM_FILE", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    return platform


@pytest.fixture
def shell(platform_env: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    import mlflow

    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "jupyter_mlops")
    yield ip
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri("")
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_AUTH", "MLFLOW_EXPERIMENT_ID"):
        os.environ.pop(name, None)  # %mlops track sets them for the kernel's children
    InteractiveShell.clear_instance()
