"""Fixtures for the notebook experience: the embedded platform (``mlops-server serve --mlflow``
over the demo store, catalog and MLflow on one loopback port), an IPython shell with
``%load_ext jupyter_mlops`` pointed at it, and a GitLab double to publish to."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

from tests.gitlab_double import GitLabDouble, User
from tests.tracking import conftest as tracking

# The embedded platform (``mlops-server serve --mlflow`` over the demo store, session-wide),
# shared with the tracking tests.
store = tracking.store
platform = tracking.platform

#: GitLab token of the user who publishes in these tests (must never be shown).
PUBLISHER_TOKEN = "carol-secret-token"


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


@pytest.fixture
def gitlab_publisher(platform_env: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[GitLabDouble]:
    """A GitLab double with user ``carol`` (no project yet), her token in the environment."""
    with GitLabDouble([User("carol", tokens=[PUBLISHER_TOKEN])], []) as double:
        monkeypatch.setenv("MLOPS_GITLAB_URL", double.url)
        monkeypatch.setenv("GITLAB_TOKEN", PUBLISHER_TOKEN)
        yield double
