"""Who may see what: the one place where visibility and access levels are decided.

A request's caller is resolved from its token, in upstream SharingHub's order (``gitlab_token``
query parameter, ``X-Gitlab-Token`` header) plus ``Authorization: Bearer`` (explicit
credentials first), then the OAuth session cookie (``sharinghub-session``), then the server's
default token, then public mode; otherwise the request is a 401. A session whose token GitLab
refuses is refreshed once; when that fails the session is forgotten and the request goes on
down the list (a stale cookie must not lock a browser out of public pages).

Tokens are checked against GitLab once per TTL: the answer (is the user an admin, which
projects is it a member of, with which role) is cached under a hash of the token, never
the token itself.

GitLab's rules, applied to the index:

- public projects: everyone who got past token resolution (public mode included);
- internal projects: any authenticated user, except external users (GitLab's ``external``
  flag), who see the internal projects they are members of only;
- private projects: members (any role) and administrators.

Access levels follow upstream's check API (reference §2.3): 4 for maintainers, owners and
admins, 3 for developers, 2 for reporters and for any reader of a public or internal project,
1 for guests of a private project. Reading repository files needs level 2.

Without a membership lookup (the local project store) every caller is anonymous in public
mode, as the embedded platform has always run.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from starlette.requests import Request

from mlops_server.errors import Unauthorized

# Upstream access levels (reference §2.3).
NO_ACCESS = 0
GUEST = 1
READ_ONLY = 2
CONTRIBUTOR = 3
ADMINISTRATOR = 4

# GitLab role access levels.
GITLAB_GUEST = 10
GITLAB_REPORTER = 20
GITLAB_DEVELOPER = 30
GITLAB_MAINTAINER = 40
GITLAB_OWNER = 50

MISSING_TOKEN_MESSAGE = "Missing token, either use login, or pass it as header or query"  # noqa: S105 - a message, not a secret


class InvalidToken(Exception):
    """GitLab refused the token (401, or 403 for a blocked user)."""


@dataclass(frozen=True)
class Membership:
    """What GitLab says about one token: admin and external flags, role per project id."""

    admin: bool = False
    roles: Mapping[int, int] = field(default_factory=dict)
    #: Public profile of the token's user (id, username, name, avatar_url, web_url).
    user: Mapping[str, Any] = field(default_factory=dict)
    #: GitLab's external users see internal projects only where they are members.
    external: bool = False


class SessionTokens(Protocol):
    """GitLab tokens held in the request's session (the OAuth login, ``oauth.py``)."""

    def session_token(self, request: Request) -> str | None:
        """The session's access token (refreshed first when known to be expired)."""
        ...

    def refreshed_token(self, request: Request) -> str | None:
        """Refresh the session's token after GitLab refused it; None (and the session
        forgotten) when it cannot be refreshed."""
        ...


class MembershipLookup(Protocol):
    """A source able to tell what a token may access (the GitLab source)."""

    def memberships(self, token: str) -> Membership:
        """Return the token's membership, or raise InvalidToken."""
        ...


@dataclass(frozen=True)
class Caller:
    """The identity behind a request.

    ``token`` is the GitLab token to act with (``None`` in public mode); ``via`` says where it
    came from (``query``, ``header``, ``bearer``, ``session``, ``default`` or ``public``).
    """

    token: str | None = field(default=None, repr=False)
    via: str = "public"
    authenticated: bool = False
    admin: bool = False
    roles: Mapping[int, int] = field(default_factory=dict)
    user: Mapping[str, Any] = field(default_factory=dict)
    external: bool = False

    @property
    def anonymous(self) -> bool:
        return not self.authenticated


ANONYMOUS = Caller()


@dataclass(frozen=True)
class VisibilityFilter:
    """Projects a caller sees: any of ``visibilities``, plus the ids in ``project_ids``."""

    visibilities: tuple[str, ...]
    project_ids: tuple[int, ...] = ()


def visibility_filter(caller: Caller) -> VisibilityFilter:
    """The index filter of the projects the caller may see."""
    if caller.admin:
        return VisibilityFilter(("public", "internal", "private"))
    if caller.authenticated:
        visibilities = ("public",) if caller.external else ("public", "internal")
        return VisibilityFilter(visibilities, tuple(sorted(caller.roles)))
    return VisibilityFilter(("public",))


def can_see(caller: Caller, project_id: int, visibility: str) -> bool:
    """Whether the caller may see the project at all (search, item, check)."""
    if visibility == "public" or caller.admin:
        return True
    if visibility == "internal":
        member = caller.roles.get(project_id, 0) > 0
        return caller.authenticated and (not caller.external or member)
    return caller.roles.get(project_id, 0) > 0


def access_level(caller: Caller, project_id: int, visibility: str) -> int:
    """Upstream access level (0-4) of the caller on a project."""
    if not can_see(caller, project_id, visibility):
        return NO_ACCESS
    role = caller.roles.get(project_id, 0)
    if caller.admin or role >= GITLAB_MAINTAINER:
        return ADMINISTRATOR
    if role >= GITLAB_DEVELOPER:
        return CONTRIBUTOR
    if role >= GITLAB_REPORTER or visibility in ("public", "internal"):
        return READ_ONLY
    return GUEST


def _token_of(request: Request) -> tuple[str | None, str]:
    token = request.query_params.get("gitlab_token")
    if token:
        return token, "query"
    token = request.headers.get("x-gitlab-token")
    if token:
        return token, "header"
    authorization = request.headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), "bearer"
    return None, "public"  # the session cookie comes next (AccessPolicy.caller)


class AccessPolicy:
    """Resolves callers from requests, with a per-token TTL cache of memberships.

    Parameters
    ----------
    lookup
        Where memberships come from; ``None`` means the local store (everyone anonymous).
    allow_public
        Public mode: requests without a token see public projects.
    default_token
        Token used for requests without one (upstream ``gitlab.oauth.default-token``).
    ttl
        Seconds a token's memberships are trusted before asking GitLab again.
    sessions
        Tokens of OAuth sessions (the ``sharinghub-session`` cookie); None without login.
    """

    def __init__(
        self,
        lookup: MembershipLookup | None = None,
        *,
        allow_public: bool = True,
        default_token: str | None = None,
        ttl: float = 60.0,
        sessions: SessionTokens | None = None,
    ) -> None:
        self.lookup = lookup
        self.sessions = sessions
        self.allow_public = allow_public
        self._default_token = default_token
        self.ttl = ttl
        self._cache: dict[str, tuple[float, Membership]] = {}
        self._lock = threading.Lock()

    def caller(self, request: Request) -> Caller:
        """Resolve the caller of a request; raise Unauthorized when there is none."""
        if self.lookup is None:
            return ANONYMOUS
        token, via = _token_of(request)
        if token is None and self.sessions is not None and "session" in request.scope:
            found = self._session_caller(request)
            if found is not None:
                return found
        if token is None and self._default_token:
            token, via = self._default_token, "default"
        if token is None:
            if self.allow_public:
                return ANONYMOUS
            raise Unauthorized(MISSING_TOKEN_MESSAGE)
        return self._caller(token, via, self.membership(token))

    @staticmethod
    def _caller(token: str, via: str, membership: Membership) -> Caller:
        return Caller(
            token=token,
            via=via,
            authenticated=True,
            admin=membership.admin,
            roles=membership.roles,
            user=membership.user,
            external=membership.external,
        )

    def _session_caller(self, request: Request) -> Caller | None:
        """The caller behind the session cookie, refreshing its token once if refused."""
        assert self.sessions is not None
        token = self.sessions.session_token(request)
        if token is None:
            return None
        try:
            return self._caller(token, "session", self._lookup(token))
        except InvalidToken:
            self.forget(token)
        token = self.sessions.refreshed_token(request)
        if token is None:
            return None
        return self._caller(token, "session", self.membership(token))

    def membership(self, token: str) -> Membership:
        """The token's memberships, from the cache when fresh; 401 when GitLab refuses."""
        try:
            return self._lookup(token)
        except InvalidToken:
            raise Unauthorized("Invalid token: GitLab refused it") from None

    @staticmethod
    def _key(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def _lookup(self, token: str) -> Membership:
        assert self.lookup is not None
        key = self._key(token)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        membership = self.lookup.memberships(token)
        with self._lock:
            self._cache[key] = (now + self.ttl, membership)
            if len(self._cache) > 10_000:  # bound memory: drop expired entries
                self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
        return membership

    def forget(self, token: str) -> None:
        """Drop one token's cached memberships (logout, refused session token)."""
        with self._lock:
            self._cache.pop(self._key(token), None)

    def invalidate(self) -> None:
        """Forget every cached membership (after a GitLab membership event)."""
        with self._lock:
            self._cache.clear()
