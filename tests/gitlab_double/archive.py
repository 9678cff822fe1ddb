"""``GET /projects/:id/repository/archive[.format]`` of the GitLab double.

As documented by GitLab: ``sha`` picks the ref (default branch when absent), the format comes
from the path suffix (``tar.gz`` when none; ``tar.bz2``/``tbz``/``tbz2``/``tb2``/``bz2``,
``tar``, ``zip``), every file sits under one folder ``<project>-<ref>-<sha>/``, LFS objects
are included unless ``include_lfs_blobs=false``, and the body is an attachment named
``<project>-<ref>.<format>``.
"""

from __future__ import annotations

import io
import tarfile
import zipfile

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.gitlab_double.model import Project

_FORMATS = {
    "tar.gz": "w:gz",
    "tar.bz2": "w:bz2",
    "tbz": "w:bz2",
    "tbz2": "w:bz2",
    "tb2": "w:bz2",
    "bz2": "w:bz2",
    "tar": "w:",
    "zip": "zip",
}


def repository_archive(request: Request, project: Project, name: str) -> Response:
    """The archive answer for the last path segment ``name`` (``archive[.format]``)."""
    fmt = name[len("archive.") :] if name.startswith("archive.") else "tar.gz"
    if name not in ("archive", f"archive.{fmt}") or fmt not in _FORMATS:
        return JSONResponse({"message": "404 Not Found"}, 404)
    ref = request.query_params.get("sha") or project.default_branch
    if ref not in (project.default_branch, project.commit_sha, project.commit_sha[:8], "HEAD"):
        return JSONResponse({"message": "404 Commit Not Found"}, 404)
    stem = project.path.rsplit("/", 1)[-1]
    top = f"{stem}-{ref}-{project.commit_sha}"
    lfs = request.query_params.get("include_lfs_blobs", "true").lower() != "false"
    files = {
        path: project.content(path) if lfs else project.stored(path)
        for path in sorted(project.files)
    }
    buffer = io.BytesIO()
    if fmt == "zip":
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path, data in files.items():
                archive.writestr(f"{top}/{path}", data)
    else:
        with tarfile.open(fileobj=buffer, mode=_FORMATS[fmt]) as archive:  # type: ignore[call-overload]
            for path, data in files.items():
                info = tarfile.TarInfo(f"{top}/{path}")
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return Response(
        buffer.getvalue(),
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{stem}-{ref}.{fmt}"'},
    )
