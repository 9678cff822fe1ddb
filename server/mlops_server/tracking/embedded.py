"""MLflow inside the embedded platform: mounted under ``/mlflow/`` next to the catalog.

The embedded platform is single-user and bound to loopback: whoever reaches it is the person
who started it. So the local user needs no token and acts as the **maintainer (level 4) of
every project of the local store** that has the MLflow category; everything else the layer
does stays the same (project routes, name suffixes, server-set project tag, read-only global
view, deny by default). Backend: SQLite in the data folder, artifacts served from the same
folder (``--serve-artifacts`` equivalent).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from starlette.types import ASGIApp

from mlops_server.tracking.access import ADMINISTRATOR_LEVEL, Credentials, ProjectAccess
from mlops_server.tracking.config import TrackingConfig

MOUNT_PATH = "/mlflow"


@dataclass(frozen=True)
class LocalProject:
    """What the embedded layer needs to know about a project of the local store."""

    id: int
    path: str
    name: str
    categories: tuple[str, ...]


LocalLookup = Callable[[str], LocalProject | None]


def configure_mlflow_environment(data_dir: Path) -> None:
    """Point MLflow's server handlers at a SQLite store and local proxied artifacts.

    Must run before ``mlflow.server`` is imported: MLflow reads these at import and first use.
    """
    from mlflow.server.constants import (  # small module, does not import the server
        ARTIFACT_ROOT_ENV_VAR,
        ARTIFACTS_DESTINATION_ENV_VAR,
        BACKEND_STORE_URI_ENV_VAR,
        SERVE_ARTIFACTS_ENV_VAR,
    )

    data_dir.mkdir(parents=True, exist_ok=True)
    artifacts = data_dir / "artifacts"
    artifacts.mkdir(exist_ok=True)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ[BACKEND_STORE_URI_ENV_VAR] = f"sqlite:///{(data_dir / 'mlflow.db').as_posix()}"
    os.environ[ARTIFACT_ROOT_ENV_VAR] = "mlflow-artifacts:/"
    os.environ[SERVE_ARTIFACTS_ENV_VAR] = "true"
    os.environ[ARTIFACTS_DESTINATION_ENV_VAR] = str(artifacts.resolve())


def create_database_atomically(database: Path, artifact_root: str) -> None:
    """Create MLflow's SQLite database aside, then move it into place.

    A first start killed in the middle of MLflow's migrations (a slow machine, a timeout) would
    otherwise leave a half-migrated ``mlflow.db`` that every later start refuses. Staging files
    of earlier attempts are removed.
    """
    if database.exists():
        return
    for stale in database.parent.glob(f"{database.name}.*.new"):
        stale.unlink(missing_ok=True)
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    staging = database.with_name(f"{database.name}.{os.getpid()}.new")
    uri = f"sqlite:///{staging.as_posix()}"
    store = SqlAlchemyStore(uri, artifact_root)  # type: ignore[no-untyped-call]  # all tables, at head
    store.engine.dispose()
    SqlAlchemyStore._engine_map.pop(uri, None)
    os.replace(staging, database)


def local_owner_access(lookup: LocalLookup, config: TrackingConfig) -> object:
    """An access lookup that makes the local user the maintainer of every MLflow project."""

    async def access(credentials: Credentials, path: str) -> ProjectAccess | None:
        del credentials  # single-user platform on loopback
        project = lookup(path)
        if project is None or config.stac_collection not in project.categories:
            return None
        return ProjectAccess(project.id, project.path, project.name, ADMINISTRATOR_LEVEL)

    return access


def embedded_tracking_app(data_dir: Path, lookup: LocalLookup) -> ASGIApp:
    """Build MLflow (SQLite + local artifacts in ``data_dir``) behind the permission layer.

    Parameters
    ----------
    data_dir
        Folder for ``mlflow.db`` and ``artifacts/`` (created if missing).
    lookup
        Finds a project of the local store by path (``None`` when unknown).

    Returns
    -------
    ASGIApp
        The app to mount under :data:`MOUNT_PATH` in the catalog's FastAPI app.
    """
    configure_mlflow_environment(data_dir)
    from mlflow.server.constants import ARTIFACT_ROOT_ENV_VAR, BACKEND_STORE_URI_ENV_VAR
    from mlflow.server.fastapi_app import app as mlflow_app
    from mlflow.server.handlers import initialize_backend_stores

    # Create and migrate the stores now, as ``mlflow server`` does before serving: otherwise
    # the first request (often the catalog pulling an item's models) pays for it.
    create_database_atomically(data_dir / "mlflow.db", os.environ[ARTIFACT_ROOT_ENV_VAR])
    initialize_backend_stores(
        os.environ[BACKEND_STORE_URI_ENV_VAR],
        default_artifact_root=os.environ[ARTIFACT_ROOT_ENV_VAR],
    )

    from mlops_server.tracking.app import build_layer

    config = TrackingConfig.from_env()
    access = local_owner_access(lookup, config)
    return build_layer(mlflow_app, access, config, ask_login=False)  # type: ignore[arg-type]


def mount_on_catalog(app: object, index: object, data_dir: Path) -> None:
    """Mount the embedded MLflow layer under ``/mlflow`` on the catalog's FastAPI app.

    Parameters
    ----------
    app
        The catalog's FastAPI app (``mlops_server.app.create_app``).
    index
        The catalog's index; its ``get(path=...)`` finds local projects.
    data_dir
        Where MLflow keeps ``mlflow.db`` and ``artifacts/``.
    """

    def lookup(path: str) -> LocalProject | None:
        found = index.get(path=path)  # type: ignore[attr-defined]
        if found is None:
            return None
        return LocalProject(found.project_id, found.path, found.name, tuple(found.categories))

    app.mount(MOUNT_PATH, embedded_tracking_app(data_dir, lookup))  # type: ignore[attr-defined]
