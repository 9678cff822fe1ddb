"""The files of a publication: where they come from, where they go, and how they are stored.

Every file is hashed once, in one streaming pass that yields both identities a platform may
compare against: the Git blob id of what the repository will hold (the LFS pointer for large
binaries) and the SHA-256 of the content (the LFS object id). Comparing them with what the
project already holds is what makes a rerun commit only what changed.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..errors import PublishValidationError

#: Files at least this large go through Git LFS (bytes).
DEFAULT_LFS_THRESHOLD = 1 << 20
#: Binary model and data formats that always go through Git LFS, whatever their size.
LFS_SUFFIXES = frozenset(
    {
        ".onnx", ".pt", ".pth", ".ckpt", ".safetensors", ".pkl", ".joblib", ".h5", ".keras",
        ".pb", ".tflite", ".bin", ".npy", ".npz", ".parquet", ".tif", ".tiff", ".zip", ".gz",
        ".nc", ".zarr", ".jp2",
    }
)  # fmt: skip
#: Paths the publisher writes itself; workspace files may not take them.
RESERVED = frozenset({"README.md", ".gitattributes"})
_CHUNK = 1 << 20


def lfs_pointer(oid: str, size: int) -> bytes:
    """The Git LFS pointer file of an object (spec v1)."""
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n".encode()


def git_blob_id(data: bytes) -> str:
    """The Git object id (SHA-1) of a blob with this content."""
    digest = hashlib.sha1(b"blob %d\0" % len(data), usedforsecurity=False)
    digest.update(data)
    return digest.hexdigest()


@dataclass(frozen=True)
class PlannedFile:
    """One file of the publication.

    Attributes
    ----------
    path
        Path inside the project (POSIX, relative).
    size
        Content size in bytes.
    sha256
        SHA-256 of the content (the LFS object id).
    blob_id
        Git blob id of what the repository holds: the pointer when ``lfs``, else the content.
    lfs
        Whether the content goes through Git LFS.
    source
        The file on disk, or None for content made by the publisher (``data``).
    """

    path: str
    size: int
    sha256: str
    blob_id: str
    lfs: bool
    source: Path | None = None
    data: bytes | None = field(default=None, repr=False)

    @property
    def stored(self) -> bytes:
        """What the Git repository holds for this file (pointer or the content)."""
        return lfs_pointer(self.sha256, self.size) if self.lfs else self.read()

    def read(self) -> bytes:
        """The whole content (only for what fits a commit: small files and pointers)."""
        if self.data is not None:
            return self.data
        assert self.source is not None
        return self.source.read_bytes()

    def chunks(self) -> Iterator[bytes]:
        """The content, streamed."""
        if self.data is not None:
            yield self.data
            return
        assert self.source is not None
        with self.source.open("rb") as stream:
            while chunk := stream.read(_CHUNK):
                yield chunk

    def describe(self) -> dict[str, object]:
        """JSON-able summary for plans (no content)."""
        return {"path": self.path, "size": self.size, "lfs": self.lfs, "sha256": self.sha256}


def generated(path: str, data: bytes) -> PlannedFile:
    """A file made by the publisher (README, .gitattributes), never through LFS."""
    return PlannedFile(
        path, len(data), hashlib.sha256(data).hexdigest(), git_blob_id(data), False, None, data
    )


def from_disk(path: str, source: Path, lfs_threshold: int) -> PlannedFile:
    """Hash a workspace file (one pass) and decide whether it goes through LFS."""
    size = source.stat().st_size
    lfs = size >= lfs_threshold or PurePosixPath(path).suffix.lower() in LFS_SUFFIXES
    sha256 = hashlib.sha256()
    blob = hashlib.sha1(b"blob %d\0" % size, usedforsecurity=False)
    with source.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            sha256.update(chunk)
            if not lfs:
                blob.update(chunk)
    oid = sha256.hexdigest()
    blob_id = git_blob_id(lfs_pointer(oid, size)) if lfs else blob.hexdigest()
    return PlannedFile(path, size, oid, blob_id, lfs, source)


def _clean_target(target: str, field_name: str) -> str:
    pure = PurePosixPath(target.replace("\\", "/").strip("/"))
    if not pure.parts or any(part in ("", ".", "..") for part in pure.parts):
        raise PublishValidationError.of(
            field_name, f"{target!r} is not a relative path inside the project"
        )
    if pure.parts[0] == ".git" or pure.as_posix() in RESERVED:
        raise PublishValidationError.of(
            field_name, f"{target!r} is written by the publisher itself"
        )
    return pure.as_posix()


def _resolve(source: str | os.PathLike[str], root: Path | None, field_name: str) -> Path:
    path = Path(source).expanduser()
    if root is not None:
        if path.is_absolute():
            raise PublishValidationError.of(
                field_name, f"{source!s} must be relative to the workspace"
            )
        path = root / path
    path = path.resolve()
    if root is not None and not path.is_relative_to(root.resolve()):
        raise PublishValidationError.of(field_name, f"{source!s} is outside the workspace")
    if not path.exists():
        raise PublishValidationError.of(field_name, f"{source!s} does not exist", "file_not_found")
    return path


def expand(
    files: Mapping[str, str | os.PathLike[str]] | Iterable[str | os.PathLike[str]],
    root: Path | None = None,
) -> dict[str, Path]:
    """Map project paths to workspace files; folders are walked (hidden entries skipped).

    ``files`` is a list of workspace paths (a file keeps its name, a folder its name and
    layout) or a mapping ``{project path: workspace path}``. With ``root`` (the Jupyter
    workspace), sources must be relative to it and stay inside.
    """
    pairs: list[tuple[str | None, str | os.PathLike[str]]]
    if isinstance(files, Mapping):
        pairs = list(files.items())
    else:
        pairs = [(None, source) for source in files]
    result: dict[str, Path] = {}
    for number, (target, source) in enumerate(pairs):
        field_name = f"files[{target!r}]" if target is not None else f"files[{number}]"
        path = _resolve(source, root, field_name)
        base = target if target is not None else path.name
        if path.is_file():
            entries = [(base, path)]
        else:
            entries = []
            for current, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(names):
                    if name.startswith("."):
                        continue
                    full = Path(current) / name
                    relative = full.relative_to(path).as_posix()
                    # a link inside the folder may point anywhere: keep the workspace rule
                    if root is not None and not full.resolve().is_relative_to(root.resolve()):
                        raise PublishValidationError.of(
                            field_name, f"{source!s}/{relative} links outside the workspace"
                        )
                    entries.append((f"{base}/{relative}", full))
            if not entries:
                raise PublishValidationError.of(field_name, f"folder {source!s} holds no file")
        for project_path, file_path in entries:
            clean = _clean_target(project_path, field_name)
            if clean in result and result[clean] != file_path:
                raise PublishValidationError.of(
                    field_name, f"two files would be published as {clean!r}"
                )
            result[clean] = file_path
    return result


def gitattributes(lfs_paths: Iterable[str], existing: str = "") -> str | None:
    """``.gitattributes`` with one LFS line per path added to ``existing``; None if unchanged."""
    lines = existing.splitlines()
    tracked = {line.split()[0] for line in lines if line.strip() and not line.startswith("#")}
    added = [
        f"{_escape(path)} filter=lfs diff=lfs merge=lfs -text"
        for path in sorted(lfs_paths)
        if _escape(path) not in tracked
    ]
    if not added:
        return None
    return "\n".join([*lines, *added]) + "\n"


def _escape(path: str) -> str:
    # gitattributes patterns: a space must be escaped, and a leading '/' anchors to the root.
    return "/" + path.replace(" ", "[[:space:]]")
