"""Publishing to the embedded platform: a project folder in its local store, then a re-index.

The embedded ``mlops-server`` reads a folder of projects (``<store>/<namespace>/<name>/``
with ``README.md``, the files, and the ``mlops-project.yaml`` manifest holding id, name,
topics and visibility). It is only re-indexed on demand: the embedded launcher gives the
server a random webhook secret and keeps it in a 0600 file of its data folder, and this
target posts GitLab's push event for the project to ``/api/webhooks/gitlab``, the same route
GitLab's webhooks use on a real platform. The kernel finds the data folder through the
platform file (``MLOPS_PLATFORM_FILE``) the Jupyter server writes.

Files are written atomically (temporary name, then rename), the manifest last: a half
finished first publication is not yet a project, and a rerun completes it.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

from ..embedded import WEBHOOK_SECRET_FILE
from ..errors import PermissionDeniedError, UpstreamError
from .files import PlannedFile
from .metadata import slug
from .targets import ByteProgress, ProjectSpec, RemoteProject

MANIFEST = "mlops-project.yaml"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _write_atomic(target: Path, chunks: Any) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as stream:
            for chunk in chunks:
                stream.write(chunk)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class LocalStoreTarget:
    """Publish into the embedded platform's local project store.

    Parameters
    ----------
    data_dir
        The embedded platform's data folder (``projects/`` is the store).
    catalog_url
        Base URL of the embedded ``mlops-server``, re-indexed after each publication.
    """

    kind = "local"
    #: The embedded catalog shows its single local user public projects only.
    default_visibility = "public"

    def __init__(self, data_dir: Path, catalog_url: str | None, timeout: float = 30.0) -> None:
        self.data_dir = Path(data_dir)
        self.store = self.data_dir / "projects"
        self.catalog_url = catalog_url.rstrip("/") if catalog_url else None
        self.timeout = timeout
        self._pending: dict[str, dict[str, Any]] = {}

    def __repr__(self) -> str:
        return f"LocalStoreTarget({str(self.data_dir)!r})"

    def default_namespace(self) -> str:
        return slug(getpass.getuser()) or "local"

    def _dir(self, path: str) -> Path:
        return self.store.joinpath(*path.split("/"))

    def _manifest(self, path: str) -> dict[str, Any] | None:
        try:
            data = yaml.safe_load((self._dir(path) / MANIFEST).read_text("utf-8"))
        except (OSError, yaml.YAMLError):
            return None
        return data if isinstance(data, dict) else None

    def check_access(self, spec: ProjectSpec) -> bool:
        if not self.store.is_dir() or not os.access(self.store, os.W_OK | os.X_OK):
            raise PermissionDeniedError(
                f"The local project store {self.store} is missing or not writable.",
                reason="store_not_writable",
            )
        return self._manifest(spec.path) is not None

    def _next_id(self) -> int:
        highest = 0
        for manifest in self.store.rglob(MANIFEST):
            try:
                data = yaml.safe_load(manifest.read_text("utf-8"))
            except (OSError, yaml.YAMLError):
                continue
            if isinstance(data, dict) and isinstance(data.get("id"), int):
                highest = max(highest, data["id"])
        return highest + 1

    def ensure_project(self, spec: ProjectSpec) -> RemoteProject:
        current = self._manifest(spec.path)
        wanted: dict[str, Any] = dict(current or {})
        topics = list(wanted.get("topics") or [])
        wanted.update(
            {
                "id": wanted.get("id") or self._next_id(),
                "name": spec.name,
                "description": spec.description or wanted.get("description", ""),
                "topics": topics + [t for t in spec.topics if t not in topics],
                "visibility": spec.visibility,
                "default_branch": wanted.get("default_branch") or "main",
                "created_at": wanted.get("created_at")
                or datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            }
        )
        updated = sorted(k for k in wanted if current is not None and current.get(k) != wanted[k])
        if current != wanted:
            self._pending[spec.path] = wanted  # written by commit(), after the files
        return RemoteProject(
            path=spec.path,
            id=int(wanted["id"]),
            web_url=None,
            default_branch=str(wanted["default_branch"]),
            created=current is None,
            updated=updated,
        )

    def fingerprint(self, file: PlannedFile) -> str:
        return file.sha256

    def current_files(self, project: RemoteProject) -> dict[str, str]:
        directory = self._dir(project.path)
        found: dict[str, str] = {}
        if not directory.is_dir():
            return found
        for current, dirs, names in os.walk(directory):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in names:
                full = Path(current) / name
                relative = full.relative_to(directory).as_posix()
                if relative == MANIFEST or (name.startswith(".") and relative != ".gitattributes"):
                    continue
                found[relative] = _sha256(full)
        return found

    def read_text(self, project: RemoteProject, path: str) -> str | None:
        try:
            return (self._dir(project.path) / path).read_text("utf-8", errors="replace")
        except OSError:
            return None

    def upload_large(
        self, project: RemoteProject, files: Sequence[PlannedFile], progress: ByteProgress
    ) -> int:
        return 0  # the store keeps the content itself; large files are copied by commit()

    def commit(
        self,
        project: RemoteProject,
        changes: Sequence[PlannedFile],
        existing: set[str],
        message: str,
    ) -> str | None:
        directory = self._dir(project.path)
        for file in changes:
            _write_atomic(directory.joinpath(*file.path.split("/")), file.chunks())
        manifest = self._pending.pop(project.path, None)
        if manifest is not None:
            text = yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True)
            _write_atomic(directory / MANIFEST, [text.encode()])
        if not changes and manifest is None:
            return None
        digest = hashlib.sha1(usedforsecurity=False)
        for file in changes:
            digest.update(file.path.encode() + file.sha256.encode())
        return digest.hexdigest()

    def finish(self, project: RemoteProject) -> None:
        if self.catalog_url is None:
            return
        try:
            secret = (self.data_dir / WEBHOOK_SECRET_FILE).read_text().strip()
        except OSError:
            raise UpstreamError(
                "The embedded platform has no re-index secret; restart JupyterLab to refresh"
                " the catalog.",
                reason="reindex_unavailable",
            ) from None
        event = {
            "object_kind": "push",
            "event_name": "push",
            "project": {"path_with_namespace": project.path},
        }
        try:
            response = httpx.post(
                f"{self.catalog_url}/api/webhooks/gitlab",
                json=event,
                headers={"X-Gitlab-Token": secret, "X-Gitlab-Event": "Push Hook"},
                timeout=self.timeout,
            )
        except httpx.HTTPError:
            raise UpstreamError(
                "Could not reach the embedded catalog to re-index; rerun to finish."
            ) from None
        if response.status_code != 200:
            raise UpstreamError(
                f"The embedded catalog did not re-index {project.path} (HTTP"
                f" {response.status_code}); rerun to finish."
            )
