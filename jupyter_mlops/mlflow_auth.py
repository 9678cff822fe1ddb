"""MLflow request-auth provider ``jupyter-mlops``: a fresh GitLab token on every request.

Registered under the ``mlflow.request_auth_provider`` entry point and selected with
``MLFLOW_TRACKING_AUTH=jupyter-mlops``. It sends ``Authorization: Bearer <token>`` (what MLflow
SharingHub reads) from the same token sources as the server extension, so long-running kernels
keep working when a JupyterHub or OAuth token is rotated, and no token is ever printed.
"""

from __future__ import annotations

from typing import Any

import requests
from mlflow.tracking.request_auth.abstract_request_auth_provider import RequestAuthProvider

from .catalog import default_tokens, run_sync
from .tracking import AUTH_PROVIDER


class BearerFromTokenSources(requests.auth.AuthBase):
    """Adds the current token, looked up when the request is sent."""

    def __call__(self, request: Any) -> Any:
        token = run_sync(default_tokens().token())
        if token:
            request.headers["Authorization"] = f"Bearer {token}"
        return request


class JupyterMLOpsAuthProvider(RequestAuthProvider):
    """``MLFLOW_TRACKING_AUTH=jupyter-mlops``."""

    def get_name(self) -> str:
        return AUTH_PROVIDER

    def get_auth(self) -> requests.auth.AuthBase:
        return BearerFromTokenSources()
