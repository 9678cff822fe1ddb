"""Asset downloads into the Jupyter workspace: streamed, resumable, with progress, cancellable.

Only hrefs on the platform's own services are fetched (no open proxy): the caller passes the
allowed base URLs, redirects are followed only while they stay on them, and the user's token is
added server-side for those hosts alone. Bytes go to ``<file>.part`` and are moved into place when
complete, so an interrupted download resumes with an HTTP ``Range`` request.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from .errors import BadRequestError, ConflictError, MLOpsError, NotFoundError, UpstreamError

Progress = Callable[[int, int | None], None]
Status = Literal["running", "done", "failed", "cancelled"]

#: Bytes received between two progress reports.
PROGRESS_STEP = 1 << 20
MAX_REDIRECTS = 5


def allowed(href: str, bases: Sequence[str]) -> bool:
    """Whether ``href`` is on one of ``bases`` (same scheme, host, port and path prefix)."""
    try:
        target = urlsplit(href)
        target.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return False
    if target.scheme not in {"http", "https"} or target.username or target.password:
        return False
    segments = unquote(target.path).replace("\\", "/").split("/")
    if any(segment in {".", ".."} for segment in segments):
        return False
    for base in bases:
        origin = urlsplit(base)
        prefix = origin.path.rstrip("/") + "/"
        if (target.scheme, target.netloc) == (origin.scheme, origin.netloc) and (
            target.path + "/"
        ).startswith(prefix):
            return True
    return False


def workspace_path(root: Path, relative: str) -> Path:
    """Resolve a workspace-relative path, refusing anything that leaves ``root``."""
    if not isinstance(relative, str) or not relative.strip():
        raise BadRequestError("Give the target 'path' relative to the workspace.")
    pure = PurePosixPath(relative.replace("\\", "/"))
    if pure.is_absolute() or any(part in {"..", ""} for part in pure.parts) or not pure.name:
        raise BadRequestError(f"Target path {relative!r} must stay inside the workspace.")
    root = root.resolve()
    target = (root / pure).resolve()
    if root not in target.parents:
        raise BadRequestError(f"Target path {relative!r} must stay inside the workspace.")
    return target


class Cancelled(Exception):
    """The download was cancelled; the part file is kept for a later resume."""


def fetch_to_file(
    client: httpx.Client,
    href: str,
    dest: Path,
    bases: Sequence[str],
    headers: dict[str, str] | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> int:
    """Stream ``href`` into ``dest`` (via ``dest.part``, resuming it) and return its size.

    Blocking: the server extension runs it in a worker thread, where the synchronous client
    moves bytes about twice as fast as the asynchronous one (measured in bench/proxy.py).

    Raises
    ------
    BadRequestError
        When ``href`` or a redirect leaves the allowed bases.
    NotFoundError, UpstreamError
        When the platform answers an error.
    """
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    offset = part.stat().st_size if part.exists() else 0
    url = href
    for _ in range(MAX_REDIRECTS + 1):
        if not allowed(url, bases):
            raise BadRequestError(
                "Only files of the configured platform can be downloaded.", reason="forbidden_host"
            )
        # Raw bytes are written as they come: ask for them unencoded so Range offsets hold.
        request_headers = {**(headers or {}), "Accept-Encoding": "identity"}
        if offset:
            request_headers["Range"] = f"bytes={offset}-"
        with client.stream("GET", url, headers=request_headers) as response:
            if response.is_redirect:
                url = urljoin(url, response.headers.get("location", ""))
                continue
            if response.status_code == 416 and offset:
                # The part file already holds everything.
                os.replace(part, dest)
                return offset
            if response.status_code == 404:
                raise NotFoundError("The file does not exist or is not visible to you.")
            if response.status_code >= 400:
                raise UpstreamError(f"The platform answered HTTP {response.status_code}.")
            resumed = response.status_code == 206
            total = _total(response, offset if resumed else 0)
            written = offset if resumed else 0
            with part.open("ab" if resumed else "wb") as stream:
                if progress:
                    progress(written, total)
                reported = written
                # The pieces as the socket hands them over: regrouping them into bigger chunks
                # copies every byte once more (30% more CPU per GiB, bench/proxy.py).
                for chunk in response.iter_raw():
                    if cancel is not None and cancel.is_set():
                        raise Cancelled
                    stream.write(chunk)
                    written += len(chunk)
                    if progress and written - reported >= PROGRESS_STEP:
                        progress(written, total)
                        reported = written
                if progress and reported != written:
                    progress(written, total)
        os.replace(part, dest)
        return written
    raise UpstreamError("Too many redirects.", reason="redirect_loop")


def _total(response: httpx.Response, offset: int) -> int | None:
    content_range = response.headers.get("content-range", "")
    if "/" in content_range and not content_range.endswith("/*"):
        with contextlib.suppress(ValueError):
            return int(content_range.rsplit("/", 1)[1])
    length = response.headers.get("content-length")
    return offset + int(length) if length and length.isdigit() else None


@dataclass
class DownloadJob:
    """One download into the workspace, as the UI sees it."""

    id: str
    href: str
    path: str
    status: Status = "running"
    bytes: int = 0
    total: int | None = None
    message: str | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    def describe(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "href": self.href,
            "path": self.path,
            "status": self.status,
            "bytes": self.bytes,
            "total": self.total,
        }
        if self.message:
            body["message"] = self.message
        return body


class DownloadManager:
    """Runs download jobs of one Jupyter server in the background.

    Parameters
    ----------
    root_dir
        The workspace (the contents manager's root).
    timeout
        Seconds without progress before a request fails.
    """

    def __init__(self, root_dir: Path, timeout: float = 60.0) -> None:
        self.root_dir = Path(root_dir)
        self.timeout = timeout
        self.jobs: dict[str, DownloadJob] = {}

    def start(
        self,
        href: str,
        path: str,
        bases: Sequence[str],
        headers: dict[str, str],
        overwrite: bool = False,
    ) -> DownloadJob:
        """Validate and start a download; the job runs on the current event loop."""
        if not isinstance(href, str) or not allowed(href, bases):
            raise BadRequestError(
                "Only files of the configured platform can be downloaded.", reason="forbidden_host"
            )
        dest = workspace_path(self.root_dir, path)
        if dest.exists() and not overwrite:
            raise ConflictError(f"{path} already exists; pass overwrite to replace it.")
        if any(job.path == path and job.status == "running" for job in self.jobs.values()):
            raise ConflictError(f"{path} is already being downloaded.")
        job = DownloadJob(uuid.uuid4().hex, href, path)
        self.jobs[job.id] = job

        def progress(done: int, total: int | None) -> None:
            job.bytes, job.total = done, total

        def fetch() -> int:
            with httpx.Client(timeout=self.timeout) as client:
                return fetch_to_file(client, href, dest, bases, headers, progress, job.cancel)

        async def run() -> None:
            try:
                job.bytes = await asyncio.to_thread(fetch)
                job.status = "done"
            except Cancelled:
                job.status = "cancelled"
                dest.with_name(dest.name + ".part").unlink(missing_ok=True)
            except MLOpsError as error:
                job.status, job.message = "failed", error.message
            except (httpx.HTTPError, OSError) as error:
                job.status = "failed"
                job.message = (
                    f"Download interrupted ({type(error).__name__}); start it again to resume."
                )

        job.task = asyncio.get_running_loop().create_task(run())
        return job

    def get(self, job_id: str) -> DownloadJob:
        try:
            return self.jobs[job_id]
        except KeyError:
            raise NotFoundError(f"No download {job_id!r}.") from None

    async def cancel(self, job_id: str) -> DownloadJob:
        """Stop a running download (between two chunks) and wait for it to stop."""
        job = self.get(job_id)
        job.cancel.set()
        if job.task is not None and not job.task.done():
            with contextlib.suppress(asyncio.CancelledError):
                await job.task
        return job

    async def close(self) -> None:
        for job_id in list(self.jobs):
            await self.cancel(job_id)
