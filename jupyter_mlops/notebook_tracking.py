"""One-click tracking of a notebook's kernel: what the toolbar button runs inside the kernel.

The JupyterLab frontend executes ``start(...)``, ``state()`` and ``stop()`` of this module in the
notebook's kernel (never in the server). :func:`start` points MLflow at the project with
:func:`jupyter_mlops.tracking.configure` (credentials through the ``jupyter-mlops`` request-auth
provider, so no token is ever printed or stored in the notebook), names the experiment with the
`` (<project id>)`` suffix and turns autologging on for the ML frameworks installed in the kernel.
:func:`stop` undoes all of it. The answers are :class:`TrackingState` objects that display as a
small JSON document of the MIME type :data:`MIME_TYPE`, which is how the frontend reads them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from dataclasses import asdict, dataclass, field
from typing import Any

#: MIME type of the state document the frontend reads from ``user_expressions``.
MIME_TYPE = "application/vnd.jupyter-mlops.tracking+json"

#: Frameworks whose MLflow autologging is turned on when they are importable in the kernel.
AUTOLOG_FRAMEWORKS = (
    "sklearn",
    "xgboost",
    "lightgbm",
    "tensorflow",
    "keras",
    "pytorch_lightning",
    "lightning",
    "statsmodels",
    "transformers",
)

#: Environment of MLflow that :func:`start` changes and :func:`stop` restores.
_RESTORED = ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_AUTH", "MLFLOW_EXPERIMENT_ID")
_before: dict[str, str | None] = {}
_session: dict[str, Any] = {}


@dataclass
class TrackingState:
    """Where this kernel logs, and its latest run (no secret in it)."""

    active: bool
    project: str | None = None
    project_id: int | None = None
    tracking_uri: str | None = None
    experiment: str | None = None
    experiment_id: str | None = None
    run_id: str | None = None
    run_name: str | None = None
    run_status: str | None = None
    autolog: list[str] = field(default_factory=list)
    resilient: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def _repr_mimebundle_(self, **_: Any) -> dict[str, Any]:
        where = f"{self.project} / {self.experiment}" if self.active else "not tracking"
        return {MIME_TYPE: self.as_dict(), "text/plain": f"MLflow tracking: {where}"}

    def __repr__(self) -> str:
        return f"TrackingState(active={self.active}, project={self.project!r})"


def frameworks_present() -> list[str]:
    """Autolog flavors of :data:`AUTOLOG_FRAMEWORKS` whose library is importable here."""
    modules = {"sklearn": "sklearn", "pytorch_lightning": "pytorch_lightning"}
    return [
        name for name in AUTOLOG_FRAMEWORKS if importlib.util.find_spec(modules.get(name, name))
    ]


def _enable_autolog(frameworks: list[str]) -> list[str]:
    """Turn MLflow autologging on for each framework; those that refuse are left out."""
    import logging

    import mlflow

    enabled: list[str] = []
    for name in frameworks:
        flavor = getattr(mlflow, name, None)
        autolog = getattr(flavor, "autolog", None)
        if autolog is None:
            continue
        try:
            autolog(disable=False, silent=True)
        except Exception as error:  # a framework version this MLflow does not support
            logging.getLogger(__name__).info("no autologging for %s: %s", name, error)
            continue
        enabled.append(name)
    return enabled


def _resilient_logging(enable: bool) -> bool:
    """Switch the resilient (batched, spooled) logging mode when this install provides it."""
    try:
        from . import resilient
    except ImportError:
        return False
    switch = getattr(resilient, "enable" if enable else "disable", None)
    if switch is None:
        return False
    with contextlib.suppress(Exception):
        switch()
        return enable
    return False


def start(project: str, experiment: str | None = None, catalog: Any | None = None) -> TrackingState:
    """Log this kernel's MLflow runs to ``project``; returns the new state.

    Parameters
    ----------
    project
        Project path (``group/name``) or numeric id.
    experiment
        Experiment name without the `` (<id>)`` suffix (it is added); default: the project name.
    catalog
        A :class:`jupyter_mlops.catalog.Catalog`; default: this kernel's platform.
    """
    import mlflow

    from .tracking import configure

    if not _session:
        _before.update({variable: os.environ.get(variable) for variable in _RESTORED})
    if mlflow.active_run() is not None:
        mlflow.end_run()
    name = experiment or project.strip("/").rsplit("/", 1)[-1]
    tracking = configure(project, name, catalog=catalog)
    autolog = _enable_autolog(frameworks_present())
    _session.clear()
    _session.update(
        project=tracking.project,
        project_id=tracking.project_id,
        tracking_uri=tracking.tracking_uri,
        experiment=tracking.experiment,
        autolog=autolog,
        resilient=_resilient_logging(True),
    )
    return state()


def state() -> TrackingState:
    """The current tracking state of this kernel and its latest run."""
    if not _session:
        return TrackingState(active=False)
    import mlflow

    current = TrackingState(
        active=True,
        project=_session["project"],
        project_id=_session["project_id"],
        tracking_uri=_session["tracking_uri"],
        experiment=_session["experiment"],
        autolog=list(_session["autolog"]),
        resilient=bool(_session["resilient"]),
    )
    if current.resilient:
        # Points of the cell that just ran reach the server before the panel looks for them.
        from . import resilient

        resilient.flush(timeout=10)
    experiment = mlflow.get_experiment_by_name(current.experiment) if current.experiment else None
    current.experiment_id = experiment.experiment_id if experiment else None
    run = mlflow.active_run() or mlflow.last_active_run()
    if run is not None and run.info.experiment_id == current.experiment_id:
        current.run_id = run.info.run_id
        current.run_name = run.info.run_name
        current.run_status = "RUNNING" if mlflow.active_run() is not None else run.info.status
    return current


def stop() -> TrackingState:
    """Stop tracking: end the active run, turn autologging off, restore the previous URI."""
    import mlflow

    if not _session:
        return TrackingState(active=False)
    if mlflow.active_run() is not None:
        mlflow.end_run()
    for name in _session["autolog"]:
        with contextlib.suppress(Exception):
            getattr(mlflow, name).autolog(disable=True, silent=True)
    if _session["resilient"]:
        _resilient_logging(False)
    mlflow.set_tracking_uri(_before.get("MLFLOW_TRACKING_URI"))  # type: ignore[arg-type]
    # MLflow has no public way to forget the active experiment: reset the one it keeps.
    mlflow.tracking.fluent._active_experiment_id = None
    for variable in _RESTORED:
        previous = _before.get(variable)
        if previous is None:
            os.environ.pop(variable, None)
        else:
            os.environ[variable] = previous
    _session.clear()
    _before.clear()
    return TrackingState(active=False)
