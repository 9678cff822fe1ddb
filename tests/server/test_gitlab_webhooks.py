"""GitLab webhooks: the shared secret, and one project re-indexed within a second."""

from __future__ import annotations

import time

import httpx

from tests.gitlab_double import REPORTER, GitLabDouble, Project
from tests.server.conftest import WEBHOOK_SECRET

HOOKED = "hooks/wine-dataset"


def _item(url: str, path: str, token: str | None = None) -> httpx.Response:
    headers = {"X-Gitlab-Token": token} if token else {}
    return httpx.get(f"{url}/api/stac/collections/dataset/items/{path}", headers=headers)


def test_webhook_needs_the_shared_secret(gitlab_url: str) -> None:
    event = {"object_kind": "push", "project_id": 1}
    missing = httpx.post(f"{gitlab_url}/api/webhooks/gitlab", json=event)
    wrong = httpx.post(
        f"{gitlab_url}/api/webhooks/gitlab", json=event, headers={"X-Gitlab-Token": "guess"}
    )
    assert missing.status_code == 401
    assert wrong.status_code == 403
    assert "guess" not in wrong.text


def test_webhooks_create_update_and_delete_items_within_a_second(
    gitlab: GitLabDouble, gitlab_url: str
) -> None:
    # Given a project created in GitLab after the initial sync (system hook event)
    assert _item(gitlab_url, HOOKED).status_code == 404
    gitlab.state.add_project(
        Project(
            HOOKED,
            visibility="public",
            topics=["sharinghub:dataset"],
            files={"README.md": "---\ntitle: Wine v1\n---\n# Wine\n"},
        ),
        notify=True,
    )
    assert _item(gitlab_url, HOOKED).json()["properties"]["title"] == "Wine v1"

    # When a push changes the README front matter
    started = time.monotonic()
    gitlab.state.push(HOOKED, {"README.md": "---\ntitle: Wine v2\n---\n# Wine\n"})
    while _item(gitlab_url, HOOKED).json()["properties"]["title"] != "Wine v2":
        assert time.monotonic() - started < 1.0, "not re-indexed within a second"
        time.sleep(0.02)

    # When the project is deleted
    gitlab.state.delete_project(HOOKED)
    # Then it is gone from the catalog
    assert _item(gitlab_url, HOOKED).status_code == 404
    assert httpx.get(f"{gitlab_url}/api/check/{HOOKED}").status_code == 404


def test_membership_events_refresh_cached_access(gitlab: GitLabDouble, gitlab_url: str) -> None:
    # Given a private project the outsider is not a member of (and its access is cached)
    path = "hooks/private-notes"
    gitlab.state.add_project(
        Project(path, visibility="private", topics=["sharinghub:dataset"]), notify=True
    )
    assert _item(gitlab_url, path, "outsider-token").status_code == 404

    # When the outsider is added as a reporter
    gitlab.state.set_member(path, "outsider", REPORTER)
    # Then the cached memberships were dropped: the project is visible at once
    response = _item(gitlab_url, path, "outsider-token")
    assert response.status_code == 200
    assert response.json()["properties"]["sharinghub:access-level"] == 2

    # When removed again, it disappears at once
    gitlab.state.set_member(path, "outsider", None)
    assert _item(gitlab_url, path, "outsider-token").status_code == 404


def test_visibility_change_is_applied_by_a_project_event(
    gitlab: GitLabDouble, gitlab_url: str
) -> None:
    # Given a public dataset seen by anonymous callers
    path = "hooks/opened-then-closed"
    gitlab.state.add_project(
        Project(path, visibility="public", topics=["sharinghub:dataset"]), notify=True
    )
    assert _item(gitlab_url, path).status_code == 200
    # When it becomes private
    gitlab.state.update_project(path, visibility="private")
    # Then anonymous callers no longer see it
    assert _item(gitlab_url, path).status_code == 404
    assert WEBHOOK_SECRET not in _item(gitlab_url, path).text


def test_a_group_rename_moves_every_project_below_it(gitlab: GitLabDouble, gitlab_url: str) -> None:
    # Given: two catalogued projects of one group, indexed through their creation events
    paths = ("rename-me/model-a", "rename-me/sub/model-b")
    for path in paths:
        gitlab.state.add_project(
            Project(path, visibility="public", topics=["sharinghub:dataset"]), notify=True
        )
    assert all(_item(gitlab_url, path).status_code == 200 for path in paths)

    # When the group is renamed (GitLab sends a single group_rename system hook event)
    gitlab.state.rename_group("rename-me", "renamed")

    # Then, once the background re-sync is done, both projects are under the new path only
    moved = tuple(path.replace("rename-me/", "renamed/") for path in paths)
    deadline = time.monotonic() + 30
    while not all(_item(gitlab_url, path).status_code == 200 for path in moved):
        assert time.monotonic() < deadline, "the renamed group's projects never appeared"
        time.sleep(0.05)
    assert [_item(gitlab_url, path).status_code for path in paths] == [404, 404]
