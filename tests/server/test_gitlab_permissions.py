"""Exact permissions over GitLab: every role x visibility x route matches GitLab's rules.

The server catalogs the GitLab double (public mode on); each caller sends its own token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.gitlab_double import GitLabDouble
from tests.server.conftest import (
    BIG_FILES,
    BIG_PROJECT,
    S3_BUCKET,
    SERVICE_TOKEN,
    TABLE_PROJECTS,
    UNCATALOGUED,
    S3Server,
)

# GitLab's rules, written out: the upstream access level each role gets on a project of each
# visibility (0 = the project is invisible). Anonymous readers see public projects only;
# any signed-in user reads public and internal projects (level 2); private projects are
# visible to members only, where a guest may not read the repository (level 1).
TABLE: dict[str, dict[str, int]] = {
    "anonymous": {"public": 2, "internal": 0, "private": 0},
    "outsider": {"public": 2, "internal": 2, "private": 0},
    "guest": {"public": 2, "internal": 2, "private": 1},
    "reporter": {"public": 2, "internal": 2, "private": 2},
    "developer": {"public": 3, "internal": 3, "private": 3},
    "maintainer": {"public": 4, "internal": 4, "private": 4},
}
CELLS = [(role, visibility) for role in TABLE for visibility in TABLE[role]]


def token_of(role: str) -> str | None:
    return None if role == "anonymous" else f"{role}-token"


def headers_of(role: str) -> dict[str, str]:
    token = token_of(role)
    return {} if token is None else {"X-Gitlab-Token": token}


@pytest.fixture(scope="module")
def api(gitlab_url: str) -> Callable[..., httpx.Response]:
    client = httpx.Client(base_url=gitlab_url, timeout=10)

    def get(role: str, path: str, **params: Any) -> httpx.Response:
        response = client.get(path, params=params, headers=headers_of(role))
        token = token_of(role)
        assert token is None or token not in response.text  # no secret in any body
        assert SERVICE_TOKEN not in response.text
        return response

    return get


@pytest.mark.parametrize(("role", "visibility"), CELLS)
def test_every_route_follows_gitlab_rules(
    api: Callable[..., httpx.Response], role: str, visibility: str
) -> None:
    # Given a project of this visibility where every role but anonymous/outsider is a member
    path = TABLE_PROJECTS[visibility]
    level = TABLE[role][visibility]

    # When the role asks every route about it
    listing = api(role, "/api/stac/collections/ai-model/items", limit=100).json()
    search = api(role, "/api/stac/search", ids=path).json()
    text_search = api(role, "/api/stac/search", q="model", collections="ai-model").json()
    item = api(role, f"/api/stac/collections/ai-model/items/{path}")
    check = api(role, f"/api/check/{path}", info="true")
    download = api(role, f"/api/download/{path}/repository/weights.bin", ref="main")

    # Then each answer matches GitLab's rules
    listed = {f["id"] for f in listing["features"]}
    assert (path in listed) == (level > 0)
    assert ({f["id"] for f in search["features"]} == {path}) == (level > 0)
    assert (path in {f["id"] for f in text_search["features"]}) == (level > 0)
    if level == 0:
        assert item.status_code == 404
        assert check.status_code == 404
        assert download.status_code == 404
        assert b"WEIGHTS" not in download.content
        return
    assert item.status_code == 200
    assert item.json()["properties"]["sharinghub:access-level"] == level
    assert check.status_code == 200
    assert check.json()["access_level"] == level
    assert {f["id"]: f for f in listing["features"]}[path]["properties"][
        "sharinghub:access-level"
    ] == level
    if level >= 2:
        assert download.status_code == 200
        assert download.content == f"WEIGHTS-{visibility}".encode()  # LFS resolved
    else:
        assert download.status_code == 403  # guests of private projects may not read code
        assert b"WEIGHTS" not in download.content


@pytest.mark.parametrize("role", list(TABLE))
def test_collection_counts_match_the_visible_projects(
    api: Callable[..., httpx.Response], role: str
) -> None:
    # When
    listing = api(role, "/api/stac/collections/ai-model/items", limit=100).json()
    # Then numberMatched counts exactly the projects the role may see
    expected = sum(1 for level in TABLE[role].values() if level > 0)
    assert listing["numberMatched"] == expected
    assert len(listing["features"]) == expected


@pytest.mark.parametrize("how", ["query", "header", "bearer"])
def test_every_token_source_is_honoured(gitlab_url: str, how: str) -> None:
    # Given the developer's token passed one way
    token = "developer-token"
    params = {"info": "true"}
    headers: dict[str, str] = {}
    if how == "query":
        params["gitlab_token"] = token
    elif how == "header":
        headers["X-Gitlab-Token"] = token
    else:
        headers["Authorization"] = f"Bearer {token}"
    # When
    response = httpx.get(
        f"{gitlab_url}/api/check/{TABLE_PROJECTS['private']}", params=params, headers=headers
    )
    # Then
    assert response.status_code == 200
    assert response.json()["access_level"] == 3


def test_query_token_wins_over_header_and_never_enters_links(gitlab_url: str) -> None:
    # Given the guest's token in the query and the maintainer's in the header
    response = httpx.get(
        f"{gitlab_url}/api/stac/search",
        params={"ids": TABLE_PROJECTS["private"], "gitlab_token": "guest-token"},
        headers={"X-Gitlab-Token": "maintainer-token"},
    )
    # Then upstream's order applies (query first) and no link carries the token
    body = response.json()
    assert body["features"][0]["properties"]["sharinghub:access-level"] == 1
    assert "guest-token" not in response.text
    assert "gitlab_token" not in response.text


def test_an_invalid_token_is_401_from_every_source(gitlab_url: str) -> None:
    url = f"{gitlab_url}/api/stac/search"
    for kwargs in (
        {"params": {"gitlab_token": "forged"}},
        {"headers": {"X-Gitlab-Token": "forged"}},
        {"headers": {"Authorization": "Bearer forged"}},
    ):
        response = httpx.get(url, **kwargs)  # type: ignore[arg-type]
        assert response.status_code == 401, kwargs
        assert response.json()["reason"] == "unauthorized"


def test_a_default_token_reads_for_anonymous_callers(
    gitlab: GitLabDouble, serve: Callable[..., str]
) -> None:
    # Given a server without public mode whose default token is the reporter's
    default = serve(
        "--gitlab-url",
        gitlab.url,
        "--sync-interval",
        "0",
        env={"MLOPS_GITLAB_TOKEN": SERVICE_TOKEN, "GITLAB_OAUTH_DEFAULT_TOKEN": "reporter-token"},
    )
    # When an anonymous caller lists models
    response = httpx.get(f"{default}/api/stac/collections/ai-model/items")
    # Then it gets the reporter's view (all three), and the token is never shown
    assert response.json()["numberMatched"] == 3
    assert "reporter-token" not in response.text
    check = httpx.get(f"{default}/api/check/{TABLE_PROJECTS['private']}?info=true")
    assert check.json()["access_level"] == 2
    # And the default token does not count as signed in
    assert httpx.get(f"{default}/api/auth/info").status_code == 401
    signed = httpx.get(f"{default}/api/auth/info", headers={"X-Gitlab-Token": "guest-token"})
    assert signed.status_code == 200


def test_auth_info_tells_signed_in_callers_apart_without_echoing_tokens(gitlab_url: str) -> None:
    # When
    anonymous = httpx.get(f"{gitlab_url}/api/auth/info")
    bearer = httpx.get(
        f"{gitlab_url}/api/auth/info", headers={"Authorization": "Bearer developer-token"}
    )
    forged = httpx.get(f"{gitlab_url}/api/auth/info", headers={"X-Gitlab-Token": "forged"})
    # Then
    assert anonymous.status_code == 401  # public mode is not a login
    assert bearer.status_code == 200
    assert bearer.json()["token_source"] == "bearer"
    assert "developer-token" not in bearer.text
    assert forged.status_code == 401


def test_repository_trees_are_read_past_one_page(api: Callable[..., httpx.Response]) -> None:
    # Given a project with 250 files (GitLab pages trees by 100 at most)
    # When
    item = api("anonymous", f"/api/stac/collections/tools/items/{BIG_PROJECT}").json()
    # Then every file is an asset and downloads
    files = [key for key in item["assets"] if key.startswith("data/")]
    assert len(files) == BIG_FILES
    last = item["assets"][f"data/part-{BIG_FILES - 1:03d}.txt"]["href"]
    download = httpx.get(last)
    assert download.content == f"row {BIG_FILES - 1}\n".encode()
    assert "filename*=UTF-8''part-249.txt" in download.headers["content-disposition"]


def test_uncatalogued_projects_answer_checks_without_reading_their_repository(
    gitlab: GitLabDouble, api: Callable[..., httpx.Response]
) -> None:
    # When
    check = api("anonymous", f"/api/check/{UNCATALOGUED}", info="true")
    # Then a visible project without category is a 200 with no categories (upstream: 500)
    assert check.status_code == 200
    assert check.json()["categories"] == []
    # And the sync (the service account's calls) never read its tree or files
    project_id = check.json()["id"]
    synced = [path for _, path, user in gitlab.requests if user == "root"]
    assert any(path.endswith("/repository/tree") for path in synced)
    assert not [path for path in synced if path.startswith(f"projects/{project_id}/")]


def test_gitlab_items_map_the_readme_front_matter(
    gitlab: GitLabDouble, api: Callable[..., httpx.Response], gitlab_url: str
) -> None:
    # When
    path = TABLE_PROJECTS["public"]
    item = api("developer", f"/api/stac/collections/ai-model/items/{path}").json()
    # Then the default branch's README front matter shapes the item
    assert item["properties"]["title"] == "Public model"
    assert item["bbox"] == [-66.0, -15.0, -64.0, -13.0]
    assert item["properties"]["keywords"] == ["flood"]
    # And GitLab's own project page, names and namespace are used as upstream does
    web = f"{gitlab.url}/{path}"
    namespace = path.split("/")[0]
    assert item["properties"]["providers"] == [
        {"name": f"GitLab ({gitlab.url})", "roles": ["host"], "url": web},
        {"name": namespace, "roles": ["producer"], "url": f"{gitlab.url}/{namespace}"},
    ]
    project = httpx.get(f"{gitlab.url}/api/v4/projects/{quote(path, safe='')}").json()
    assert item["properties"]["sharinghub:name"] == project["name_with_namespace"]
    assert {
        "rel": "bug_tracker",
        "type": "text/html",
        "href": f"{web}/issues",
        "title": "Bug Tracker",
    } in item["links"]
    assert item["assets"]["weights.bin"]["href"] == (
        f"{gitlab_url}/api/download/{path}/repository/weights.bin?ref=main"
    )


def test_post_search_applies_the_callers_permissions(gitlab_url: str) -> None:
    # When the same POST search is sent anonymously and with the developer's token
    body = {"collections": ["ai-model"], "limit": 50}
    anonymous = httpx.post(f"{gitlab_url}/api/stac/search", json=body).json()
    developer = httpx.post(
        f"{gitlab_url}/api/stac/search",
        json=body,
        headers={"Authorization": "Bearer developer-token"},
    ).json()
    # Then each sees what GitLab lets it see
    assert {f["id"] for f in anonymous["features"]} == {TABLE_PROJECTS["public"]}
    assert {f["id"] for f in developer["features"]} == set(TABLE_PROJECTS.values())


# The DVC store (/api/store/<project id>/<path>), as (read, write) HTTP statuses. Reads need
# access level 2 (reporter, or any reader of a public or internal project; upstream needs
# developer), writes need 3 (developer). Invisible projects are 404; an anonymous caller
# refused gets 401 (sign in), a signed-in one 403.
STORE: dict[str, dict[str, tuple[int, int]]] = {
    "anonymous": {"public": (200, 401), "internal": (404, 404), "private": (404, 404)},
    "outsider": {"public": (200, 403), "internal": (200, 403), "private": (404, 404)},
    "guest": {"public": (200, 403), "internal": (200, 403), "private": (403, 403)},
    "reporter": {"public": (200, 403), "internal": (200, 403), "private": (200, 403)},
    "developer": {"public": (200, 200), "internal": (200, 200), "private": (200, 200)},
    "maintainer": {"public": (200, 200), "internal": (200, 200), "private": (200, 200)},
}


@pytest.mark.parametrize(("role", "visibility"), CELLS)
def test_store_reads_and_writes_follow_gitlab_rules(
    gitlab: GitLabDouble, s3: S3Server, store_url: str, role: str, visibility: str
) -> None:
    # Given an object in the project's store
    project_id = gitlab.state.project(TABLE_PROJECTS[visibility]).id  # type: ignore[union-attr]
    bucket = s3.client()
    bucket.put_object(Bucket=S3_BUCKET, Key=f"dvc/{project_id}/files/md5/00/seed", Body=b"seed")
    base = f"{store_url}/api/store/{project_id}/files/md5"
    read, write = STORE[role][visibility]

    # When the role reads it (HEAD, GET) and writes its own object (POST, as DVC does)
    head = httpx.head(f"{base}/00/seed", headers=headers_of(role))
    get = httpx.get(f"{base}/00/seed", headers=headers_of(role))
    post = httpx.post(f"{base}/11/{role}", content=b"pushed", headers=headers_of(role))

    # Then each status is the table's, and only allowed writes reach S3
    assert head.status_code == read
    assert post.status_code == write, post.text
    if read == 200:
        assert head.headers["content-length"] == "4"
        assert get.status_code == 307
        assert httpx.get(get.headers["location"]).content == b"seed"
    else:
        assert get.status_code == read
        assert get.json()["reason"] == {401: "unauthorized", 403: "forbidden"}.get(
            read, "not_found"
        )
    key = f"dvc/{project_id}/files/md5/11/{role}"
    stored = bucket.list_objects_v2(Bucket=S3_BUCKET, Prefix=key).get("KeyCount", 0)
    assert stored == (1 if write == 200 else 0)
    token = token_of(role)
    for response in (get, post):
        assert token is None or token not in response.text
