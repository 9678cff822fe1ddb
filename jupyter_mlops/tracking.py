"""MLflow tracking on MLflow SharingHub, with the project conventions done for the user.

Upstream conventions (reference §6): each project has its own tracking URI
``<mlflow>/<project path>/tracking/``; experiment and registered-model names end with
`` (<project id>)``; the token is the user's GitLab token sent as ``Authorization: Bearer``.
Nobody should type a project id: :func:`configure` looks it up and names things.

Credentials reach MLflow through the ``jupyter-mlops`` request-auth provider
(``MLFLOW_TRACKING_AUTH=jupyter-mlops``, see :mod:`jupyter_mlops.mlflow_auth`), which asks the
token sources for a fresh token on every request: nothing is printed, nothing goes stale.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from .errors import (
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    PlatformUnavailableError,
)

#: Name of our MLflow request-auth provider (entry point ``mlflow.request_auth_provider``).
AUTH_PROVIDER = "jupyter-mlops"

_SUFFIX = re.compile(r"^(?P<base>.*\S) \((?P<id>\d+)\)$")


def tracking_uri(mlflow_url: str, project_path: str) -> str:
    """The project's tracking URI, ``<mlflow>/<project path>/tracking/``."""
    parts = [part for part in project_path.strip("/").split("/") if part]
    if not parts or any(part in {".", ".."} for part in parts):
        raise BadRequestError(f"Invalid project path {project_path!r}.")
    return f"{mlflow_url.rstrip('/')}/{'/'.join(quote(part, safe='') for part in parts)}/tracking/"


def project_name(name: str, project_id: int) -> str:
    """``name`` with the `` (<project id>)`` suffix MLflow SharingHub requires, added once.

    Raises
    ------
    BadRequestError
        When ``name`` already ends with the suffix of another project.
    """
    name = name.strip()
    if not name:
        raise BadRequestError("The name is empty.")
    match = _SUFFIX.match(name)
    if match is None:
        return f"{name} ({project_id})"
    if int(match["id"]) != project_id:
        raise BadRequestError(
            f"{name!r} names project {match['id']}, not project {project_id}.",
            reason="wrong_project",
        )
    return name


def display_name(name: str) -> str:
    """The name without its `` (<project id>)`` suffix, for people."""
    match = _SUFFIX.match(name)
    return match["base"] if match else name


@dataclass(frozen=True)
class Tracking:
    """Where a kernel now logs (no secret in it)."""

    project: str
    project_id: int
    tracking_uri: str
    experiment: str | None


def configure(project: str, experiment: str | None = None, catalog: Any | None = None) -> Tracking:
    """Point MLflow in this process at a project, with credentials and naming done.

    Parameters
    ----------
    project
        Project path (``group/name``) or numeric id.
    experiment
        Experiment to use (created if needed); the `` (<id>)`` suffix is added.
    catalog
        A :class:`jupyter_mlops.catalog.Catalog`; default: this kernel's platform.
    """
    import mlflow

    from .catalog import Catalog

    catalog = catalog or Catalog()
    access = catalog.check(project)
    mlflow_url = catalog.mlflow_url
    if not mlflow_url:
        raise PlatformUnavailableError("This platform has no MLflow.", reason="no_mlflow")
    uri = tracking_uri(mlflow_url, access["path"])
    os.environ["MLFLOW_TRACKING_URI"] = uri
    os.environ["MLFLOW_TRACKING_AUTH"] = AUTH_PROVIDER
    mlflow.set_tracking_uri(uri)
    name = None
    if experiment:
        name = project_name(experiment, int(access["id"]))
        mlflow.set_experiment(name)
    return Tracking(access["path"], int(access["id"]), uri, name)


@dataclass(frozen=True)
class Registered:
    """A model version created by :func:`register` (no secret in it)."""

    name: str
    version: str
    run_id: str
    source: str
    alias: str | None


def _project_id_of(client: Any, run: Any) -> int:
    """The project id, read from the run's experiment name (`` (<id>)`` suffix)."""
    experiment = client.get_experiment(run.info.experiment_id)
    match = _SUFFIX.match(experiment.name)
    if match is None:
        raise BadRequestError(
            f"Experiment {experiment.name!r} names no project: track the project first.",
            reason="no_project",
        )
    return int(match["id"])


def register(
    run_id: str,
    name: str | None = None,
    alias: str | None = None,
    *,
    tracking_uri: str | None = None,
    artifact_path: str | None = None,
) -> Registered:
    """Register the model of a run in the project's registry, naming it the project's way.

    Parameters
    ----------
    run_id
        The run whose model is registered.
    name
        Registered model name; the `` (<project id>)`` suffix is added when missing. Default: the
        experiment's name.
    alias
        Alias to point at the new version (e.g. ``champion``).
    tracking_uri
        The project's tracking URI; default: MLflow's current one (see :func:`configure`).
    artifact_path
        Model folder in the run's artifacts, for models logged without MLflow 3 logged models;
        default: the run's logged model, else ``model``.
    """
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri, registry_uri=tracking_uri)
    try:
        run = client.get_run(run_id)
        project_id = _project_id_of(client, run)
        experiment_name = client.get_experiment(run.info.experiment_id).name
        model_name = project_name(name or display_name(experiment_name), project_id)
        source = f"runs:/{run_id}/{artifact_path or 'model'}"
        model_id = None
        if artifact_path is None:
            logged = client.search_logged_models(
                experiment_ids=[run.info.experiment_id],
                filter_string=f"source_run_id = '{run_id}'",
                max_results=1,
            )
            if logged:
                model_id = logged[0].model_id
                source = f"models:/{model_id}"
        with contextlib.suppress(MlflowException):
            client.create_registered_model(model_name)  # exists already: fine
        version = client.create_model_version(model_name, source, run_id=run_id, model_id=model_id)
        if alias:
            client.set_registered_model_alias(model_name, alias, version.version)
    except MlflowException as error:
        status = error.get_http_status_code()  # type: ignore[no-untyped-call]
        if status == 404:
            raise NotFoundError(error.message, reason="not_found") from None
        if status in (401, 403):
            raise PermissionDeniedError(error.message, reason="forbidden") from None
        raise BadRequestError(error.message, reason="mlflow_error") from None
    return Registered(model_name, str(version.version), run_id, source, alias)
