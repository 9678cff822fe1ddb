"""Real JupyterLab (the installed wheel's prebuilt extension) on the embedded platform, driven
by the system Chromium through Playwright. No browser is ever downloaded."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("PW_CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOKEN = "ui-test-token"  # a throwaway token of a loopback test server
ARTIFACTS = Path(os.environ.get("MLOPS_UI_ARTIFACTS", "test-results/ui")).resolve()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_FLAGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": {"width": 1400, "height": 900}}


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_lab(
    root: Path, data: Path, log_path: Path, extra_args: tuple[str, ...] = ()
) -> Iterator[str]:
    """Run ``jupyter lab`` with jupyter-mlops over the embedded platform kept in ``data``.

    An empty ``data`` gets the demo store; a test that needs its own projects writes the store
    (``data/projects``) before starting. ``extra_args`` go to ``jupyter lab`` (e.g. a
    ``--JupyterMLOps.sharinghub_url`` that replaces the embedded platform).
    """
    port = _free_port()
    env = {**os.environ, "MLOPS_EMBEDDED_DATA_DIR": str(data), "JUPYTER_PLATFORM_DIRS": "1"}
    log = log_path.open("wb")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
            f"--port={port}", "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}",
            "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            # MLflow's first database migration is slow on busy shared cores.
            "--JupyterMLOps.embedded_start_timeout=240",
            *extra_args,
        ],
        env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    status = f"http://127.0.0.1:{port}/api/status?token={TOKEN}"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(status, timeout=2)
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"JupyterLab did not start; see {log.name}") from None
            time.sleep(0.5)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="session")
def lab_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start ``jupyter lab`` with jupyter-mlops on a fresh embedded platform."""
    root = tmp_path_factory.mktemp("lab-root")
    data = tmp_path_factory.mktemp("mlops-data")
    log = tmp_path_factory.mktemp("lab-log") / "lab.log"
    with running_lab(root, data, log) as url:
        yield url


@pytest.fixture(autouse=True)
def jp_asyncio_loop() -> None:
    """Disable pytest-jupyter's event loop here: Playwright's sync API runs its own."""


@pytest.fixture(autouse=True)
def jp_server_cleanup() -> None:
    """No in-process Jupyter server here: JupyterLab runs as a subprocess."""
