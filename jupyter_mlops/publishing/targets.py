"""What a publication target (GitLab or the embedded local store) must do for :mod:`publish`.

The orchestration in :mod:`jupyter_mlops.publish` is the same for both: check access, create
or update the project, compare files, upload large objects, commit the rest in one go, and
make the catalog see the result. Each step is safe to repeat, so a rerun resumes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from .files import PlannedFile

#: ``(done, total)`` bytes, for progress bars.
ByteProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class ProjectSpec:
    """The project a publication creates or updates."""

    path: str
    namespace: str
    name: str
    description: str
    visibility: str
    topics: tuple[str, ...]


@dataclass
class RemoteProject:
    """A project as the target knows it after create-or-update."""

    path: str
    id: int | str
    web_url: str | None
    default_branch: str = "main"
    created: bool = False
    updated: list[str] = field(default_factory=list)


class PublishTarget(Protocol):
    """A place projects are published to."""

    #: ``gitlab`` or ``local``.
    kind: str
    #: SharingHub base URL of the catalog that lists this target's projects, when known.
    catalog_url: str | None

    def default_namespace(self) -> str:
        """Where projects go when no namespace is given (the user's own namespace)."""
        ...

    def check_access(self, spec: ProjectSpec) -> bool:
        """Raise PermissionDeniedError unless the caller may publish ``spec``; return whether
        the project already exists."""
        ...

    def ensure_project(self, spec: ProjectSpec) -> RemoteProject:
        """Create the project or bring its settings (topics, visibility...) up to date."""
        ...

    def fingerprint(self, file: PlannedFile) -> str:
        """The identity ``current_files`` reports for this file once published."""
        ...

    def current_files(self, project: RemoteProject) -> dict[str, str]:
        """``{path: fingerprint}`` of what the project holds now."""
        ...

    def read_text(self, project: RemoteProject, path: str) -> str | None:
        """A small text file of the project (None when absent)."""
        ...

    def upload_large(
        self, project: RemoteProject, files: Sequence[PlannedFile], progress: ByteProgress
    ) -> int:
        """Store large objects (Git LFS) that are not stored yet; return bytes uploaded."""
        ...

    def commit(
        self,
        project: RemoteProject,
        changes: Sequence[PlannedFile],
        existing: set[str],
        message: str,
    ) -> str | None:
        """Write ``changes`` in one commit (``existing`` paths are updates); return its id."""
        ...

    def finish(self, project: RemoteProject) -> None:
        """Make the catalog see the new state (re-index), when the target can."""
        ...
