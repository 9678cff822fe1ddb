"""A real JupyterHub for tests: GitLab-like grants in auth state that expire and get refreshed.

The authenticator stands in for OAuthenticator's GitLab login: logging in stores an access token
valid ``MLOPS_TEST_GRANT_SECONDS`` in the encrypted auth state, and ``refresh_user`` replaces it
once it is about to expire, as OAuthenticator does with the refresh token. No HTTP proxy process
runs: tests call the Hub's own port. The server role gets ``admin:auth_state!user`` (what the
deployment docs ask of a z2jh hub) so a user's server token can read the user's auth state.
"""

# ruff: noqa: F821  (``c`` is the config object JupyterHub injects)

from __future__ import annotations

import os
import time
from typing import Any

from jupyterhub.auth import DummyAuthenticator
from jupyterhub.proxy import Proxy

GRANT_SECONDS = float(os.environ["MLOPS_TEST_GRANT_SECONDS"])


class NoProxy(Proxy):
    """Routes are not needed: the tests talk to the Hub's API port directly."""

    should_start = False

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def add_route(self, routespec: str, target: str, data: dict[str, Any]) -> None:
        return None

    async def delete_route(self, routespec: str) -> None:
        return None

    async def get_all_routes(self) -> dict[str, Any]:
        return {}


class ExpiringGrantAuthenticator(DummyAuthenticator):
    """Any password logs in; the grant in auth state expires and is refreshed."""

    issued = 0

    def grant(self) -> dict[str, Any]:
        type(self).issued += 1
        return {
            "access_token": f"gitlab-token-{type(self).issued}",
            "refresh_token": f"refresh-{type(self).issued}",
            "token_response": {"expires_in": GRANT_SECONDS, "created_at": time.time()},
        }

    async def authenticate(self, handler: Any, data: dict[str, str]) -> dict[str, Any]:
        return {"name": data["username"], "auth_state": self.grant()}

    async def refresh_user(self, user: Any, handler: Any = None) -> Any:
        state = await user.get_auth_state() or {}
        response = state.get("token_response") or {}
        expires = float(response.get("created_at", 0)) + float(response.get("expires_in", 0))
        if expires - time.time() > GRANT_SECONDS / 2:
            return True
        return {"name": user.name, "auth_state": self.grant()}


c.JupyterHub.authenticator_class = ExpiringGrantAuthenticator
c.Authenticator.enable_auth_state = True
c.Authenticator.allow_all = True
c.Authenticator.auth_refresh_age = 1
c.JupyterHub.proxy_class = NoProxy
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ["MLOPS_TEST_HUB_PORT"])
c.JupyterHub.services = [
    {"name": "test-admin", "api_token": os.environ["MLOPS_TEST_HUB_ADMIN_TOKEN"]}
]
c.JupyterHub.load_roles = [
    {
        "name": "test-admin",
        "scopes": ["admin:users", "tokens", "admin:auth_state"],
        "services": ["test-admin"],
    },
    {"name": "user", "scopes": ["self", "admin:auth_state!user"]},
]
