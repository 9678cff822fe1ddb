"""Reading a registered MLflow model version to publish it (``mlflow_model``).

Two ways, one reader:

* in a kernel without a source project, MLflow is read in this process with its current
  configuration (the tracking URI that ``%mlops track`` or :func:`jupyter_mlops.tracking.configure`
  set, and its request-auth provider);
* with a source project (the Jupyter server's publish route, or ``mlflow_project=`` in a kernel),
  the version is read by a short child process whose environment holds that project's tracking URI
  and the user's token. MLflow takes credentials from process-wide environment variables, and the
  Jupyter server must not change those for every request it serves; the child also keeps the
  token out of any command line and log. It answers one JSON line on stdout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import PublishValidationError
from . import metadata

#: MLflow settings that say where to go and as whom: the child gets only ours.
_IDENTITY = frozenset(
    {
        "MLFLOW_TRACKING_URI",
        "MLFLOW_REGISTRY_URI",
        "MLFLOW_TRACKING_TOKEN",
        "MLFLOW_TRACKING_USERNAME",
        "MLFLOW_TRACKING_PASSWORD",
        "MLFLOW_TRACKING_AUTH",
    }
)

#: The longest a child process may take to download a model version (seconds).
FETCH_TIMEOUT = 3600.0


@dataclass(frozen=True)
class ModelSource:
    """The platform MLflow that a source project's tracking URI is built on, and the token."""

    mlflow_url: str
    token: str | None = field(default=None, repr=False)


def parse_reference(reference: str) -> tuple[str, str]:
    """``models:/<name>/<version>`` (or ``<name>/<version>``) -> ``(name, version)``."""
    name, _, version = reference.removeprefix("models:/").rpartition("/")
    if not name or not version.isdigit():
        raise metadata.field_error("mlflow_model", "expected 'models:/<name>/<version>'")
    return name, version


def fetch(reference: str, destination: Path, tracking_uri: str | None = None) -> Path:
    """Download the version's artifacts into ``destination`` with MLflow, in this process.

    ``tracking_uri`` None uses MLflow's current tracking URI. Returns the folder of the model.
    """
    name, version = parse_reference(reference)
    try:
        import mlflow
        from mlflow.exceptions import MlflowException
    except ImportError:
        raise metadata.field_error(
            "mlflow_model", "MLflow is not installed: pip install 'jupyter-mlops[tracking]'"
        ) from None
    try:
        client = mlflow.MlflowClient(tracking_uri, registry_uri=tracking_uri)
        client.get_model_version(name, version)
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{name}/{version}",
            dst_path=str(destination),
            tracking_uri=tracking_uri,
        )
    except MlflowException as error:
        raise metadata.field_error(
            "mlflow_model", f"cannot read {reference}: {error.message}"
        ) from None
    return Path(local)


def fetch_isolated(reference: str, destination: Path, tracking_uri: str, token: str | None) -> Path:
    """:func:`fetch` in a child process that talks to ``tracking_uri`` with ``token``."""
    parse_reference(reference)
    env = {key: value for key, value in os.environ.items() if key not in _IDENTITY}
    env["MLFLOW_TRACKING_URI"] = tracking_uri
    if token:
        env["MLFLOW_TRACKING_TOKEN"] = token
    try:
        child = subprocess.run(  # noqa: S603 (this interpreter and module, as a list)
            [sys.executable, "-m", __name__, reference, str(destination)],
            env=env,
            capture_output=True,
            text=True,
            timeout=FETCH_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise metadata.field_error(
            "mlflow_model", f"reading {reference} took more than {FETCH_TIMEOUT:.0f} s"
        ) from None
    answer = _last_json_line(child.stdout)
    if child.returncode == 0 and "path" in answer:
        return Path(answer["path"])
    message = answer.get("error") or f"cannot read {reference} (reader exit {child.returncode})"
    raise metadata.field_error("mlflow_model", message)


def _last_json_line(text: str) -> dict[str, str]:
    for line in reversed(text.splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return {}


def main(argv: list[str] | None = None) -> int:
    """``python -m jupyter_mlops.publishing.mlflow_source <reference> <destination>``."""
    reference, destination = argv if argv is not None else sys.argv[1:3]
    try:
        path = fetch(reference, Path(destination), os.environ.get("MLFLOW_TRACKING_URI"))
    except PublishValidationError as error:
        print(json.dumps({"error": error.errors[0]["message"] if error.errors else error.message}))
        return 1
    print(json.dumps({"path": str(path)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
