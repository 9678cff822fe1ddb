"""The Binder demo, as repo2docker builds and starts it, in a fresh virtual environment.

repo2docker installs ``environment.yml`` (Python 3.11, Node.js 20, pip), runs ``binder/postBuild``
from the repository root, then starts JupyterLab. Here: a copy of the local checkout (tracked and
new files, as a ``git clone`` of the working tree would give), a new venv standing in for the
conda environment, the real ``postBuild`` (PyPI and npm reachable), then ``jupyter lab``; the
embedded platform must come up by itself and serve the demo projects.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.gitlab_double.server import free_port

ROOT = Path(__file__).resolve().parents[2]
BINDER = ROOT / "binder"
TOKEN = "binder-test-token"


def test_repo2docker_files_follow_the_conventions() -> None:
    # Given the binder folder repo2docker reads
    env = yaml.safe_load((BINDER / "environment.yml").read_text())
    post_build = BINDER / "postBuild"
    # Then the conda environment gives the Python and Node.js the build needs
    deps = [d for d in env["dependencies"] if isinstance(d, str)]
    assert "python=3.11" in deps
    assert any(d.startswith("nodejs") for d in deps)
    assert "pip" in deps
    # And postBuild is an executable bash script that stops at the first failing step
    assert os.access(post_build, os.X_OK)
    text = post_build.read_text()
    assert text.startswith("#!/usr/bin/env bash")
    assert "set -euxo pipefail" in text


def _copy_checkout(target: Path) -> None:
    """Tracked and untracked-but-not-ignored files of the working tree (no venv, no builds)."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for raw in listed:
        if not raw:
            continue
        source = ROOT / raw.decode()
        if not source.is_file():  # deleted in the working tree
            continue
        destination = target / raw.decode()
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)


def _get(url: str) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers={"Authorization": f"token {TOKEN}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, None


@pytest.fixture(scope="module")
def binder_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Build the Binder environment from scratch and start JupyterLab in it; yield its URL."""
    work = tmp_path_factory.mktemp("binder")
    repo, venv, home = work / "repo", work / "venv", work / "jupyter"
    _copy_checkout(repo)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MLOPS_", "GITLAB_", "JUPYTER", "VIRTUAL_ENV", "PYTHON"))
    }
    env.update(
        PATH=f"{venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}",
        VIRTUAL_ENV=str(venv),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        MLFLOW_DISABLE_TELEMETRY="true",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--upgrade", "pip"],
        env=env,
        check=True,
    )
    # When repo2docker's build step runs: the real postBuild, from the repository root
    build = subprocess.run(
        ["bash", "binder/postBuild"], cwd=repo, env=env, capture_output=True, text=True
    )
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    # The demo store was written where the embedded platform looks for it
    assert any((home / "data" / "jupyter_mlops" / "projects").iterdir())
    port = free_port()
    root_flag = ["--allow-root"] if os.geteuid() == 0 else []
    lab = subprocess.Popen(
        [
            str(venv / "bin" / "jupyter"),
            "lab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={TOKEN}",
            *root_flag,
        ],
        cwd=repo,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        try:
            lab.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(lab.pid, signal.SIGKILL)
            lab.wait()


def _wait_ready(base: str, deadline: float) -> dict[str, Any]:
    """Poll /jupyter-mlops/info until the embedded platform leaves ``starting``."""
    info: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            status, body = _get(f"{base}/jupyter-mlops/info")
        except (urllib.error.URLError, ConnectionError):
            status, body = 0, None  # JupyterLab still starting
        if status == 200 and body:
            info = body
            if info.get("status") not in (None, "starting"):
                return info
        time.sleep(1)
    return info


@pytest.mark.slow
def test_binder_build_opens_jupyterlab_on_the_embedded_platform(binder_lab: str) -> None:
    # Given the Binder image built by postBuild and JupyterLab started in it
    # When the extension's info route is asked (it starts the embedded platform)
    info = _wait_ready(binder_lab, time.monotonic() + 300)
    # Then the embedded platform is ready, without any platform configured
    assert info.get("status") == "ready", info
    assert info["embedded"] is True
    # And the extension's frontend is installed in JupyterLab (the sidebar can load)
    status, _ = _get(f"{binder_lab}/lab/api/settings/jupyter-mlops:plugin")
    assert status == 200
    # And a catalog search through the extension returns the demo models and datasets
    status, found = _get(f"{binder_lab}/jupyter-mlops/catalog/search?limit=50")
    assert status == 200
    collections = {feature["collection"] for feature in found["features"]}
    assert {"ai-model", "dataset"} <= collections
