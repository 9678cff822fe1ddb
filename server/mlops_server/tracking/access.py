"""Who may do what on a project: credentials, the catalog's check API, and a short cache.

Access levels follow upstream SharingHub: 1 (guest) and 2 (reporter) may read, 3 (developer)
and 4 (maintainer) may also create, update and delete.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from mlops_server.tracking.config import TrackingConfig

READ_LEVEL = 1
WRITE_LEVEL = 3
ADMINISTRATOR_LEVEL = 4


@dataclass(frozen=True)
class Credentials:
    """What the caller presented: a bearer token, a SharingHub session cookie, or nothing."""

    token: str | None = None
    session: str | None = None

    @property
    def anonymous(self) -> bool:
        return self.token is None and self.session is None

    def cache_key(self) -> str:
        """A key for the permission cache that does not keep the secret itself."""
        raw = f"t:{self.token}" if self.token else f"s:{self.session}" if self.session else "-"
        return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class ProjectAccess:
    """The caller's standing on one project, as the check API reported it."""

    id: int
    path: str
    name: str
    level: int

    @property
    def can_read(self) -> bool:
        return self.level >= READ_LEVEL

    @property
    def can_write(self) -> bool:
        return self.level >= WRITE_LEVEL


class AuthenticationRequired(Exception):
    """The catalog wants credentials (it answered 401)."""


class CheckUnavailable(Exception):
    """The catalog could not be asked (network error or unexpected answer)."""


def credentials_from_headers(headers: dict[str, str], cookie_name: str) -> Credentials:
    """Read ``Authorization: Bearer`` first, then the SharingHub session cookie."""
    authorization = headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return Credentials(token=value.strip())
    for part in headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == cookie_name and value:
            return Credentials(session=value)
    return Credentials()


# A lookup answers ``None`` when the project is unknown to the caller or not an MLflow project.
AccessLookup = Callable[[Credentials, str], Awaitable[ProjectAccess | None]]


class CachedAccess:
    """Caches access answers per credential and project for ``ttl`` seconds."""

    def __init__(self, lookup: AccessLookup, ttl: float) -> None:
        self._lookup = lookup
        self._ttl = ttl
        self._entries: dict[tuple[str, str], tuple[float, ProjectAccess | None]] = {}

    async def __call__(self, credentials: Credentials, path: str) -> ProjectAccess | None:
        key = (credentials.cache_key(), path)
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        answer = await self._lookup(credentials, path)
        if len(self._entries) > 10_000:
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
        self._entries[key] = (now + self._ttl, answer)
        return answer


class SharingHubChecker:
    """Asks ``GET <sharinghub>/api/check/<quoted path>?info=true`` with the caller's credentials.

    A bearer token is sent as ``X-Gitlab-Token`` (what SharingHub reads), a session cookie is
    forwarded as is. A project without the configured category counts as no access.
    """

    def __init__(self, config: TrackingConfig, client: httpx.AsyncClient | None = None) -> None:
        if not config.sharinghub_url:
            raise ValueError("SHARINGHUB_URL is not set")
        self._config = config
        self._client = client or httpx.AsyncClient(timeout=config.check_timeout)

    async def __call__(self, credentials: Credentials, path: str) -> ProjectAccess | None:
        headers: dict[str, str] = {}
        cookies: dict[str, str] = {}
        if credentials.token:
            headers["X-Gitlab-Token"] = credentials.token
        elif credentials.session:
            cookies[self._config.session_cookie] = credentials.session
        url = f"{self._config.sharinghub_url}/api/check/{quote(path, safe='')}"
        try:
            response = await self._client.get(
                url, params={"info": "true"}, headers=headers, cookies=cookies
            )
        except httpx.HTTPError as error:
            raise CheckUnavailable(f"SharingHub check failed: {error}") from error
        if response.status_code == 401:
            raise AuthenticationRequired()
        if response.status_code in (403, 404):
            return None
        if response.status_code != 200:
            raise CheckUnavailable(f"SharingHub check answered {response.status_code}")
        try:
            body = response.json()
            access = ProjectAccess(
                id=int(body["id"]),
                path=str(body["path"]),
                name=str(body.get("name", body["path"])),
                level=int(body.get("access_level", 0)),
            )
            categories = [str(c) for c in body.get("categories") or []]
        except (ValueError, KeyError, TypeError) as error:
            raise CheckUnavailable("SharingHub check answered an unexpected body") from error
        if self._config.stac_collection not in categories:
            return None
        return access
