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

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import OrderedDict
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


class Borrowed:
    """A cached folder lent to a plan: alive while the plan holds it, never removed by it."""

    def __init__(self, directory: tempfile.TemporaryDirectory[str]) -> None:
        self.directory = directory

    def cleanup(self) -> None:
        """The cache owns the folder; it is removed once neither cache nor plan holds it."""


@dataclass
class _Entry:
    directory: tempfile.TemporaryDirectory[str]
    path: Path
    expires: float


class VersionCache:
    """Model versions read recently, by tracking URI, reference and a digest of the token.

    The Publish panel validates with a dry run after each change; a model version's artifacts
    never change, so reading them once (a child process and a download) serves the dry runs
    and the publication that follow. An entry lives ``ttl`` seconds after its last use, for the
    same token only; at most ``size`` are kept.
    """

    def __init__(self, ttl: float = 300.0, size: int = 4) -> None:
        self.ttl = ttl
        self.size = size
        self._entries: OrderedDict[tuple[str, str, str], _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def fetch(self, reference: str, tracking_uri: str, token: str | None) -> tuple[Path, Borrowed]:
        """The folder of the version (read as ``token`` unless cached) and its lease."""
        digest = hashlib.sha256((token or "").encode()).hexdigest()
        key = (tracking_uri, reference, digest)
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.expires > now and entry.path.is_dir():
                entry.expires = now + self.ttl
                self._entries.move_to_end(key)
                return entry.path, Borrowed(entry.directory)
        directory = tempfile.TemporaryDirectory(prefix="mlops-model-version-")
        try:
            path = fetch_isolated(reference, Path(directory.name), tracking_uri, token)
        except BaseException:
            directory.cleanup()
            raise
        with self._lock:
            self._entries[key] = _Entry(directory, path, now + self.ttl)
            self._entries.move_to_end(key)
            for stale in [k for k, e in self._entries.items() if e.expires <= now]:
                del self._entries[stale]
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return path, Borrowed(directory)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


#: The versions this process read lately (see :class:`VersionCache`).
VERSIONS = VersionCache()


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
