"""Contract tests of our GitLab client (``GitLabSource``) against GitLab's REST API.

They run against the GitLab double, or against a real GitLab when ``MLOPS_TEST_GITLAB_URL``
and ``MLOPS_TEST_GITLAB_TOKEN`` are set; then only instance-independent facts are asserted
(what our client reads must agree with what GitLab's API says, page by page).
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from mlops_server.access import InvalidToken
from mlops_server.sources.gitlab import GitLabSource

from tests.gitlab_double import GitLabDouble
from tests.server.conftest import BIG_FILES, BIG_PROJECT, TABLE_PROJECTS

SAMPLE = 5  # projects examined in depth on a real instance


@dataclass
class Target:
    url: str
    token: str
    double: bool

    def get(self, path: str, token: str | None = None, **params: Any) -> httpx.Response:
        headers = {"PRIVATE-TOKEN": token if token is not None else self.token}
        if token == "":
            headers = {}
        return httpx.get(f"{self.url}/api/v4{path}", params=params, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def target(gitlab: GitLabDouble) -> Target:
    url = os.environ.get("MLOPS_TEST_GITLAB_URL")
    token = os.environ.get("MLOPS_TEST_GITLAB_TOKEN")
    if url and token:
        return Target(url.rstrip("/"), token, double=False)
    return Target(gitlab.url, "developer-token", double=True)


def _level(project: dict[str, Any]) -> int:
    permissions = project.get("permissions") or {}
    return max(
        int((permissions.get(kind) or {}).get("access_level") or 0)
        for kind in ("project_access", "group_access")
    )


def test_memberships_agree_with_each_projects_permissions(target: Target) -> None:
    # When our client lists the token's memberships
    membership = GitLabSource(target.url, target.token).memberships(target.token)
    # Then every role matches the project's own permissions as GitLab reports them
    for project_id, role in itertools.islice(membership.roles.items(), SAMPLE * 4):
        project = target.get(f"/projects/{project_id}").json()
        assert _level(project) == role, project_id
    if target.double:
        ids = {
            target.get(f"/projects/{quote(p, safe='')}").json()["id"]
            for p in TABLE_PROJECTS.values()
        }
        assert {i: membership.roles[i] for i in ids} == dict.fromkeys(ids, 30)
        assert membership.admin is False


def test_an_unknown_token_is_refused(target: Target) -> None:
    with pytest.raises(InvalidToken):
        GitLabSource(target.url, target.token).memberships("not-a-real-token")
    assert target.get("/user", token="not-a-real-token").status_code == 401


def test_offset_pagination_headers_walk_every_project(target: Target) -> None:
    # Given one project per page
    seen: list[int] = []
    page = "1"
    # When following X-Next-Page (at most a few pages on a real instance)
    while page and len(seen) < SAMPLE:
        response = target.get("/projects", per_page=1, page=page, order_by="id", sort="asc")
        assert response.status_code == 200
        assert response.headers["X-Per-Page"] == "1"
        assert response.headers["X-Page"] == page
        page = response.headers["X-Next-Page"]
        assert ('rel="next"' in response.headers.get("Link", "")) == bool(page)
        seen.extend(p["id"] for p in response.json())
    # Then pages do not overlap and follow the order asked for
    assert seen == sorted(set(seen))
    assert len(seen) >= 2


def _tree_by_offset(target: Target, project_id: int, ref: str) -> list[str]:
    blobs: list[str] = []
    page = "1"
    while page:
        response = target.get(
            f"/projects/{project_id}/repository/tree",
            recursive="true",
            ref=ref,
            per_page=37,
            page=page,
        )
        if response.status_code == 404:  # empty repository
            return []
        blobs.extend(e["path"] for e in response.json() if e["type"] == "blob")
        page = response.headers.get("X-Next-Page", "")
    return sorted(blobs)


def test_projects_read_by_the_source_have_their_complete_tree(target: Target) -> None:
    # Given our source (keyset pages of 100) and the offset-paginated tree (pages of 37)
    source = GitLabSource(target.url, target.token)
    projects = list(
        itertools.islice(source.iter_projects(), SAMPLE * 4 if target.double else SAMPLE)
    )
    assert projects
    # Then both agree on every file, past the 100-entry page size
    for project in projects:
        assert list(project.files) == _tree_by_offset(target, project.id, project.default_branch)
    if target.double:
        big = next(p for p in projects if p.path == BIG_PROJECT)
        assert len(big.files) == BIG_FILES + 1  # and the README


def test_readme_and_streamed_files_are_the_raw_content(target: Target) -> None:
    # Given a project with a README
    source = GitLabSource(target.url, target.token)
    project = next(p for p in source.iter_projects() if p.readme is not None)
    name = next(n for n in ("README.md", "readme.md") if n in project.files)
    raw = target.get(
        f"/projects/{project.id}/repository/files/{quote(name, safe='')}/raw",
        ref=project.default_branch,
        lfs="true",
    )
    # When streaming it through our source
    with source.open_file(project.path, name, project.default_branch).open() as stream:
        streamed = stream.read()
    # Then
    assert streamed == raw.content
    assert project.readme == raw.content.decode("utf-8", errors="replace")


def test_invisible_projects_are_404_to_anonymous_and_lfs_resolves(target: Target) -> None:
    # Given the private projects the token can see
    membership = GitLabSource(target.url, target.token).memberships(target.token)
    private = [
        p
        for p in (
            target.get(f"/projects/{i}").json()
            for i in itertools.islice(membership.roles, SAMPLE * 4)
        )
        if p.get("visibility") == "private"
    ]
    # Then anonymous callers get a 404 for them, by id and by url-encoded path
    for project in private:
        assert target.get(f"/projects/{project['id']}", token="").status_code == 404
        encoded = quote(project["path_with_namespace"], safe="")
        assert target.get(f"/projects/{encoded}", token="").status_code == 404
    if target.double:
        assert private
        path = quote(TABLE_PROJECTS["private"], safe="")
        pointer = target.get(f"/projects/{path}/repository/files/weights.bin/raw", ref="main")
        content = target.get(
            f"/projects/{path}/repository/files/weights.bin/raw", ref="main", lfs="true"
        )
        assert pointer.content.startswith(b"version https://git-lfs.github.com/spec/v1")
        assert content.content == b"WEIGHTS-private"


def test_keyset_pagination_of_projects_follows_link_headers(target: Target) -> None:
    # Given keyset pages of one project, ordered by id
    url: str | None = f"{target.url}/api/v4/projects"
    params: dict[str, Any] | None = {
        "pagination": "keyset",
        "per_page": 1,
        "order_by": "id",
        "sort": "asc",
    }
    seen: list[int] = []
    # When following rel="next" links
    while url and len(seen) < SAMPLE:
        response = httpx.get(url, params=params, headers={"PRIVATE-TOKEN": target.token})
        assert response.status_code == 200
        seen.extend(p["id"] for p in response.json())
        url = response.links.get("next", {}).get("url")
        params = None  # the link carries the cursor and every parameter
    # Then ids strictly increase, with no page repeated
    assert len(seen) >= 2
    assert seen == sorted(set(seen))
