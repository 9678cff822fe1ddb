"""Upstream's ``:starred`` flag: only the projects the caller starred in GitLab."""

from __future__ import annotations

import httpx

from tests.gitlab_double import GitLabDouble, User
from tests.server.conftest import TABLE_PROJECTS


def _ids(url: str, q: str, token: str | None = None) -> set[str]:
    headers = {"X-Gitlab-Token": token} if token else {}
    response = httpx.get(f"{url}/api/stac/search", params={"q": q}, headers=headers)
    assert response.status_code == 200, response.text
    return {feature["id"] for feature in response.json()["features"]}


def test_starred_keeps_the_callers_starred_projects_only(
    gitlab: GitLabDouble, gitlab_url: str
) -> None:
    # Given: a user who starred the public and the internal model of the table
    public, internal = TABLE_PROJECTS["public"], TABLE_PROJECTS["internal"]
    gitlab.state.add_user(User("star-gazer", ["star-gazer-token"], starred={public, internal}))

    # When / Then: alone, and with other terms of the mini-language
    assert _ids(gitlab_url, ":starred", "star-gazer-token") == {public, internal}
    assert _ids(gitlab_url, "[flood],public,:starred", "star-gazer-token") == {public}
    assert public in _ids(gitlab_url, "", "star-gazer-token") - {internal}
    # And a caller without a GitLab user has starred nothing
    assert _ids(gitlab_url, ":starred") == set()


def test_starred_on_a_local_store_is_empty(http: httpx.Client) -> None:
    response = http.get("/api/stac/search", params={"q": ":starred"})
    assert response.status_code == 200
    assert response.json()["features"] == []
    assert http.get("/api/stac/search", params={"q": ":other-flag"}).json()["features"]
