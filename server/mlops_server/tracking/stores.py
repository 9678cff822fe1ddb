"""Lookups in MLflow's own stores: which project an experiment, run or model belongs to."""

from __future__ import annotations

from typing import Any, Protocol

from mlflow.exceptions import MlflowException


class ObjectNotFound(Exception):
    """The experiment, run or model named in a request does not exist."""


class InvalidReference(Exception):
    """The request names an object with an id MLflow cannot parse."""


class Stores(Protocol):
    """What the policy needs to know about MLflow objects (synchronous, store-backed)."""

    def experiment_tags(self, experiment_id: str) -> dict[str, str]: ...
    def experiment_tags_by_name(self, name: str) -> dict[str, str]: ...
    def run_experiment(self, run_id: str) -> str: ...
    def logged_model_experiment(self, model_id: str) -> str: ...
    def model_tags(self, name: str) -> dict[str, str]: ...


def _translate(error: MlflowException) -> Exception:
    if error.error_code == "RESOURCE_DOES_NOT_EXIST":
        return ObjectNotFound(error.message)
    return InvalidReference(error.message)


class MlflowStores:
    """Reads the tracking and registry stores configured for this MLflow server process."""

    def _tracking(self) -> Any:
        from mlflow.server.handlers import _get_tracking_store

        return _get_tracking_store()

    def _registry(self) -> Any:
        from mlflow.server.handlers import _get_model_registry_store

        return _get_model_registry_store()

    def experiment_tags(self, experiment_id: str) -> dict[str, str]:
        try:
            experiment = self._tracking().get_experiment(str(experiment_id))
        except MlflowException as error:
            raise _translate(error) from error
        return dict(experiment.tags)

    def experiment_tags_by_name(self, name: str) -> dict[str, str]:
        try:
            experiment = self._tracking().get_experiment_by_name(name)
        except MlflowException as error:
            raise _translate(error) from error
        if experiment is None:
            raise ObjectNotFound(f"Could not find experiment with name '{name}'")
        return dict(experiment.tags)

    def run_experiment(self, run_id: str) -> str:
        try:
            run = self._tracking().get_run(run_id)
        except MlflowException as error:
            raise _translate(error) from error
        return str(run.info.experiment_id)

    def logged_model_experiment(self, model_id: str) -> str:
        try:
            model = self._tracking().get_logged_model(model_id)
        except MlflowException as error:
            raise _translate(error) from error
        return str(model.experiment_id)

    def model_tags(self, name: str) -> dict[str, str]:
        try:
            model = self._registry().get_registered_model(name)
        except MlflowException as error:
            raise _translate(error) from error
        return dict(model.tags)
