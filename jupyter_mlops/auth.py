"""Where the user's GitLab token comes from, and keeping it on the server side.

Sources, first match wins (DESIGN decision 4):

1. the environment: ``MLOPS_TOKEN`` then ``GITLAB_TOKEN`` (set by an admin or a spawner);
2. JupyterHub: the GitLab OAuth token in the user's auth state, fetched from
   ``$JUPYTERHUB_API_URL/users/<name>`` with the server's own API token, refetched before it
   expires (the Hub refreshes it with the refresh token; we never refresh GitLab grants ourselves);
3. a personal access token the user pasted, kept in a 0600 file under the Jupyter data folder.

No function here returns a token to a caller that sends it to a browser: :meth:`describe` is the
only thing the UI sees.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import httpx

from .errors import AuthenticationError, BadRequestError, UpstreamError

log = logging.getLogger(__name__)

SourceName = Literal["environment", "jupyterhub", "oauth", "stored"]

#: Refetch a JupyterHub token this many seconds before it expires.
REFRESH_MARGIN = 120.0


@dataclass(frozen=True)
class Credential:
    """A token and where it came from. Never serialise it."""

    token: str
    source: SourceName
    expires_at: float | None = None

    def __repr__(self) -> str:  # keep tokens out of logs and tracebacks
        return f"Credential(source={self.source!r}, expires_at={self.expires_at!r})"


class TokenSource(Protocol):
    """One place a token can come from."""

    name: SourceName

    async def get(self) -> Credential | None:
        """Return a usable credential, or ``None`` when this source has none."""


class EnvironmentTokenSource:
    """``MLOPS_TOKEN`` or ``GITLAB_TOKEN`` from the server's environment."""

    name: SourceName = "environment"
    variables = ("MLOPS_TOKEN", "GITLAB_TOKEN")

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        self.environ = environ if environ is not None else dict(os.environ)

    async def get(self) -> Credential | None:
        for variable in self.variables:
            value = self.environ.get(variable, "").strip()
            if value:
                return Credential(value, self.name)
        return None


class JupyterHubTokenSource:
    """The GitLab access token in the JupyterHub user's auth state.

    Needs the server's ``JUPYTERHUB_API_URL``, ``JUPYTERHUB_API_TOKEN`` and ``JUPYTERHUB_USER``
    and the scope ``admin:auth_state!user`` granted to the server role.
    """

    name: SourceName = "jupyterhub"

    def __init__(
        self,
        environ: dict[str, str] | None = None,
        timeout: float = 10.0,
        margin: float = REFRESH_MARGIN,
    ) -> None:
        env = environ if environ is not None else dict(os.environ)
        self.api_url = env.get("JUPYTERHUB_API_URL", "").rstrip("/")
        self.api_token = env.get("JUPYTERHUB_API_TOKEN", "")
        self.user = env.get("JUPYTERHUB_USER", "")
        self.timeout = timeout
        self.margin = margin
        self._cached: Credential | None = None
        self._lock = asyncio.Lock()

    @property
    def configured(self) -> bool:
        return bool(self.api_url and self.api_token and self.user)

    async def get(self) -> Credential | None:
        if not self.configured:
            return None
        async with self._lock:
            cached = self._cached
            if cached and (
                cached.expires_at is None or cached.expires_at - self.margin > time.time()
            ):
                return cached
            self._cached = await self._fetch()
            return self._cached

    async def _fetch(self) -> Credential | None:
        # /users/<name>, not /user: the latter returns no auth_state on JupyterHub 5.3.
        url = f"{self.api_url}/users/{self.user}"
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.get(
                    url, headers={"Authorization": f"token {self.api_token}"}
                )
        except httpx.HTTPError as error:
            raise UpstreamError(
                f"Could not reach the JupyterHub API: {type(error).__name__}",
                reason="hub_unreachable",
            ) from error
        if response.status_code in (401, 403):
            log.warning(
                "JupyterHub refused to share the auth state (HTTP %s)", response.status_code
            )
            return None
        if response.status_code != 200:
            raise UpstreamError(
                f"JupyterHub API answered HTTP {response.status_code}", reason="hub_error"
            )
        auth_state = (response.json() or {}).get("auth_state") or {}
        token = auth_state.get("access_token")
        if not isinstance(token, str) or not token:
            return None
        return Credential(token, self.name, _expiry(auth_state))


def _expiry(auth_state: dict[str, Any]) -> float | None:
    """When the access token expires, from OAuthenticator's auth state, if it says."""
    for key in ("expires_at", "access_token_expires_at"):
        value = auth_state.get(key)
        if isinstance(value, int | float):
            return float(value)
    response = auth_state.get("token_response") or {}
    expires_in, created_at = response.get("expires_in"), response.get("created_at")
    if isinstance(expires_in, int | float) and isinstance(created_at, int | float):
        return float(created_at) + float(expires_in)
    return None


class PrivateFile:
    """A small JSON file only its owner can read (0600 from the first byte), replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def read(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as stream:
            json.dump(data, stream)
        os.replace(tmp, self.path)

    def delete(self) -> bool:
        """Remove the file; return whether there was one."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True


class StoredTokenSource:
    """A pasted personal access token, in a file only the user can read (0600)."""

    name: SourceName = "stored"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._file = PrivateFile(self.path)

    async def get(self) -> Credential | None:
        token = (self._file.read() or {}).get("token")
        return Credential(token, self.name) if isinstance(token, str) and token else None

    def save(self, token: str) -> None:
        """Keep the token (mode 0600, atomic replace)."""
        self._file.write({"token": token})

    def forget(self) -> bool:
        """Delete the stored token; return whether there was one."""
        return self._file.delete()


class TokenManager:
    """The ordered token sources of one Jupyter server.

    Parameters
    ----------
    sources
        Token sources in priority order.
    store
        The source that keeps pasted tokens (also one of ``sources``).
    """

    def __init__(self, sources: list[TokenSource], store: StoredTokenSource) -> None:
        self.sources = sources
        self.store = store

    @classmethod
    def default(
        cls,
        credentials_path: Path,
        environ: dict[str, str] | None = None,
        oauth: TokenSource | None = None,
    ) -> TokenManager:
        """Environment, JupyterHub, GitLab OAuth login (when given), pasted token."""
        store = StoredTokenSource(Path(credentials_path))
        sources: list[TokenSource] = [
            EnvironmentTokenSource(environ),
            JupyterHubTokenSource(environ),
        ]
        if oauth is not None:
            sources.append(oauth)
        return cls([*sources, store], store)

    async def credential(self) -> Credential | None:
        """The first credential any source has, or ``None`` (anonymous)."""
        for source in self.sources:
            credential = await source.get()
            if credential is not None:
                return credential
        return None

    async def token(self) -> str | None:
        credential = await self.credential()
        return credential.token if credential else None


async def gitlab_username(gitlab_url: str, token: str, request_timeout: float = 10.0) -> str:
    """Check a token against GitLab (``GET /api/v4/user``) and return the user name.

    Raises
    ------
    AuthenticationError
        When GitLab refuses the token.
    """
    try:
        async with httpx.AsyncClient(timeout=request_timeout) as client:
            response = await client.get(
                f"{gitlab_url.rstrip('/')}/api/v4/user",
                headers={"Authorization": f"Bearer {token}"},
            )
    except httpx.HTTPError as error:
        raise UpstreamError(
            f"Could not reach GitLab: {type(error).__name__}", reason="unreachable"
        ) from error
    if response.status_code == 401:
        raise AuthenticationError("GitLab refused this token (expired, revoked or mistyped).")
    if response.status_code != 200:
        raise UpstreamError(f"GitLab answered HTTP {response.status_code} to /user")
    username = (response.json() or {}).get("username")
    if not isinstance(username, str):
        raise UpstreamError("GitLab's /user answer has no username")
    return username


def check_token_shape(value: Any) -> str:
    """Reject what cannot be a token before sending it anywhere."""
    if not isinstance(value, str) or not value.strip():
        raise BadRequestError('Send a JSON body {"token": "<GitLab personal access token>"}.')
    token: str = value.strip()
    if len(token) > 4096 or any(ch.isspace() or not ch.isprintable() for ch in token):
        raise BadRequestError("This does not look like a GitLab token.", reason="invalid_token")
    return token
