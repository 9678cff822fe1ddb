"""Registered models of a project as STAC links and assets, for the catalog's item builder.

The catalog pulls, as upstream SharingHub does: it searches the project's model versions
through the project tracking URI with the caller's token (so the layer's permissions apply) and
turns the newest version of each registered model into an ``mlflow:model`` link. Unlike
upstream this works for MLflow 3 sources (``models:/m-...``, logged models) as well as MLflow 2
run-artifact sources, because the asset goes through ``model-versions/get-artifact``, which
MLflow resolves for any source; the source run is kept as ``mlflow:run_id``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlencode

import httpx

_SUFFIX = re.compile(r" \(\d+\)$")


def model_links(
    tracking_uri: str, versions: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Build ``mlflow:model`` links and MLmodel assets from MLflow model version entities.

    Parameters
    ----------
    tracking_uri
        The project tracking URI, ending with ``/``.
    versions
        Model versions as MLflow's REST API returns them (``name``, ``version``, ``run_id``).

    Returns
    -------
    tuple
        The links (one per registered model, its newest version) and the assets by key.
    """
    newest: dict[str, dict[str, Any]] = {}
    for version in versions:
        name = str(version.get("name", ""))
        if not name:
            continue
        if name not in newest or int(version["version"]) > int(newest[name]["version"]):
            newest[name] = version
    links: list[dict[str, Any]] = []
    assets: dict[str, dict[str, Any]] = {}
    for name in sorted(newest):
        version = newest[name]
        number = str(version["version"])
        title = f"{_SUFFIX.sub('', name)} v{number}"
        link: dict[str, Any] = {
            "rel": "mlflow:model",
            "href": f"{tracking_uri}#/models/{quote(name)}/versions/{number}",
            "title": title,
            "mlflow:uri": f"models:/{name}/{number}",
        }
        if version.get("run_id"):
            link["mlflow:run_id"] = str(version["run_id"])
        links.append(link)
        query = urlencode({"name": name, "version": number, "path": "MLmodel"})
        key = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
        assets[key] = {
            "href": f"{tracking_uri}model-versions/get-artifact?{query}",
            "title": f"{title} (MLmodel)",
            "type": "application/yaml",
            "roles": ["metadata", "mlflow:model"],
        }
    return links, assets


def fetch_model_links(
    tracking_uri: str, token: str | None = None, client: httpx.Client | None = None
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Ask a project's tracking URI for its model versions and build links and assets.

    Parameters
    ----------
    tracking_uri
        The project tracking URI (``<mlflow>/<project path>/tracking/``).
    token
        The caller's GitLab token, sent as ``Authorization: Bearer`` (``None``: anonymous).
    client
        An HTTP client to reuse.

    Returns
    -------
    tuple
        As :func:`model_links`; empty when the project has no model or MLflow refuses.
    """
    base = tracking_uri if tracking_uri.endswith("/") else f"{tracking_uri}/"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    http = client or httpx.Client(timeout=30)
    versions: list[dict[str, Any]] = []
    page_token: str | None = None
    try:
        while True:
            params = {"max_results": "1000", **({"page_token": page_token} if page_token else {})}
            answer = http.get(
                f"{base}api/2.0/mlflow/model-versions/search", params=params, headers=headers
            )
            if answer.status_code != 200:
                return [], {}
            document = answer.json()
            versions += document.get("model_versions") or []
            page_token = document.get("next_page_token")
            if not page_token:
                break
    finally:
        if client is None:
            http.close()
    return model_links(base, versions)
