"""The project model shared by every source, and the protocol a source implements."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol


@dataclass(frozen=True)
class Project:
    """One project as the catalog sees it, whatever its source.

    ``path`` is the full path (GitLab ``path_with_namespace``), which is also the STAC item id.
    """

    id: int
    name: str
    path: str
    description: str
    topics: tuple[str, ...]
    visibility: str
    default_branch: str
    created_at: datetime
    last_activity_at: datetime
    star_count: int = 0
    readme: str | None = None
    files: tuple[str, ...] = field(default_factory=tuple)
    # None when the source cannot tell; then the file list decides (upstream rule).
    dvc_initialized: bool | None = None
    #: The project's page (GitLab ``web_url``); None for a local store.
    web_url: str | None = None
    #: GitLab's ``name_with_namespace`` ("Group / Project"); None: built from the path.
    name_with_namespace: str | None = None

    @property
    def namespace(self) -> str:
        return self.path.rsplit("/", 1)[0] if "/" in self.path else ""


@dataclass(frozen=True)
class ProjectFile:
    """A file of a project, ready to be streamed.

    ``local_path`` is set when the file sits on this machine, so it can be sent with
    ``sendfile``; other sources give only ``open``.
    """

    name: str
    size: int | None
    open: Callable[[], BinaryIO]
    local_path: Path | None = None


class ProjectNotFound(LookupError):
    """The project does not exist in the source."""


class ProjectFileNotFound(LookupError):
    """The file does not exist in the project, or may not be served from it."""


class ProjectSource(Protocol):
    """What the catalog needs from a source of projects."""

    def iter_projects(self) -> Iterator[Project]:
        """Yield every project of the source (broken ones are skipped and logged)."""
        ...

    def get_project(self, path: str) -> Project:
        """Return one project by full path, or raise ProjectNotFound."""
        ...

    def open_file(self, project_path: str, file_path: str, ref: str | None = None) -> ProjectFile:
        """Return a file of a project at ``ref`` (default branch when None), or raise
        ProjectNotFound / ProjectFileNotFound (also for a ref the source cannot serve)."""
        ...
