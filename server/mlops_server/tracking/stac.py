"""Registered models of a project in its STAC item: ``mlflow:model`` links and model assets.

**Pull, not notify.** When a project's item is served (``GET /api/stac/collections/<c>/items/
<path>``), the catalog asks MLflow for the project's model versions through the project
tracking URI, with the caller's own token, as upstream SharingHub does. We chose pull because:

- permissions stay exact without new machinery: MLflow's layer checks the caller like any
  other client, so an item never shows a model its reader could not open in MLflow;
- nothing to lose or re-synchronise: the catalog keeps no copy of registry state (the GitLab
  index may be a temporary file), and a registry write needs no extra call or shared secret;
- it works against upstream mlflow-sharinghub too (plain MLflow REST routes).

The cost is a few MLflow calls per item read on a cache miss; answers are cached per caller
and project for a few seconds (``MLOPS_MLFLOW_MODELS_TTL``, default 5), which is how long a
newly registered version may take to appear. Searches and listings do not pull (that would
be one MLflow round trip per item of the page): the single-item route has the links.

Unlike upstream, MLflow 3 model sources work (``models:/m-...`` logged models, logged-model
artifact paths) as well as MLflow 2-style ``runs:/`` and run-artifact sources: the asset goes
through ``model-versions/get-artifact``, which MLflow resolves for any source, and the source
run becomes ``mlflow:run_id`` (taken from the logged model when the version has none). No href
carries a token: they are built from the item's public tracking URI.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote, urlencode

import requests
import yaml

from mlops_server.stac.items import media_type

log = logging.getLogger(__name__)

TRACKING_LINK = "mlflow:tracking-uri"
MODEL_LINK = "mlflow:model"
_SUFFIX = re.compile(r" \(\d+\)$")
_LOGGED_MODEL = re.compile(r"(?:^models:/|/models/)(m-[0-9a-f]+)(?:/|$)")
# Where flavors name the model file in MLmodel, most specific first.
_MODEL_FILE_KEYS = ("model_path", "data", "pickled_model", "model_data", "python_model")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def model_file(mlmodel: dict[str, Any]) -> str | None:
    """The model file an ``MLmodel`` document names (``None`` when it names only a folder).

    ``python_function`` is asked first (``model_path``, then ``data``), then every other
    flavor; a path without a file suffix is taken for a folder and skipped.
    """
    flavors = mlmodel.get("flavors")
    if not isinstance(flavors, dict):
        return None
    ordered = [flavors.get("python_function"), *flavors.values()]
    for flavor in ordered:
        if not isinstance(flavor, dict):
            continue
        for key in _MODEL_FILE_KEYS:
            value = flavor.get(key)
            if isinstance(value, str) and PurePosixPath(value).suffix:
                return value
    return None


def logged_model_id(source: str) -> str | None:
    """The MLflow 3 logged model id in a version source (``models:/m-...`` or its artifacts)."""
    found = _LOGGED_MODEL.search(source)
    return found.group(1) if found else None


def newest_versions(versions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The newest version of each registered model, ordered by model name."""
    newest: dict[str, dict[str, Any]] = {}
    for version in versions:
        name = str(version.get("name") or "")
        number = str(version.get("version") or "")
        if not name or not number.isdigit():
            continue
        if name not in newest or int(number) > int(newest[name]["version"]):
            newest[name] = version
    return [newest[name] for name in sorted(newest)]


def model_link(
    public_uri: str, version: dict[str, Any], run_id: str | None, checkpoint: str | None
) -> tuple[dict[str, Any], tuple[str, dict[str, Any]]]:
    """The ``mlflow:model`` link and the model asset of one model version.

    Parameters
    ----------
    public_uri
        The project tracking URI readers use (``<mlflow>/<path>/tracking/``).
    version
        The model version as MLflow's REST API returns it.
    run_id
        The run that produced the model, if known.
    checkpoint
        The model file inside the version's artifacts (from ``MLmodel``); ``None`` makes the
        asset point at ``MLmodel`` itself.

    Returns
    -------
    tuple
        The link, and the asset with its key.
    """
    name, number = str(version["name"]), str(version["version"])
    title = f"{_SUFFIX.sub('', name)} v{number}"
    link: dict[str, Any] = {
        "rel": MODEL_LINK,
        "href": f"{public_uri}#/models/{quote(name)}/versions/{number}",
        "type": "text/html",
        "title": title,
        "mlflow:uri": f"models:/{name}/{number}",
    }
    if run_id:
        link["mlflow:run_id"] = run_id
    path = checkpoint or "MLmodel"
    query = urlencode({"name": name, "version": number, "path": path})
    asset: dict[str, Any] = {
        "href": f"{public_uri}model-versions/get-artifact?{query}",
        "title": f"{title} ({PurePosixPath(path).name})",
        "mlflow:uri": link["mlflow:uri"],
    }
    if checkpoint:
        asset["type"] = media_type(checkpoint) or "application/octet-stream"
        asset["roles"] = ["data", MODEL_LINK]
        key = f"{_slug(title)}{PurePosixPath(checkpoint).suffix}"
    else:
        asset["type"] = "application/yaml"
        asset["roles"] = ["metadata", MODEL_LINK]
        key = f"{_slug(title)}-mlmodel"
    return link, (key, asset)


class MlflowReader:
    """Reads one project's registry through its tracking URI, as the caller."""

    def __init__(self, internal_uri: str, token: str | None, timeout: float) -> None:
        self.base = internal_uri if internal_uri.endswith("/") else f"{internal_uri}/"
        self.timeout = timeout
        self.session = requests.Session()
        self.session.trust_env = False  # loopback and cluster URLs: never through a proxy
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def get(self, route: str, **params: str) -> requests.Response:
        return self.session.get(f"{self.base}{route}", params=params, timeout=self.timeout)

    def versions(self) -> list[dict[str, Any]] | None:
        """Every model version the caller may read (``None`` when MLflow refuses)."""
        found: list[dict[str, Any]] = []
        page: dict[str, str] = {}
        while True:
            answer = self.get("api/2.0/mlflow/model-versions/search", max_results="1000", **page)
            if answer.status_code != 200:
                log.info("model versions of %s: MLflow answered %d", self.base, answer.status_code)
                return None
            document = answer.json()
            found += document.get("model_versions") or []
            token = document.get("next_page_token")
            if not token:
                return found
            page = {"page_token": str(token)}

    def run_of(self, version: dict[str, Any]) -> str | None:
        if version.get("run_id"):
            return str(version["run_id"])
        model_id = logged_model_id(str(version.get("source") or ""))
        if model_id is None:
            return None
        answer = self.get(f"api/2.0/mlflow/logged-models/{model_id}")
        if answer.status_code != 200:
            return None
        info = (answer.json().get("model") or {}).get("info") or {}
        return str(info.get("source_run_id") or "") or None

    def checkpoint_of(self, version: dict[str, Any]) -> str | None:
        answer = self.get(
            "model-versions/get-artifact",
            name=str(version["name"]),
            version=str(version["version"]),
            path="MLmodel",
        )
        if answer.status_code != 200:
            return None
        try:
            document = yaml.safe_load(answer.content)
        except yaml.YAMLError:
            return None
        return model_file(document) if isinstance(document, dict) else None

    def close(self) -> None:
        self.session.close()


def fetch_model_links(
    internal_uri: str,
    public_uri: str | None = None,
    token: str | None = None,
    timeout: float = 10.0,
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]] | None:
    """Ask a project's tracking URI for its registered models; build links and assets.

    Parameters
    ----------
    internal_uri
        The project tracking URI as the catalog reaches it.
    public_uri
        The same URI as readers reach it, for the hrefs (default: ``internal_uri``).
    token
        The caller's GitLab token, sent as ``Authorization: Bearer`` (``None``: anonymous).
    timeout
        Seconds per MLflow call.

    Returns
    -------
    tuple or None
        One link per registered model (its newest version) and the assets by key; ``None``
        when MLflow refuses (no access, not an MLflow project).

    Raises
    ------
    requests.RequestException
        MLflow cannot be reached.
    """
    public = public_uri or internal_uri
    public = public if public.endswith("/") else f"{public}/"
    reader = MlflowReader(internal_uri, token, timeout)
    try:
        versions = reader.versions()
        if versions is None:
            return None
        links: list[dict[str, Any]] = []
        assets: dict[str, dict[str, Any]] = {}
        for version in newest_versions(versions):
            link, (key, asset) = model_link(
                public, version, reader.run_of(version), reader.checkpoint_of(version)
            )
            links.append(link)
            assets[key] = asset
        return links, assets
    finally:
        reader.close()


class ModelLinks:
    """Adds a project's registered models to its served STAC item (pull, short cache).

    Parameters
    ----------
    internal_base
        MLflow's base URL as the catalog reaches it (``<internal>/<path>/tracking/``).
    ttl
        Seconds an answer is reused for the same caller and project.
    timeout
        Seconds per MLflow call.
    retry_after
        Seconds to leave MLflow alone after it could not be reached.
    """

    def __init__(
        self,
        internal_base: str,
        ttl: float = 5.0,
        timeout: float = 5.0,
        retry_after: float = 10.0,
    ) -> None:
        self.internal_base = internal_base.rstrip("/")
        self.ttl = ttl
        self.timeout = timeout
        self.retry_after = retry_after
        self._cache: dict[tuple[str, str], tuple[float, Any]] = {}
        self._down_until = 0.0
        self._lock = threading.Lock()

    def _lookup(
        self, path: str, public_uri: str, token: str | None
    ) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]] | None:
        who = hashlib.sha256(token.encode()).hexdigest() if token else "-"
        key = (who, path)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] > now:
                return hit[1]  # type: ignore[no-any-return]
            if now < self._down_until:
                return None
        try:
            found = fetch_model_links(
                f"{self.internal_base}/{quote(path)}/tracking/", public_uri, token, self.timeout
            )
        except (requests.RequestException, ValueError) as error:
            log.warning("MLflow unreachable for the models of %s: %s", path, type(error).__name__)
            with self._lock:
                self._down_until = time.monotonic() + self.retry_after
            return None
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
            self._cache[key] = (time.monotonic() + self.ttl, found)
        return found

    def decorate(self, item: dict[str, Any], token: str | None) -> dict[str, Any]:
        """Insert ``mlflow:model`` links (after the tracking URI link) and model assets.

        Items without an ``mlflow:tracking-uri`` link (MLflow disabled for the category) are
        returned unchanged, and so is every item when MLflow refuses or is unreachable.
        """
        links: list[dict[str, Any]] = list(item.get("links") or [])
        where = next((i for i, ln in enumerate(links) if ln.get("rel") == TRACKING_LINK), None)
        if where is None:
            return item
        found = self._lookup(str(item["id"]), str(links[where]["href"]), token)
        if not found:
            return item
        model_links, model_assets = found
        fresh = [dict(link) for link in model_links]
        item["links"] = [*links[: where + 1], *fresh, *links[where + 1 :]]
        checkpoint = any("ml-model" in str(u) for u in item.get("stac_extensions") or [])
        assets: dict[str, Any] = dict(item.get("assets") or {})
        for key, asset in model_assets.items():
            asset = dict(asset)
            if checkpoint and "data" in asset["roles"]:
                asset["roles"] = [*asset["roles"], "ml-model:checkpoint"]
            assets.setdefault(key, asset)
        item["assets"] = assets
        return item
