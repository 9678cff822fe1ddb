"""Roles GitLab does not spell out in a project's ``permissions``, and users it treats apart.

Access through a group share or a grandparent group leaves both ``project_access`` and
``group_access`` empty; blocked users get a 403 on every call; external users do not see
internal projects they are not members of. Everything here is seeded with its own users,
groups and projects, invisible to the users of the permission table (whose counts stay as
they are): private projects have only the users below as members, and the internal ones
are datasets, which no other test counts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from mlops_server.sources.gitlab import GitLabSource

from tests.gitlab_double import DEVELOPER, MAINTAINER, REPORTER, GitLabDouble, Group, Project, User
from tests.server.conftest import SERVICE_TOKEN, TABLE_PROJECTS

SHARED = "roles-team/shared-model"
DEEP = "roles-top/middle/deep-model"
INTERNAL = "roles-open/internal-dataset"
JOINED = "roles-open/joined-dataset"


def _model(path: str, **fields: Any) -> Project:
    title = path.rsplit("/", 1)[-1]
    return Project(
        path,
        topics=["sharinghub:aimodel"],
        files={
            "README.md": f"---\ntitle: {title}\n---\n# {title}\n",
            "weights.bin": b"W-" + path.encode(),
        },
        **fields,
    )


@pytest.fixture(scope="module")
def api(gitlab: GitLabDouble, gitlab_url: str) -> Callable[..., httpx.Response]:
    """GET on the catalog with a token, once the users and projects below are in GitLab
    (and indexed through their creation webhooks)."""
    state = gitlab.state
    for user in (
        User("roles-sharee", ["roles-sharee-token"]),
        User("roles-heir", ["roles-heir-token"]),
        User("roles-blocked", ["roles-blocked-token"], state="blocked"),
        User("roles-external", ["roles-external-token"], external=True),
    ):
        state.add_user(user)
    # The sharee is a maintainer of a group the project is shared with, up to developer.
    state.add_group(Group("roles-partners", members={"roles-sharee": MAINTAINER}))
    state.add_project(_model(SHARED, shared_with_groups={"roles-partners": DEVELOPER}), notify=True)
    # The heir is a developer of the project's grandparent group only.
    state.add_group(Group("roles-top", members={"roles-heir": DEVELOPER}))
    state.add_group(Group("roles-top/middle"))
    state.add_project(_model(DEEP), notify=True)
    # Two internal datasets; the external user is a member of the second one only.
    for path, members in ((INTERNAL, {}), (JOINED, {"roles-external": REPORTER})):
        state.add_project(
            Project(path, visibility="internal", topics=["sharinghub:dataset"], members=members),
            notify=True,
        )
    client = httpx.Client(base_url=gitlab_url, timeout=10)

    def get(token: str, path: str, **params: Any) -> httpx.Response:
        return client.get(path, params=params, headers={"X-Gitlab-Token": token})

    return get


@pytest.mark.parametrize(
    ("username", "path"),
    [("roles-sharee", SHARED), ("roles-heir", DEEP)],
    ids=["group-share", "grandparent-group"],
)
def test_roles_missing_from_gitlabs_permissions_are_resolved(
    gitlab: GitLabDouble, api: Callable[..., httpx.Response], username: str, path: str
) -> None:
    # Given a developer whose access GitLab's project permissions leave out
    token = f"{username}-token"
    listed = httpx.get(
        f"{gitlab.url}/api/v4/projects",
        params={"min_access_level": 10},
        headers={"PRIVATE-TOKEN": token},
    ).json()
    assert [p["permissions"] for p in listed if p["path_with_namespace"] == path] == [
        {"project_access": None, "group_access": None}
    ]

    # When the developer checks the project and downloads one of its files
    check = api(token, f"/api/check/{path}", info="true")
    download = api(token, f"/api/download/{path}/repository/weights.bin", ref="main")

    # Then the developer's level is the contributor's, and reading the repository is allowed
    assert check.status_code == 200
    assert check.json()["access_level"] == 3
    assert download.status_code == 200
    assert download.content == b"W-" + path.encode()


def test_extra_listings_are_asked_only_for_roles_left_out(
    gitlab: GitLabDouble, api: Callable[..., httpx.Response]
) -> None:
    # Given a source over the double, and the projects calls made so far
    source = GitLabSource(gitlab.url, SERVICE_TOKEN)

    def projects_calls(username: str) -> int:
        return sum(
            1 for _, path, user in gitlab.requests if path == "projects" and user == username
        )

    before = {name: projects_calls(name) for name in ("developer", "roles-sharee")}
    # When the memberships of a direct member and of a member through a share are read
    direct = source.memberships("developer-token")
    shared = source.memberships("roles-sharee-token")
    # Then the direct member costs one listing, the share one more per role up to the first
    # that no longer holds the project (reporter, developer, maintainer)
    assert projects_calls("developer") - before["developer"] == 1
    assert projects_calls("roles-sharee") - before["roles-sharee"] == 4
    table = [gitlab.state.project(path).id for path in TABLE_PROJECTS.values()]  # type: ignore[union-attr]
    assert [direct.roles[project_id] for project_id in table] == [DEVELOPER] * 3
    assert shared.roles == {gitlab.state.project(SHARED).id: DEVELOPER}  # type: ignore[union-attr]


def test_a_blocked_users_token_is_refused_with_401(api: Callable[..., httpx.Response]) -> None:
    # Given a user GitLab blocked (403 Forbidden on every call, /user included)
    # When the user's token searches the catalog
    response = api("roles-blocked-token", "/api/stac/search")
    # Then the token is refused as invalid, not as a server error
    assert response.status_code == 401
    assert response.json()["reason"] == "unauthorized"
    assert "roles-blocked-token" not in response.text


def test_external_users_see_internal_projects_they_are_members_of_only(
    api: Callable[..., httpx.Response],
) -> None:
    # When the external user searches for both internal datasets and checks each
    token = "roles-external-token"
    search = api(token, "/api/stac/search", ids=f"{INTERNAL},{JOINED}").json()
    hidden = api(token, f"/api/check/{INTERNAL}", info="true")
    joined = api(token, f"/api/check/{JOINED}", info="true")
    # Then only the one with a membership is found
    assert {f["id"] for f in search["features"]} == {JOINED}
    assert hidden.status_code == 404
    assert joined.status_code == 200
    assert joined.json()["access_level"] == 2
    # And an ordinary signed-in user sees both
    outsider = api("outsider-token", "/api/stac/search", ids=f"{INTERNAL},{JOINED}").json()
    assert {f["id"] for f in outsider["features"]} == {INTERNAL, JOINED}
