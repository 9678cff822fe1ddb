"""Token sources: environment, JupyterHub auth state (with refresh), pasted token file."""

from __future__ import annotations

import stat
from pathlib import Path

from jupyter_mlops.auth import (
    EnvironmentTokenSource,
    JupyterHubTokenSource,
    StoredTokenSource,
    TokenManager,
)

from .fakes import FakeHub, serve


def hub_env(url: str) -> dict[str, str]:
    return {
        "JUPYTERHUB_API_URL": f"{url}/hub/api",
        "JUPYTERHUB_API_TOKEN": "server-api-token",
        "JUPYTERHUB_USER": "alice",
    }


async def test_jupyterhub_token_is_cached_until_close_to_expiry() -> None:
    # Given: a Hub whose tokens live one hour
    hub = FakeHub("alice", "server-api-token", lifetime=3600)
    with serve(hub) as (url, calls):
        source = JupyterHubTokenSource(hub_env(url))

        # When
        first = await source.get()
        second = await source.get()

    # Then: one Hub call, the same token, with the server's API token as credentials
    assert first is not None
    assert second is not None
    assert first.token == second.token == "gitlab-token-1"
    assert len(calls) == 1
    assert calls[0].headers["authorization"] == "token server-api-token"
    assert first.expires_at is not None


async def test_jupyterhub_token_is_refetched_before_it_expires() -> None:
    # Given: tokens that expire within the refresh margin
    hub = FakeHub("alice", "server-api-token", lifetime=60)
    with serve(hub) as (url, calls):
        source = JupyterHubTokenSource(hub_env(url), margin=120)

        # When
        first = await source.get()
        second = await source.get()

    # Then: the second call fetched the refreshed token from the Hub
    assert first is not None
    assert second is not None
    assert (first.token, second.token) == ("gitlab-token-1", "gitlab-token-2")
    assert len(calls) == 2


async def test_jupyterhub_without_auth_state_scope_gives_no_token() -> None:
    # Given: the server's API token lacks admin:auth_state!user
    hub = FakeHub("alice", "another-token", lifetime=60)
    with serve(hub) as (url, _):
        # When
        credential = await JupyterHubTokenSource(hub_env(url)).get()

    # Then
    assert credential is None


async def test_sources_are_tried_in_order(tmp_path: Path) -> None:
    # Given: a stored token and an environment token
    store = StoredTokenSource(tmp_path / "credentials.json")
    store.save("stored-token")
    env_first = TokenManager([EnvironmentTokenSource({"GITLAB_TOKEN": "env-token"}), store], store)
    store_only = TokenManager([EnvironmentTokenSource({}), store], store)

    # Then
    assert await env_first.token() == "env-token"
    assert await store_only.token() == "stored-token"
    credential = await store_only.credential()
    assert credential is not None
    assert "stored-token" not in repr(credential)


async def test_stored_token_file_is_private_and_forgettable(tmp_path: Path) -> None:
    # Given
    store = StoredTokenSource(tmp_path / "sub" / "credentials.json")

    # When
    store.save("glpat-secret")

    # Then
    mode = stat.S_IMODE((tmp_path / "sub" / "credentials.json").stat().st_mode)
    assert mode == 0o600
    assert (await store.get()) is not None
    assert store.forget() is True
    assert (await store.get()) is None
    assert store.forget() is False
