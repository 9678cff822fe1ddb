"""GitLab login from JupyterLab: OAuth 2 authorization code with PKCE (RFC 7636).

For hubs whose users do not log in with GitLab (e.g. a Keycloak-only JupyterHub): the server
extension sends the browser to GitLab's ``/oauth/authorize`` with an S256 code challenge, GitLab
redirects back to ``<base_url>/jupyter-mlops/oauth/callback`` (so it works under a JupyterHub
``/user/<name>/`` prefix), and the code is exchanged here, server-side, for tokens that are kept in
a 0600 file and refreshed before they expire. The browser never sees a token.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from .auth import Credential, PrivateFile, SourceName
from .errors import AuthenticationError, BadRequestError, UpstreamError

#: Scopes SharingHub asks for (reference §2.2), minus OpenID ones we do not use.
DEFAULT_SCOPE = "api read_user read_repository write_repository"
#: How long a login may take between the redirect to GitLab and the callback.
PENDING_TTL = 600.0


@dataclass
class _Pending:
    verifier: str
    redirect_uri: str
    created: float


class GitLabOAuth:
    """One GitLab OAuth application (public client, PKCE) and the user's tokens.

    Parameters
    ----------
    gitlab_url
        GitLab base URL.
    client_id
        Application id of the GitLab OAuth application (its redirect URI must be the callback).
    token_path
        File (0600) keeping the user's access and refresh tokens.
    client_secret
        Only for confidential applications; from the environment, never from config files.
    """

    def __init__(
        self,
        gitlab_url: str,
        client_id: str,
        token_path: Path,
        client_secret: str | None = None,
        scope: str = DEFAULT_SCOPE,
        timeout: float = 15.0,
    ) -> None:
        self.gitlab_url = gitlab_url.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.scope = scope
        self.token_path = Path(token_path)
        self.timeout = timeout
        self._pending: dict[str, _Pending] = {}

    def begin(self, redirect_uri: str) -> str:
        """Start a login; return the GitLab URL to send the browser to."""
        now = time.time()
        self._pending = {k: v for k, v in self._pending.items() if now - v.created < PENDING_TTL}
        state, verifier = generate_token(32), generate_token(64)
        self._pending[state] = _Pending(verifier, redirect_uri, now)
        url: str = prepare_grant_uri(
            f"{self.gitlab_url}/oauth/authorize",
            client_id=self.client_id,
            response_type="code",
            redirect_uri=redirect_uri,
            scope=self.scope,
            state=state,
            code_challenge=create_s256_code_challenge(verifier),
            code_challenge_method="S256",
        )
        return url

    async def complete(self, state: str, code: str) -> Credential:
        """Exchange the authorization code of a callback for tokens, and keep them."""
        pending = self._pending.pop(state, None)
        if pending is None or time.time() - pending.created > PENDING_TTL:
            raise BadRequestError(
                "This login link is unknown or expired; start the GitLab login again.",
                reason="oauth_state",
            )
        return await self._token_request(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": pending.redirect_uri,
                "code_verifier": pending.verifier,
            }
        )

    async def refresh(self, refresh_token: str) -> Credential:
        """Trade the refresh token for a new token pair (GitLab rotates both)."""
        return await self._token_request(
            {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )

    async def _token_request(self, form: dict[str, str]) -> Credential:
        form = {**form, "client_id": self.client_id}
        if self.client_secret:
            form["client_secret"] = self.client_secret
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.post(f"{self.gitlab_url}/oauth/token", data=form)
        except httpx.HTTPError as error:
            raise UpstreamError(f"Could not reach GitLab: {type(error).__name__}") from error
        if response.status_code in (400, 401):
            raise AuthenticationError(
                "GitLab refused the login (expired or revoked); log in again.",
                reason="oauth_refused",
            )
        if response.status_code != 200:
            raise UpstreamError(f"GitLab's token endpoint answered HTTP {response.status_code}")
        body: dict[str, Any] = response.json()
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise UpstreamError("GitLab's token answer has no access_token")
        expires_in = body.get("expires_in")
        created = body.get("created_at", time.time())
        expires_at = float(created) + float(expires_in) if expires_in else None
        self._save(
            {
                "access_token": token,
                "refresh_token": body.get("refresh_token"),
                "expires_at": expires_at,
            }
        )
        return Credential(token, "oauth", expires_at)

    def _save(self, data: dict[str, Any]) -> None:
        PrivateFile(self.token_path).write(data)

    def load(self) -> dict[str, Any] | None:
        return PrivateFile(self.token_path).read()

    def forget(self) -> bool:
        return PrivateFile(self.token_path).delete()


class OAuthTokenSource:
    """The token of a completed GitLab OAuth login, refreshed before it expires.

    ``provider`` returns the OAuth application once it is known (GitLab's URL may only be
    discovered when the platform is ready), or ``None`` while there is none.
    """

    name: SourceName = "oauth"

    def __init__(self, provider: Callable[[], GitLabOAuth | None], margin: float = 120.0) -> None:
        self.provider = provider
        self.margin = margin

    @property
    def oauth(self) -> GitLabOAuth | None:
        return self.provider()

    async def get(self) -> Credential | None:
        oauth = self.provider()
        if oauth is None:
            return None
        data = oauth.load()
        if not data or not isinstance(data.get("access_token"), str):
            return None
        expires_at = data.get("expires_at")
        if isinstance(expires_at, int | float) and expires_at - self.margin < time.time():
            refresh_token = data.get("refresh_token")
            if not isinstance(refresh_token, str):
                return None
            try:
                return await oauth.refresh(refresh_token)
            except AuthenticationError:
                oauth.forget()
                return None
        return Credential(data["access_token"], self.name, expires_at)
