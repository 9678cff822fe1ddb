"""Admin configuration of jupyter-mlops, as traitlets.

A JupyterHub admin sets these in ``jupyter_server_config.py`` (``c.JupyterMLOps.sharinghub_url``)
or through environment variables. Secrets never live here: tokens come from the token sources.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_data_dir
from traitlets import Bool, Float, Unicode, default
from traitlets.config import Configurable


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


class JupyterMLOps(Configurable):
    """Where the platform is and how to reach it."""

    sharinghub_url = Unicode(
        None,
        allow_none=True,
        config=True,
        help="Base URL of the SharingHub-compatible catalog (e.g. https://sharinghub.example.org)."
        " Env: MLOPS_SHARINGHUB_URL. Unset: the embedded local platform is started.",
    )
    mlflow_url = Unicode(
        None,
        allow_none=True,
        config=True,
        help="Base URL of MLflow SharingHub. Env: MLOPS_MLFLOW_URL. Unset: discovered from the"
        " catalog's /api/config/.",
    )
    gitlab_url = Unicode(
        None,
        allow_none=True,
        config=True,
        help="Base URL of GitLab. Env: MLOPS_GITLAB_URL. Unset: discovered from /api/config/.",
    )
    embedded = Bool(
        True,
        config=True,
        help="Start the embedded local platform when no SharingHub URL is configured.",
    )
    embedded_data_dir = Unicode(
        config=True,
        help="Folder of the embedded platform: its project store and index."
        " Env: MLOPS_EMBEDDED_DATA_DIR.",
    )
    oauth_client_id = Unicode(
        None,
        allow_none=True,
        config=True,
        help="Application id of a GitLab OAuth application (PKCE, redirect URI"
        " <jupyter>/jupyter-mlops/oauth/callback) enabling 'Log in with GitLab'."
        " Env: MLOPS_OAUTH_CLIENT_ID. Its secret, if any, only from MLOPS_OAUTH_CLIENT_SECRET.",
    )
    credentials_path = Unicode(
        config=True,
        help="File (mode 0600) keeping a personal access token the user pasted."
        " Env: MLOPS_CREDENTIALS_PATH.",
    )
    embedded_start_timeout = Float(
        120.0, config=True, help="Seconds to wait for the embedded platform to become healthy."
    )
    request_timeout = Float(
        30.0, config=True, help="Timeout in seconds of one call to the platform."
    )

    @default("sharinghub_url")
    def _default_sharinghub_url(self) -> str | None:
        return _env("MLOPS_SHARINGHUB_URL")

    @default("mlflow_url")
    def _default_mlflow_url(self) -> str | None:
        return _env("MLOPS_MLFLOW_URL")

    @default("gitlab_url")
    def _default_gitlab_url(self) -> str | None:
        return _env("MLOPS_GITLAB_URL")

    @default("embedded_data_dir")
    def _default_embedded_data_dir(self) -> str:
        return _env("MLOPS_EMBEDDED_DATA_DIR") or str(Path(jupyter_data_dir()) / "jupyter_mlops")

    @default("oauth_client_id")
    def _default_oauth_client_id(self) -> str | None:
        return _env("MLOPS_OAUTH_CLIENT_ID")

    @default("credentials_path")
    def _default_credentials_path(self) -> str:
        return _env("MLOPS_CREDENTIALS_PATH") or str(
            Path(jupyter_data_dir()) / "jupyter_mlops" / "credentials.json"
        )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
