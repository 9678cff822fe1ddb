"""GitLab login through OAuth authorization code + PKCE, against a GitLab OAuth double."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from tornado.httpclient import HTTPClientError

from .conftest import Fetch, wait_ready
from .fakes import FakeGitLabOAuth, serve

CLIENT_ID = "jupyter-mlops-app"


@pytest.fixture
def gitlab_oauth() -> Iterator[tuple[str, FakeGitLabOAuth]]:
    fake = FakeGitLabOAuth(CLIENT_ID)
    with serve(fake) as (url, _):
        yield url, fake


@pytest.fixture
def mlops_config(remote_catalog: str, gitlab_oauth: tuple[str, FakeGitLabOAuth]) -> dict[str, Any]:
    return {
        "sharinghub_url": remote_catalog,
        "gitlab_url": gitlab_oauth[0],
        "oauth_client_id": CLIENT_ID,
    }


async def login(jp_fetch: Fetch, fake: FakeGitLabOAuth) -> Any:
    """Play the browser: follow our redirect to GitLab, 'approve', come back to the callback."""
    response = await jp_fetch(
        "jupyter-mlops", "oauth", "login", follow_redirects=False, raise_error=False
    )
    assert response.code == 302
    authorize = urlsplit(response.headers["Location"])
    query = {k: v[0] for k, v in parse_qs(authorize.query).items()}
    assert authorize.path == "/oauth/authorize"
    assert query["code_challenge_method"] == "S256"
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"].endswith("/jupyter-mlops/oauth/callback")
    code = fake.issue_code(query["code_challenge"], query["redirect_uri"])
    return await jp_fetch(
        "jupyter-mlops", "oauth", "callback", params={"code": code, "state": query["state"]}
    )


async def test_pkce_login_gives_a_session_without_showing_the_token(
    jp_fetch: Fetch, gitlab_oauth: tuple[str, FakeGitLabOAuth], tmp_path: Path
) -> None:
    # Given
    await wait_ready(jp_fetch)

    # When
    page = await login(jp_fetch, gitlab_oauth[1])
    session = json.loads((await jp_fetch("jupyter-mlops", "session")).body)

    # Then
    assert b"Logged in to GitLab" in page.body
    assert b"oauth-access" not in page.body
    assert session["source"] == "oauth"
    assert session["username"] == "carol"
    assert session["oauth_available"] is True
    stored = tmp_path / "oauth-token.json"
    assert stored.stat().st_mode & 0o077 == 0


async def test_a_replayed_or_forged_state_is_refused(
    jp_fetch: Fetch, gitlab_oauth: tuple[str, FakeGitLabOAuth]
) -> None:
    # Given
    await wait_ready(jp_fetch)

    # When
    with pytest.raises(HTTPClientError) as raised:
        await jp_fetch(
            "jupyter-mlops", "oauth", "callback", params={"code": "x", "state": "forged"}
        )

    # Then
    assert raised.value.code == 400
    assert b"start the GitLab login again" in raised.value.response.body


async def test_an_expiring_oauth_token_is_refreshed(
    jp_fetch: Fetch, gitlab_oauth: tuple[str, FakeGitLabOAuth], tmp_path: Path
) -> None:
    # Given: a login whose token is about to expire
    await wait_ready(jp_fetch)
    gitlab_oauth[1].lifetime = 30
    await login(jp_fetch, gitlab_oauth[1])
    first = json.loads((tmp_path / "oauth-token.json").read_text())["access_token"]

    # When
    await jp_fetch("jupyter-mlops", "session")

    # Then: the refresh token was traded for a new pair
    second = json.loads((tmp_path / "oauth-token.json").read_text())["access_token"]
    assert first != second
    assert gitlab_oauth[1].issued >= 2


async def test_logout_forgets_the_oauth_tokens(
    jp_fetch: Fetch, gitlab_oauth: tuple[str, FakeGitLabOAuth], tmp_path: Path
) -> None:
    # Given
    await wait_ready(jp_fetch)
    await login(jp_fetch, gitlab_oauth[1])

    # When
    body = json.loads((await jp_fetch("jupyter-mlops", "session", method="DELETE")).body)

    # Then
    assert body["forgotten"] is True
    assert body["authenticated"] is False
    assert not (tmp_path / "oauth-token.json").exists()
