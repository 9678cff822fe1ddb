"""Repository archives: ``/api/download/<project>/archive.<fmt>`` and ``/repository/archive.<fmt>``.

GitLab projects are proxied from the GitLab double's archive endpoint with the caller's token;
local projects are archived by the server itself, streamed through a bounded queue.
"""

from __future__ import annotations

import io
import os
import tarfile
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import httpx
import pytest
from mlops_server.archive import CHUNK, QUEUE_CHUNKS, Entry, stream_archive

from tests.gitlab_double import GitLabDouble
from tests.server.conftest import TABLE_PROJECTS
from tests.server.test_gitlab_permissions import CELLS, TABLE, headers_of

FORMATS = ["zip", "tar.gz", "tar.bz2", "tar"]


def members(body: bytes, fmt: str) -> dict[str, bytes]:
    """Name -> content of every file in an archive."""
    if fmt == "zip":
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            return {name: archive.read(name) for name in archive.namelist()}
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:*") as archive:
        found = {}
        for info in archive.getmembers():
            extracted = archive.extractfile(info)
            if extracted is not None:
                found[info.name] = extracted.read()
        return found


def by_file(content: dict[str, bytes]) -> dict[str, bytes]:
    """The same, keyed by path below the archive's single top folder."""
    tops = {name.split("/", 1)[0] for name in content}
    assert len(tops) == 1, tops
    return {name.split("/", 1)[1]: data for name, data in content.items()}


# -- GitLab ------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "visibility"), CELLS)
def test_gitlab_archives_follow_the_file_download_rules(
    gitlab_url: str, role: str, visibility: str
) -> None:
    # Given a project of this visibility and the role's upstream access level on it
    path = TABLE_PROJECTS[visibility]
    level = TABLE[role][visibility]
    # When the role downloads its archive
    response = httpx.get(
        f"{gitlab_url}/api/download/{path}/archive.zip",
        params={"ref": "main"},
        headers=headers_of(role),
        timeout=30,
    )
    # Then it gets what a file download would give it
    if level == 0:
        assert response.status_code == 404
    elif level == 1:
        assert response.status_code == 403
        assert response.json()["reason"] == "forbidden"
    else:
        assert response.status_code == 200
        files = by_file(members(response.content, "zip"))
        assert files["weights.bin"] == f"WEIGHTS-{visibility}".encode()  # LFS resolved
        assert files["README.md"].startswith(b"---")
    assert b"WEIGHTS" not in response.content or level >= 2


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("spelling", ["archive", "repository/archive"])
def test_gitlab_archives_are_proxied_in_every_format_with_the_callers_token(
    gitlab: GitLabDouble, gitlab_url: str, fmt: str, spelling: str
) -> None:
    # Given the developer and the private model
    path = TABLE_PROJECTS["private"]
    calls_before = len(gitlab.requests)
    # When it asks for the archive, without a ref
    response = httpx.get(
        f"{gitlab_url}/api/download/{path}/{spelling}.{fmt}",
        headers={"Authorization": "Bearer developer-token"},
        timeout=30,
    )
    # Then the archive of the default branch streams back, named after project and ref
    assert response.status_code == 200
    assert response.headers["transfer-encoding"] == "chunked"
    assert f'filename="private-model-main.{fmt}"' in response.headers["content-disposition"]
    files = by_file(members(response.content, fmt))
    assert files["weights.bin"] == b"WEIGHTS-private"
    # And GitLab was asked as the developer, not with the service token
    asked = [r for r in gitlab.requests[calls_before:] if "/repository/archive" in r[1]]
    assert [user for _, _, user in asked] == ["developer"]
    assert "developer-token" not in response.headers.get("content-disposition", "")


def test_unknown_refs_and_formats_are_404(gitlab_url: str) -> None:
    path = TABLE_PROJECTS["public"]
    unknown_ref = httpx.get(f"{gitlab_url}/api/download/{path}/archive.zip?ref=nope")
    assert unknown_ref.status_code == 404
    assert unknown_ref.json()["reason"] == "not_found"
    assert httpx.get(f"{gitlab_url}/api/download/{path}/archive.rar").status_code == 404


# -- local store --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("archive-store")
    project = root / "team" / "data-kit"
    (project / "data" / "nested").mkdir(parents=True)
    (project / "mlops-project.yaml").write_text(
        "id: 7001\nname: Data kit\ntopics: [sharinghub:dataset]\nvisibility: public\n"
    )
    (project / "README.md").write_text("---\ntitle: Data kit\n---\n# Data kit\n")
    (project / "data" / "a.csv").write_text("x,y\n1,2\n")
    (project / "data" / "nested" / "b.bin").write_bytes(os.urandom(300_000))
    (project / "archive.zip").write_bytes(b"a file that happens to be called archive.zip")
    secret = root / "team" / "hidden"
    secret.mkdir()
    (secret / "mlops-project.yaml").write_text(
        "id: 7002\nname: Hidden\ntopics: [sharinghub:dataset]\nvisibility: private\n"
    )
    (secret / "secret.txt").write_text("secret\n")
    return root


@pytest.fixture(scope="module")
def local_url(local_store: Path, serve: Callable[..., str]) -> str:
    return serve("--projects", str(local_store))


@pytest.mark.parametrize("fmt", FORMATS)
def test_local_projects_are_archived_by_the_server(
    local_store: Path, local_url: str, fmt: str
) -> None:
    # When the archive of a local project is downloaded
    response = httpx.get(f"{local_url}/api/download/team/data-kit/archive.{fmt}?ref=main")
    # Then it is streamed and holds exactly the project's files (not its manifest)
    assert response.status_code == 200
    assert response.headers["transfer-encoding"] == "chunked"
    assert response.headers["content-type"].startswith(
        {"zip": "application/zip", "tar.gz": "application/gzip"}.get(fmt, "application/x-")
    )
    files = by_file(members(response.content, fmt))
    project = local_store / "team" / "data-kit"
    expected = {
        p.relative_to(project).as_posix(): p.read_bytes()
        for p in project.rglob("*")
        if p.is_file() and p.name != "mlops-project.yaml"
    }
    assert files == expected
    assert {name.split("/", 1)[0] for name in members(response.content, fmt)} == {"data-kit-main"}


def test_a_repository_file_named_like_an_archive_wins(local_url: str) -> None:
    # When GitLab's spelling names a file that exists at the repository root
    file = httpx.get(f"{local_url}/api/download/team/data-kit/repository/archive.zip")
    # Then the file is served, and the upstream spelling still gives the archive
    assert file.content == b"a file that happens to be called archive.zip"
    archive = httpx.get(f"{local_url}/api/download/team/data-kit/archive.zip")
    assert "data/a.csv" in by_file(members(archive.content, "zip"))


def test_local_archives_keep_permissions_and_refs(local_url: str) -> None:
    hidden = httpx.get(f"{local_url}/api/download/team/hidden/archive.zip")
    assert hidden.status_code == 404
    assert b"secret" not in hidden.content
    other_ref = httpx.get(f"{local_url}/api/download/team/data-kit/archive.tar?ref=dev")
    assert other_ref.status_code == 404
    assert other_ref.json()["reason"] == "not_found"


# -- streaming, in process ------------------------------------------------------------------


class CountingReader(io.RawIOBase):
    """Incompressible bytes of a given size, counting how many were read."""

    def __init__(self, size: int, counter: list[int]) -> None:
        self.left = size
        self.counter = counter

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        size = min(len(buffer), self.left)
        buffer[:size] = os.urandom(size)
        self.left -= size
        self.counter[0] += size
        return size


@pytest.mark.parametrize("fmt", ["zip", "tar"])
def test_archives_are_written_no_further_ahead_than_the_reader(fmt: str) -> None:
    # Given a 24 MB file to archive
    size = 24 << 20
    read = [0]

    def opener() -> BinaryIO:
        return io.BufferedReader(CountingReader(size, read))

    chunks = stream_archive([Entry("top/big.bin", size, opener, 0.0)], fmt)
    # When the response drains the archive chunk by chunk
    sent, lead = 0, 0
    for chunk in chunks:
        lead = max(lead, read[0] - sent)
        sent += len(chunk)
    # Then the producer never ran more than the bounded queue (plus buffers) ahead
    assert sent > size
    assert lead <= (QUEUE_CHUNKS + 8) * CHUNK


def test_a_reader_that_goes_away_stops_the_producer() -> None:
    # Given a big archive being streamed
    read = [0]
    size = 64 << 20

    def opener() -> BinaryIO:
        return io.BufferedReader(CountingReader(size, read))

    chunks = stream_archive([Entry("top/big.bin", size, opener, 0.0)], "tar")
    # When the client disconnects after the first chunk
    next(chunks)
    chunks.close()
    # Then the writer thread is gone, having read only a small part of the file
    assert not [t for t in threading.enumerate() if t.name == "archive-writer"]
    assert read[0] < size // 4
