"""Login state, pasted tokens and their secrecy, against a configured platform with GitLab."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from .conftest import Fetch, wait_ready
from .fakes import gitlab_user_api, serve

GOOD = "glpat-good-0123456789"
BAD = "glpat-revoked-999"


@pytest.fixture(scope="module")
def gitlab() -> Iterator[str]:
    with serve(gitlab_user_api({GOOD: "alice"})) as (url, _):
        yield url


async def post_token(jp_fetch: Fetch, token: Any) -> Any:
    return await jp_fetch(
        "jupyter-mlops", "session", method="POST", body=json.dumps({"token": token})
    )


class TestEmbedded:
    async def test_embedded_platform_needs_no_token(self, jp_fetch: Fetch) -> None:
        # Given
        await wait_ready(jp_fetch)

        # When
        session = json.loads((await jp_fetch("jupyter-mlops", "session")).body)
        with pytest.raises(HTTPClientError) as raised:
            await post_token(jp_fetch, GOOD)

        # Then
        assert session == {
            "authenticated": False,
            "source": None,
            "username": None,
            "token_required": False,
            "oauth_available": False,
        }
        assert raised.value.code == 409
        assert json.loads(raised.value.response.body)["reason"] == "token_not_needed"


class TestConfiguredWithGitLab:
    @pytest.fixture
    def mlops_config(self, remote_catalog: str, gitlab: str) -> dict[str, Any]:
        return {"sharinghub_url": remote_catalog, "gitlab_url": gitlab}

    async def test_a_good_token_is_stored_privately_and_never_echoed(
        self, jp_fetch: Fetch, tmp_path: Path
    ) -> None:
        # Given
        await wait_ready(jp_fetch)

        # When
        response = await post_token(jp_fetch, GOOD)
        session = await jp_fetch("jupyter-mlops", "session")

        # Then
        for body in (response.body, session.body):
            assert GOOD.encode() not in body
        described = json.loads(session.body)
        assert described["authenticated"] is True
        assert described["source"] == "stored"
        assert described["username"] == "alice"
        stored = tmp_path / "credentials.json"
        assert stat.S_IMODE(stored.stat().st_mode) == 0o600

    async def test_a_refused_token_is_401_and_not_stored(
        self, jp_fetch: Fetch, tmp_path: Path
    ) -> None:
        # Given
        await wait_ready(jp_fetch)

        # When
        with pytest.raises(HTTPClientError) as raised:
            await post_token(jp_fetch, BAD)

        # Then
        assert raised.value.code == 401
        assert BAD.encode() not in raised.value.response.body
        assert not (tmp_path / "credentials.json").exists()

    @pytest.mark.parametrize("token", ["", "has space", None, 42])
    async def test_malformed_tokens_are_400(self, jp_fetch: Fetch, token: Any) -> None:
        # When
        with pytest.raises(HTTPClientError) as raised:
            await post_token(jp_fetch, token)

        # Then
        assert raised.value.code == 400

    async def test_logout_forgets_the_stored_token(self, jp_fetch: Fetch) -> None:
        # Given
        await wait_ready(jp_fetch)
        await post_token(jp_fetch, GOOD)

        # When
        response = await jp_fetch("jupyter-mlops", "session", method="DELETE")

        # Then
        body = json.loads(response.body)
        assert body["forgotten"] is True
        assert body["authenticated"] is False

    async def test_the_token_reaches_the_catalog_but_no_log_or_response(
        self, jp_fetch: Fetch, caplog: pytest.LogCaptureFixture
    ) -> None:
        # Given: a stored token, then ordinary use of every catalog route
        await wait_ready(jp_fetch)
        await post_token(jp_fetch, GOOD)
        bodies = [
            (await jp_fetch("jupyter-mlops", "catalog", "search", params={"limit": "2"})).body,
            (await jp_fetch("jupyter-mlops", "catalog", "collections")).body,
            (await jp_fetch("jupyter-mlops", "catalog", "config")).body,
            (await jp_fetch("jupyter-mlops", "session")).body,
            (await jp_fetch("jupyter-mlops", "info")).body,
        ]

        # Then
        assert all(GOOD.encode() not in body for body in bodies)
        assert GOOD not in caplog.text
