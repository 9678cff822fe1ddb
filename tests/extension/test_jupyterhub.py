"""The JupyterHub token source against a real JupyterHub process, over HTTP.

The Hub keeps the user's GitLab grant in its encrypted auth state; it expires after a few
seconds and the Hub's authenticator refreshes it. The source, holding only the server's API
token, must hand out the new token once the old one is about to expire.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from jupyter_mlops.auth import JupyterHubTokenSource

HUB_CONFIG = Path(__file__).parent / "hub" / "jupyterhub_config.py"
GRANT_SECONDS = 4.0
# What the deployment guide grants the server role: read the user, read their auth state.
SERVER_SCOPES = ["read:users!user", "admin:auth_state!user"]


class Hub:
    def __init__(self, url: str, admin_token: str) -> None:
        self.url, self.admin_token = url, admin_token

    @property
    def api(self) -> str:
        return f"{self.url}/hub/api"

    def login(self, name: str) -> None:
        """Log in through the Hub's login form, as a browser would (XSRF cookie included)."""
        with httpx.Client(base_url=self.url, follow_redirects=False, timeout=30) as browser:
            browser.get("/hub/login").raise_for_status()
            xsrf = browser.cookies.get("_xsrf")
            response = browser.post(
                "/hub/login", data={"username": name, "password": "any", "_xsrf": xsrf}
            )
            assert response.status_code == 302, response.text

    def token(self, name: str, scopes: list[str]) -> str:
        """A token of the user's, as the Hub gives a single-user server (scopes as asked)."""
        response = httpx.post(
            f"{self.api}/users/{name}/tokens",
            headers={"Authorization": f"token {self.admin_token}"},
            json={"scopes": scopes, "note": "server"},
            timeout=30,
        )
        assert response.status_code == 201, response.text
        token: str = response.json()["token"]
        return token


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    workdir = tmp_path_factory.mktemp("hub")
    port, admin = free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYTERHUB_CRYPT_KEY": secrets.token_hex(32),
        "MLOPS_TEST_HUB_PORT": str(port),
        "MLOPS_TEST_HUB_ADMIN_TOKEN": admin,
        "MLOPS_TEST_GRANT_SECONDS": str(GRANT_SECONDS),
    }
    log = (workdir / "hub.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyterhub", "-f", str(HUB_CONFIG)],
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, (workdir / "hub.log").read_text()[-3000:]
            try:
                if httpx.get(f"{url}/hub/api/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "JupyterHub did not start"
            time.sleep(0.3)
        yield Hub(url, admin)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


async def test_the_source_reads_the_grant_and_gets_the_refreshed_one(hub: Hub) -> None:
    # Given: alice logged in to the Hub; her server holds a token with the server role's scopes
    hub.login("alice")
    source = JupyterHubTokenSource(
        {
            "JUPYTERHUB_API_URL": hub.api,
            "JUPYTERHUB_API_TOKEN": hub.token("alice", SERVER_SCOPES),
            "JUPYTERHUB_USER": "alice",
        },
        margin=1.0,
    )

    # When: the grant is read, read again at once, then after it has nearly expired
    asked = time.time()
    first = await source.get()
    again = await source.get()
    await asyncio.sleep(GRANT_SECONDS)
    refreshed = await source.get()

    # Then: the first grant came from the login, with its expiry; it was cached while valid;
    # the Hub's authenticator refreshed it and the source picked the new one up
    assert first is not None
    assert first.token.startswith("gitlab-token-")
    assert first.source == "jupyterhub"
    assert first.expires_at is not None
    assert first.expires_at - GRANT_SECONDS <= asked  # granted at login, before the first read
    assert again is first
    assert refreshed is not None
    assert refreshed.token != first.token
    assert refreshed.expires_at is not None
    assert refreshed.expires_at > first.expires_at


async def test_a_token_without_the_auth_state_scope_gets_no_grant(hub: Hub) -> None:
    # Given: bob logged in, and a token of his that may read his model but not his auth state
    hub.login("bob")
    source = JupyterHubTokenSource(
        {
            "JUPYTERHUB_API_URL": hub.api,
            "JUPYTERHUB_API_TOKEN": hub.token("bob", ["read:users!user"]),
            "JUPYTERHUB_USER": "bob",
        }
    )

    # When
    credential = await source.get()

    # Then: no token, no error: the other sources are tried next
    assert credential is None
