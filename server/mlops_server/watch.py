"""Re-index a local project store when its files change.

A daemon thread follows the store with ``watchfiles`` (inotify on Linux, polling where the
platform has no notifications) and re-indexes only the projects whose files changed: the
project of a changed path is the nearest folder above it that holds a manifest now, or that
the index knows (a deleted project). Writes by this server itself (the index next to the
projects, the embedded MLflow's data), which sit in dot-folders and dot-files at the store's
top, are not followed. A folder that arrives as a whole (``mv`` in) is searched for the
projects in it; one that leaves as a whole (``mv`` out) may have held projects the index
cannot name from its path alone, so it re-indexes the whole store.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

import watchfiles

from mlops_server.index import Index
from mlops_server.settings import Settings
from mlops_server.sources.base import ProjectNotFound
from mlops_server.sources.local import MANIFEST, LocalProjectSource

log = logging.getLogger(__name__)

#: More changed projects than this in one batch (a checkout, a copied store): rebuild all.
REBUILD_ABOVE = 200


class StoreWatcher:
    """Follows ``source.root`` and keeps ``index`` in step with it."""

    def __init__(
        self,
        index: Index,
        source: LocalProjectSource,
        settings: Settings,
        *,
        debounce_ms: int = 200,
        force_polling: bool | None = None,
    ) -> None:
        self.index = index
        self.source = source
        self.settings = settings
        self.debounce_ms = debounce_ms
        self.force_polling = force_polling
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> StoreWatcher:
        self._thread = threading.Thread(target=self._run, name="mlops-watch", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _relevant(self, _change: watchfiles.Change, path: str) -> bool:
        try:
            relative = Path(path).relative_to(self.source.root)
        except ValueError:
            return False
        return bool(relative.parts) and not relative.parts[0].startswith(".")

    def _run(self) -> None:
        changes: Iterable[set[tuple[watchfiles.Change, str]]] = watchfiles.watch(
            self.source.root,
            watch_filter=self._relevant,
            debounce=self.debounce_ms,
            stop_event=self._stop,
            force_polling=self.force_polling,
            raise_interrupt=False,
        )
        for batch in changes:
            try:
                self.apply(path for _change, path in batch)
            except Exception:
                log.exception("re-indexing after a change of the project store failed")

    def apply(self, changed: Iterable[str]) -> dict[str, str]:
        """Re-index the projects the changed paths belong to; return what was done to each."""
        started = time.perf_counter()
        projects: set[str] = set()
        rescan = False
        for path in changed:
            project = self._project_of(Path(path))
            if project is not None:
                projects.add(project)
            elif Path(path).is_dir():  # a new namespace, or a folder moved in: its projects
                projects.update(self._projects_below(Path(path)))
            elif self._may_have_held_projects(Path(path)):
                rescan = True
        if rescan or len(projects) > REBUILD_ABOVE:
            count = self.index.rebuild(self.source, self.settings)
            log.info("project store changed: re-indexed all %d projects", count)
            return dict.fromkeys(projects, "rebuilt")
        done: dict[str, str] = {}
        for path in sorted(projects):
            try:
                self.index.upsert(self.source.get_project(path), self.settings)
                done[path] = "indexed"
            except ProjectNotFound:
                if self.index.remove(path=path):
                    done[path] = "removed"
        if done:
            log.info(
                "project store changed: %s (%.3fs)",
                ", ".join(f"{path} {what}" for path, what in done.items()),
                time.perf_counter() - started,
            )
        return done

    def _projects_below(self, folder: Path) -> set[str]:
        """The projects inside a folder that arrived as a whole (one event for the folder)."""
        found = set()
        for manifest in folder.rglob(MANIFEST):
            relative = manifest.parent.relative_to(self.source.root)
            if not any(part.startswith(".") for part in relative.parts):
                found.add(relative.as_posix())
        return found

    @staticmethod
    def _may_have_held_projects(path: Path) -> bool:
        """A folder moved out of the store arrives as one event for the folder alone, and
        the index cannot list the projects that were below it."""
        return not path.exists() and not path.suffix

    def _project_of(self, path: Path) -> str | None:
        """The project path a changed file belongs to (now or before it was deleted)."""
        try:
            relative = PurePosixPath(path.relative_to(self.source.root).as_posix())
        except ValueError:
            return None
        if not relative.parts or relative.parts[0].startswith("."):
            return None
        if relative.name == MANIFEST:
            relative = relative.parent
        candidates = [relative, *relative.parents][:-1]  # without the store root itself
        for candidate in candidates:  # nearest first
            if (self.source.root / candidate / MANIFEST).is_file():
                return candidate.as_posix()
        for candidate in candidates:
            if self.index.get(path=candidate.as_posix()) is not None:
                return candidate.as_posix()
        return None
