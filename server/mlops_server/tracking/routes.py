"""The route inventory: every MLflow route the layer lets through, and what each one touches.

Anything not listed here is denied (deny by default), so routes added by a new MLflow release
stay closed until someone decides how to check them. Paths are MLflow's own, as seen after the
project prefix is stripped; ``/ajax-api/`` (the UI's prefix) and ``/api/`` share one table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    """What a route operates on, which tells the policy how to find its project."""

    PUBLIC = "public"  # no project data: UI shell, health, version
    UI = "ui"  # the UI page: needs read on the route's project
    EXPERIMENT = "experiment"  # field experiment_id
    EXPERIMENT_NAME = "experiment_name"  # field experiment_name
    EXPERIMENTS = "experiments"  # field experiment_ids (list): filtered, not refused
    CREATE_EXPERIMENT = "create_experiment"
    SEARCH_EXPERIMENTS = "search_experiments"
    RUN = "run"  # field run_id or run_uuid
    RUN_IDS = "run_ids"  # field run_ids (list) or run_id (list)
    CREATE_RUN = "create_run"  # field experiment_id
    SEARCH_RUNS = "search_runs"
    LOGGED_MODEL = "logged_model"  # path parameter model_id
    CREATE_LOGGED_MODEL = "create_logged_model"  # field experiment_id
    SEARCH_LOGGED_MODELS = "search_logged_models"
    MODEL = "model"  # field name (registered model)
    CREATE_MODEL = "create_model"
    CREATE_MODEL_VERSION = "create_model_version"
    SEARCH_MODELS = "search_models"
    SEARCH_VERSIONS = "search_versions"
    ARTIFACT_PATH = "artifact_path"  # proxied artifact path; first segment = experiment id
    ARTIFACT_LIST = "artifact_list"  # query ``path``; first segment = experiment id


@dataclass(frozen=True)
class Route:
    """One allowed route: what it touches and whether it changes anything."""

    kind: Kind
    write: bool = False
    # Extra checks: a new name must keep the suffix, the project tag may not be touched.
    renames: bool = False
    tag_edit: bool = False
    streams_body: bool = False  # never buffer the request body (artifact uploads)


@dataclass(frozen=True)
class Match:
    route: Route
    params: dict[str, str]


_R = Route
_TABLE: list[tuple[str, str, Route]] = [
    # UI shell and server facts
    ("GET", "/", _R(Kind.UI)),
    ("GET", "/static-files/{rest:path}", _R(Kind.PUBLIC)),
    ("GET", "/favicon.ico", _R(Kind.PUBLIC)),
    ("GET", "/health", _R(Kind.PUBLIC)),
    ("GET", "/version", _R(Kind.PUBLIC)),
    ("GET", "/api/3.0/mlflow/server-info", _R(Kind.PUBLIC)),
    # experiments
    ("POST", "/api/2.0/mlflow/experiments/create", _R(Kind.CREATE_EXPERIMENT, write=True)),
    ("GET", "/api/2.0/mlflow/experiments/get", _R(Kind.EXPERIMENT)),
    ("GET", "/api/2.0/mlflow/experiments/get-by-name", _R(Kind.EXPERIMENT_NAME)),
    ("GET", "/api/2.0/mlflow/experiments/search", _R(Kind.SEARCH_EXPERIMENTS)),
    ("POST", "/api/2.0/mlflow/experiments/search", _R(Kind.SEARCH_EXPERIMENTS)),
    ("POST", "/api/2.0/mlflow/experiments/delete", _R(Kind.EXPERIMENT, write=True)),
    ("POST", "/api/2.0/mlflow/experiments/restore", _R(Kind.EXPERIMENT, write=True)),
    (
        "POST",
        "/api/2.0/mlflow/experiments/update",
        _R(Kind.EXPERIMENT, write=True, renames=True),
    ),
    (
        "POST",
        "/api/2.0/mlflow/experiments/set-experiment-tag",
        _R(Kind.EXPERIMENT, write=True, tag_edit=True),
    ),
    (
        "POST",
        "/api/2.0/mlflow/experiments/delete-experiment-tag",
        _R(Kind.EXPERIMENT, write=True, tag_edit=True),
    ),
    ("POST", "/api/2.0/mlflow/experiments/search-datasets", _R(Kind.EXPERIMENTS)),
    # runs
    ("POST", "/api/2.0/mlflow/runs/create", _R(Kind.CREATE_RUN, write=True)),
    ("GET", "/api/2.0/mlflow/runs/get", _R(Kind.RUN)),
    ("POST", "/api/2.0/mlflow/runs/search", _R(Kind.SEARCH_RUNS)),
    ("GET", "/api/2.0/mlflow/metrics/get-history", _R(Kind.RUN)),
    ("GET", "/api/2.0/mlflow/metrics/get-history-bulk", _R(Kind.RUN_IDS)),
    ("GET", "/api/2.0/mlflow/metrics/get-history-bulk-interval", _R(Kind.RUN_IDS)),
    ("GET", "/api/2.0/mlflow/artifacts/list", _R(Kind.RUN)),
    ("GET", "/get-artifact", _R(Kind.RUN)),
    ("POST", "/api/2.0/mlflow/upload-artifact", _R(Kind.RUN, write=True, streams_body=True)),
    *[
        ("POST", f"/api/2.0/mlflow/runs/{verb}", _R(Kind.RUN, write=True))
        for verb in (
            "update",
            "delete",
            "restore",
            "log-metric",
            "log-parameter",
            "set-tag",
            "delete-tag",
            "log-batch",
            "log-model",
            "log-inputs",
            "outputs",
        )
    ],
    # logged models (MLflow 3)
    ("POST", "/api/2.0/mlflow/logged-models", _R(Kind.CREATE_LOGGED_MODEL, write=True)),
    ("POST", "/api/2.0/mlflow/logged-models/search", _R(Kind.SEARCH_LOGGED_MODELS)),
    ("GET", "/api/2.0/mlflow/logged-models/{model_id}", _R(Kind.LOGGED_MODEL)),
    (
        "GET",
        "/api/2.0/mlflow/logged-models/{model_id}/artifacts/directories",
        _R(Kind.LOGGED_MODEL),
    ),
    ("GET", "/api/2.0/mlflow/logged-models/{model_id}/artifacts/files", _R(Kind.LOGGED_MODEL)),
    ("PATCH", "/api/2.0/mlflow/logged-models/{model_id}", _R(Kind.LOGGED_MODEL, write=True)),
    ("DELETE", "/api/2.0/mlflow/logged-models/{model_id}", _R(Kind.LOGGED_MODEL, write=True)),
    (
        "PATCH",
        "/api/2.0/mlflow/logged-models/{model_id}/tags",
        _R(Kind.LOGGED_MODEL, write=True),
    ),
    (
        "DELETE",
        "/api/2.0/mlflow/logged-models/{model_id}/tags/{tag_key}",
        _R(Kind.LOGGED_MODEL, write=True),
    ),
    (
        "POST",
        "/api/2.0/mlflow/logged-models/{model_id}/params",
        _R(Kind.LOGGED_MODEL, write=True),
    ),
    # registered models and versions
    ("POST", "/api/2.0/mlflow/registered-models/create", _R(Kind.CREATE_MODEL, write=True)),
    ("GET", "/api/2.0/mlflow/registered-models/get", _R(Kind.MODEL)),
    ("GET", "/api/2.0/mlflow/registered-models/search", _R(Kind.SEARCH_MODELS)),
    ("GET", "/api/2.0/mlflow/registered-models/get-latest-versions", _R(Kind.MODEL)),
    ("POST", "/api/2.0/mlflow/registered-models/get-latest-versions", _R(Kind.MODEL)),
    ("GET", "/api/2.0/mlflow/registered-models/alias", _R(Kind.MODEL)),
    ("POST", "/api/2.0/mlflow/registered-models/alias", _R(Kind.MODEL, write=True)),
    ("DELETE", "/api/2.0/mlflow/registered-models/alias", _R(Kind.MODEL, write=True)),
    (
        "POST",
        "/api/2.0/mlflow/registered-models/rename",
        _R(Kind.MODEL, write=True, renames=True),
    ),
    ("PATCH", "/api/2.0/mlflow/registered-models/update", _R(Kind.MODEL, write=True)),
    ("DELETE", "/api/2.0/mlflow/registered-models/delete", _R(Kind.MODEL, write=True)),
    (
        "POST",
        "/api/2.0/mlflow/registered-models/set-tag",
        _R(Kind.MODEL, write=True, tag_edit=True),
    ),
    (
        "DELETE",
        "/api/2.0/mlflow/registered-models/delete-tag",
        _R(Kind.MODEL, write=True, tag_edit=True),
    ),
    (
        "POST",
        "/api/2.0/mlflow/model-versions/create",
        _R(Kind.CREATE_MODEL_VERSION, write=True),
    ),
    ("GET", "/api/2.0/mlflow/model-versions/get", _R(Kind.MODEL)),
    ("GET", "/api/2.0/mlflow/model-versions/get-download-uri", _R(Kind.MODEL)),
    ("GET", "/api/2.0/mlflow/model-versions/search", _R(Kind.SEARCH_VERSIONS)),
    ("GET", "/model-versions/get-artifact", _R(Kind.MODEL)),
    ("PATCH", "/api/2.0/mlflow/model-versions/update", _R(Kind.MODEL, write=True)),
    ("DELETE", "/api/2.0/mlflow/model-versions/delete", _R(Kind.MODEL, write=True)),
    ("POST", "/api/2.0/mlflow/model-versions/set-tag", _R(Kind.MODEL, write=True)),
    ("DELETE", "/api/2.0/mlflow/model-versions/delete-tag", _R(Kind.MODEL, write=True)),
    ("POST", "/api/2.0/mlflow/model-versions/transition-stage", _R(Kind.MODEL, write=True)),
    # proxied artifacts (--serve-artifacts), native FastAPI routes in MLflow 3
    ("GET", "/api/2.0/mlflow-artifacts/artifacts", _R(Kind.ARTIFACT_LIST)),
    ("GET", "/api/2.0/mlflow-artifacts/artifacts/{artifact_path:path}", _R(Kind.ARTIFACT_PATH)),
    (
        "PUT",
        "/api/2.0/mlflow-artifacts/artifacts/{artifact_path:path}",
        _R(Kind.ARTIFACT_PATH, write=True, streams_body=True),
    ),
    (
        "DELETE",
        "/api/2.0/mlflow-artifacts/artifacts/{artifact_path:path}",
        _R(Kind.ARTIFACT_PATH, write=True),
    ),
    *[
        (
            "POST",
            f"/api/2.0/mlflow-artifacts/mpu/{step}/{{artifact_path:path}}",
            _R(Kind.ARTIFACT_PATH, write=True, streams_body=True),
        )
        for step in ("create", "complete", "abort")
    ],
    (
        "GET",
        "/api/2.0/mlflow-artifacts/presigned/{artifact_path:path}",
        _R(Kind.ARTIFACT_PATH),
    ),
]


def _compile(template: str) -> re.Pattern[str]:
    pattern = ""
    for literal, name, converter in re.findall(r"([^{]*)(?:\{(\w+)(?::(\w+))?\})?", template):
        pattern += re.escape(literal)
        if name:
            pattern += f"(?P<{name}>.+)" if converter == "path" else f"(?P<{name}>[^/]+)"
    return re.compile(f"^{pattern}$")


_COMPILED: list[tuple[str, re.Pattern[str], Route]] = [
    (method, _compile(path), route) for method, path, route in _TABLE
]
_AJAX = re.compile(r"^/ajax-api/")
# MLflow registers search-datasets with a missing slash ("/api/2.0mlflow/..."); accept both.
_MISSING_SLASH = re.compile(r"^/api/2\.0mlflow/")


def match(method: str, path: str) -> Match | None:
    """Find the route of a request, or ``None`` when the layer does not know it (deny)."""
    normalized = _AJAX.sub("/api/", path)
    normalized = _MISSING_SLASH.sub("/api/2.0/mlflow/", normalized)
    if method == "HEAD":
        method = "GET"
    for route_method, pattern, route in _COMPILED:
        if route_method != method:
            continue
        found = pattern.match(normalized)
        if found:
            return Match(route, found.groupdict())
    return None
