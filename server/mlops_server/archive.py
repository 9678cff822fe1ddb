"""Repository archives: ``/api/download/<project>/archive.<fmt>`` (upstream's route) and
``/api/download/<project>/repository/archive.<fmt>`` (GitLab's spelling), ``?ref=``.

Formats: ``zip``, ``tar.gz``, ``tar.bz2`` and ``tar``. A source that can produce archives
itself (GitLab: ``/projects/:id/repository/archive.<fmt>``, LFS objects included) is
proxied chunk by chunk with the caller's own token; for the others (the local store) the
archive is written by a producer thread into a small bounded queue that the response drains,
so memory stays flat whatever the size of the project and a client that goes away stops the
producer. Permissions are those of file downloads (access level 2, reporter, and up).
"""

from __future__ import annotations

import io
import logging
import queue
import re
import shutil
import tarfile
import threading
import time
import zipfile
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol, cast
from urllib.parse import quote

from fastapi.responses import StreamingResponse

from mlops_server.errors import NotFound
from mlops_server.index import IndexedItem
from mlops_server.sources.base import (
    ProjectFile,
    ProjectFileNotFound,
    ProjectNotFound,
    ProjectSource,
)

log = logging.getLogger(__name__)

FORMATS = {
    "zip": "application/zip",
    "tar.gz": "application/gzip",
    "tar.bz2": "application/x-bzip2",
    "tar": "application/x-tar",
}
_TAR_MODES = {"tar.gz": "w|gz", "tar.bz2": "w|bz2", "tar": "w|"}
CHUNK = 1 << 16
# Chunks in flight between the producer thread and the response: bounds memory (1 MiB).
QUEUE_CHUNKS = 16
_ZIP64_FROM = 1 << 31
_ZIP_EPOCH = 315_532_800.0  # 1980-01-01: ZIP cannot date files earlier


class ArchiveSource(Protocol):
    """A source that builds archives itself (``GitLabSource``)."""

    def open_archive(
        self, project_path: str, fmt: str, ref: str | None, token: str | None
    ) -> ProjectFile:
        """Start streaming an archive of the repository at ``ref``, read with ``token``;
        raise ProjectNotFound / ProjectFileNotFound (unknown ref)."""
        ...


@dataclass(frozen=True)
class ArchiveRequest:
    """An archive download; ``shadowable``: a repository file of that name wins."""

    project_path: str
    fmt: str
    shadowable: bool


_ARCHIVE = re.compile(r"^(?P<project>.+)/archive\.(?P<fmt>[a-z0-9.]+)$")


def archive_request(target: str) -> ArchiveRequest | None:
    """Recognise an archive download in a ``/api/download/`` path, else None."""
    project_path, marker, file_path = target.partition("/repository/")
    if marker and file_path.startswith("archive.") and file_path[8:] in FORMATS:
        return ArchiveRequest(project_path.strip("/"), file_path[8:], shadowable=True)
    if marker:
        return None  # a file inside the repository
    found = _ARCHIVE.match(target)
    if found is None or found["fmt"] not in FORMATS:
        return None
    return ArchiveRequest(found["project"].strip("/"), found["fmt"], shadowable=False)


def _filename(indexed: IndexedItem, ref: str, fmt: str) -> str:
    stem = indexed.path.rsplit("/", 1)[-1]
    return f"{stem}-{re.sub(r'[^A-Za-z0-9._-]', '-', ref)}.{fmt}"


def default_branch(indexed: IndexedItem) -> str:
    properties = indexed.item.get("properties") or {}
    return str(properties.get("sharinghub:default-branch") or "main")


def archive_response(
    source: ProjectSource,
    indexed: IndexedItem,
    fmt: str,
    ref: str | None,
    token: str | None,
) -> StreamingResponse:
    """The streamed archive of a project the caller may read."""
    name = _filename(indexed, ref or default_branch(indexed), fmt)
    headers = {
        "Content-Disposition": f'attachment; filename="{name}"; '
        f"filename*=UTF-8''{quote(name, safe='')}"
    }
    try:
        if hasattr(source, "open_archive"):
            found = cast(ArchiveSource, source).open_archive(indexed.path, fmt, ref, token)
            body = _read_chunks(found.open)
        else:
            body = stream_archive(local_entries(source, indexed.path, ref, name), fmt)
    except (ProjectNotFound, ProjectFileNotFound):
        raise NotFound(f"Unknown ref for {indexed.path}: {ref}") from None
    return StreamingResponse(body, media_type=FORMATS[fmt], headers=headers)


def _read_chunks(opener: Callable[[], BinaryIO]) -> Iterator[bytes]:
    with opener() as stream:
        while chunk := stream.read(CHUNK):
            yield chunk


# -- archives written here ------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One file of an archive: its name inside, size and how to read it."""

    name: str
    size: int
    open: Callable[[], BinaryIO]
    mtime: float


def local_entries(source: ProjectSource, path: str, ref: str | None, name: str) -> list[Entry]:
    """The files of a project at ``ref``, under a top folder named like the archive."""
    project = source.get_project(path)
    if ref not in (None, project.default_branch):
        raise ProjectFileNotFound(f"ref {ref}")
    top = name.split(".", 1)[0]
    mtime = project.last_activity_at.timestamp()
    entries = []
    for file_path in project.files:
        found = source.open_file(path, file_path, ref)
        if found.size is None:
            raise ProjectFileNotFound(file_path)
        entries.append(Entry(f"{top}/{file_path}", found.size, found.open, mtime))
    return entries


class _Cancelled(Exception):
    """The reader went away: the producer stops."""


class _QueueSink(io.RawIOBase):
    """A write-only, unseekable stream whose writes go into a bounded queue."""

    def __init__(self, chunks: queue.Queue[Any], cancelled: threading.Event) -> None:
        self._chunks = chunks
        self._cancelled = cancelled

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        while chunk:
            if self._cancelled.is_set():
                raise _Cancelled
            try:
                self._chunks.put(chunk, timeout=0.5)
            except queue.Full:
                continue
            break
        return len(data)


def write_archive(out: BinaryIO, fmt: str, entries: list[Entry]) -> None:
    """Write ``entries`` as a ``fmt`` archive into an unseekable stream."""
    if fmt == "zip":
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for entry in entries:
                moment = time.gmtime(max(entry.mtime, _ZIP_EPOCH))[:6]
                info = zipfile.ZipInfo(entry.name, moment)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o100644 << 16
                large = entry.size >= _ZIP64_FROM
                with entry.open() as src, archive.open(info, "w", force_zip64=large) as dest:
                    shutil.copyfileobj(src, dest, CHUNK)
        return
    with tarfile.open(fileobj=out, mode=_TAR_MODES[fmt]) as archive:  # type: ignore[call-overload]
        for entry in entries:
            member = tarfile.TarInfo(entry.name)
            member.size, member.mtime, member.mode = entry.size, int(entry.mtime), 0o644
            with entry.open() as src:
                archive.addfile(member, src)


def stream_archive(entries: list[Entry], fmt: str) -> Generator[bytes, None, None]:
    """Chunks of the archive, written by a producer thread as they are consumed."""
    chunks: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_CHUNKS)
    cancelled = threading.Event()
    done = object()

    def produce() -> None:
        outcome: object = done
        try:
            with io.BufferedWriter(_QueueSink(chunks, cancelled), CHUNK) as out:
                write_archive(cast(BinaryIO, out), fmt, entries)
        except _Cancelled:
            return
        except Exception as error:  # reported to the reader, which aborts the response
            log.exception("archive failed")
            outcome = error
        while not cancelled.is_set():
            try:
                chunks.put(outcome, timeout=0.5)
                return
            except queue.Full:
                continue

    def drain() -> Generator[bytes, None, None]:
        producer = threading.Thread(target=produce, name="archive-writer", daemon=True)
        producer.start()
        try:
            while (chunk := chunks.get()) is not done:
                if isinstance(chunk, Exception):
                    raise chunk
                yield chunk
        finally:
            cancelled.set()
            producer.join(timeout=5)

    return drain()
