"""The local project store: a folder of projects, each a directory with a manifest.

Layout::

    <store>/<namespace>[/<subgroup>...]/<project>/mlops-project.yaml
                                                 /README.md   (front matter + prose)
                                                 /...         (any other files)

The full path of a project (its STAC item id) is its directory relative to the store root.
Entries whose name starts with a dot are never projects nor files (the index lives there).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import yaml

from mlops_server.sources.base import (
    Project,
    ProjectFile,
    ProjectFileNotFound,
    ProjectNotFound,
)

log = logging.getLogger(__name__)

MANIFEST = "mlops-project.yaml"
README_NAMES = ("README.md", "readme.md")
VISIBILITIES = ("public", "internal", "private")


class ManifestError(ValueError):
    """The project manifest is missing, unreadable or has wrong fields."""


def _as_datetime(value: Any, field_name: str) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError as error:
            raise ManifestError(f"{field_name}: not an ISO date-time: {value!r}") from error
    else:
        raise ManifestError(f"{field_name}: expected an ISO date-time")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_manifest(data: Any, directory: Path) -> dict[str, Any]:
    """Validate a manifest mapping and return the Project fields it defines."""
    if not isinstance(data, dict):
        raise ManifestError("expected a mapping")
    project_id = data.get("id")
    if isinstance(project_id, bool) or not isinstance(project_id, int):
        raise ManifestError("id: expected an integer")
    topics = data.get("topics") or []
    if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
        raise ManifestError("topics: expected a list of strings")
    visibility = data.get("visibility", "private")
    if visibility not in VISIBILITIES:
        raise ManifestError(f"visibility: expected one of {', '.join(VISIBILITIES)}")
    stars = data.get("star_count", 0)
    if isinstance(stars, bool) or not isinstance(stars, int):
        raise ManifestError("star_count: expected an integer")
    created = data.get("created_at")
    if created is None:
        created_at = datetime.fromtimestamp(directory.stat().st_mtime, UTC)
    else:
        created_at = _as_datetime(created, "created_at")
    return {
        "id": project_id,
        "name": str(data.get("name") or directory.name),
        "description": str(data.get("description") or ""),
        "topics": tuple(topics),
        "visibility": visibility,
        "default_branch": str(data.get("default_branch") or "main"),
        "created_at": created_at,
        "star_count": stars,
    }


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def _safe_relative(path: str) -> PurePosixPath | None:
    """A relative path with no empty, dot or dot-dot part, else None."""
    if not path or path.startswith("/") or "\\" in path or "\x00" in path:
        return None
    pure = PurePosixPath(path)
    if any(part in ("", ".", "..") or _is_hidden(part) for part in pure.parts):
        return None
    return pure


class LocalProjectSource:
    """Projects read from a folder on disk (see the module docstring for the layout)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    # -- discovery -------------------------------------------------------------------------

    def iter_projects(self) -> Iterator[Project]:
        for directory in self._project_dirs(self.root):
            try:
                yield self._load(directory)
            except ManifestError as error:
                rel = directory.relative_to(self.root).as_posix()
                log.warning("skipping project %s: %s: %s", rel, MANIFEST, error)

    def _project_dirs(self, directory: Path) -> Iterator[Path]:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as error:
            log.warning("cannot read %s: %s", directory, error)
            return
        for entry in entries:
            if _is_hidden(entry.name) or not entry.is_dir(follow_symlinks=False):
                continue
            child = Path(entry.path)
            if (child / MANIFEST).is_file():
                yield child
            else:
                yield from self._project_dirs(child)

    def get_project(self, path: str) -> Project:
        directory = self._project_dir(path)
        try:
            return self._load(directory)
        except ManifestError as error:
            raise ProjectNotFound(path) from error

    def _project_dir(self, path: str) -> Path:
        relative = _safe_relative(path.strip("/"))
        if relative is None:
            raise ProjectNotFound(path)
        directory = self.root.joinpath(*relative.parts)
        if directory.is_symlink() or not (directory / MANIFEST).is_file():
            raise ProjectNotFound(path)
        return directory

    # -- loading ---------------------------------------------------------------------------

    def _load(self, directory: Path) -> Project:
        manifest = directory / MANIFEST
        try:
            data = yaml.safe_load(manifest.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            raise ManifestError(f"cannot parse: {error}") from error
        fields = parse_manifest(data, directory)
        files, newest = self._files(directory)
        newest = max(newest, manifest.stat().st_mtime)
        readme = None
        for name in README_NAMES:
            if name in files:
                try:
                    readme = (directory / name).read_text("utf-8", errors="replace")
                except OSError as error:
                    log.warning("cannot read README of %s: %s", directory, error)
                break
        return Project(
            path=directory.relative_to(self.root).as_posix(),
            last_activity_at=datetime.fromtimestamp(newest, UTC),
            readme=readme,
            files=tuple(files),
            dvc_initialized=(directory / ".dvc").is_dir(),
            **fields,
        )

    def _files(self, directory: Path) -> tuple[list[str], float]:
        """Every regular file of the project (recursive, no cap) and the newest mtime."""
        found: list[str] = []
        newest = 0.0
        for current, dirnames, filenames in os.walk(directory):
            dirnames[:] = sorted(d for d in dirnames if not _is_hidden(d))
            base = Path(current)
            for name in sorted(filenames):
                if _is_hidden(name) or (base == directory and name == MANIFEST):
                    continue
                file_path = base / name
                if not self._inside(file_path, directory):
                    continue
                try:
                    stat = file_path.stat()
                except OSError:
                    continue
                newest = max(newest, stat.st_mtime)
                found.append(file_path.relative_to(directory).as_posix())
        return found, newest

    @staticmethod
    def _inside(path: Path, directory: Path) -> bool:
        try:
            resolved = path.resolve(strict=True)
        except OSError:
            return False
        return resolved.is_file() and resolved.is_relative_to(directory.resolve())

    # -- files -----------------------------------------------------------------------------

    def open_file(self, project_path: str, file_path: str, ref: str | None = None) -> ProjectFile:
        directory = self._project_dir(project_path)
        if ref is not None:
            try:
                data = yaml.safe_load((directory / MANIFEST).read_text("utf-8"))
                branch = parse_manifest(data, directory)["default_branch"]
            except (OSError, yaml.YAMLError, ManifestError) as error:
                raise ProjectNotFound(project_path) from error
            if ref != branch:  # the store holds one branch only
                raise ProjectFileNotFound(f"{file_path} at {ref} (this store serves only {branch})")
        relative = _safe_relative(file_path)
        if relative is None or relative.as_posix() == MANIFEST:
            raise ProjectFileNotFound(file_path)
        target = directory.joinpath(*relative.parts)
        if not self._inside(target, directory):
            raise ProjectFileNotFound(file_path)
        resolved = target.resolve()

        def opener() -> BinaryIO:
            return resolved.open("rb")

        return ProjectFile(
            name=relative.name,
            size=resolved.stat().st_size,
            open=opener,
            local_path=resolved,
        )
