"""GitLab as an OAuth 2 provider, for the test double: applications, sign-in, codes, tokens.

Follows GitLab's documented behaviour (Doorkeeper): ``GET /oauth/authorize`` needs a signed-in
browser (else 302 to ``/users/sign_in``), checks the client and its exact registered
``redirect_uri`` (an error page, never a redirect, when they are wrong), supports PKCE (S256
and plain) and answers with ``302 redirect_uri?code=&state=``; trusted applications skip the
consent screen. ``POST /oauth/token`` (client authentication by HTTP Basic or form fields)
exchanges a code once, or a refresh token (which rotates: the old refresh and access tokens
are revoked); tokens last ``expires_in`` = 7200 s. ``POST /oauth/revoke`` revokes either kind.
An access token authenticates on ``/api/v4`` like a personal access token.

Tests sign a browser in with ``double.oauth.sign_in(username)`` (the ``_gitlab_session``
cookie value), make a user refuse consent with ``declines``, and expire a user's access
tokens (refresh tokens stay valid) with ``expire_access_tokens``.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.gitlab_double.model import GitLabState

SESSION_COOKIE = "_gitlab_session"
CODE_LIFETIME = 600


@dataclass
class Application:
    """A registered OAuth application (GitLab: Admin > Applications)."""

    client_id: str
    secret: str
    redirect_uri: str
    scopes: set[str] = field(
        default_factory=lambda: {"api", "read_user", "read_repository", "write_repository"}
    )
    trusted: bool = True


@dataclass
class _Grant:
    client_id: str
    username: str
    scopes: str
    redirect_uri: str = ""
    challenge: str | None = None
    method: str = "plain"
    expires: float = 0.0
    access_token: str = ""


class OAuthProvider:
    """OAuth state and routes; ``routes`` are mounted beside ``/api/v4`` by the app."""

    def __init__(self, state: GitLabState) -> None:
        self.state = state
        self.applications: dict[str, Application] = {}
        self.access_token_lifetime = 7200
        #: Usernames that press "Deny" on the consent screen.
        self.declines: set[str] = set()
        #: (path, grant_type or "") of every call to the OAuth endpoints.
        self.calls: list[tuple[str, str]] = []
        self._sessions: dict[str, str] = {}
        self._codes: dict[str, _Grant] = {}
        self._refresh: dict[str, _Grant] = {}
        self._access: dict[str, str] = {}  # access token -> username
        #: Every access and refresh token ever issued (to prove none leaks anywhere).
        self.issued: list[str] = []
        self.routes = [
            Route("/oauth/authorize", self.authorize, methods=["GET"]),
            Route("/oauth/token", self.token, methods=["POST"]),
            Route("/oauth/revoke", self.revoke, methods=["POST"]),
        ]

    # -- seeding and test controls ---------------------------------------------------------

    def register(self, client_id: str, secret: str, redirect_uri: str) -> Application:
        application = Application(client_id, secret, redirect_uri)
        self.applications[client_id] = application
        return application

    def sign_in(self, username: str) -> str:
        """A browser session of ``username``: the ``_gitlab_session`` cookie value."""
        if username not in self.state.users:
            raise KeyError(username)
        session = secrets.token_hex(16)
        self._sessions[session] = username
        return session

    def expire_access_tokens(self, username: str) -> None:
        """Let the user's OAuth access tokens expire (refresh tokens stay valid)."""
        with self.state.lock:
            for token, owner in list(self._access.items()):
                if owner == username:
                    self._drop_access(token)

    def revoke_all(self, username: str) -> None:
        """Revoke every OAuth token of the user (as "Revoke" in the user's applications)."""
        with self.state.lock:
            for token, grant in list(self._refresh.items()):
                if grant.username == username:
                    del self._refresh[token]
        self.expire_access_tokens(username)

    def live_access_tokens(self, username: str) -> list[str]:
        return [t for t, owner in self._access.items() if owner == username]

    # -- helpers ---------------------------------------------------------------------------

    def _drop_access(self, token: str) -> None:
        username = self._access.pop(token, None)
        if username is not None and token in self.state.users[username].tokens:
            self.state.users[username].tokens.remove(token)

    def _issue(self, grant: _Grant) -> JSONResponse:
        access, refresh = secrets.token_hex(32), secrets.token_hex(32)
        with self.state.lock:
            self.state.users[grant.username].tokens.append(access)
            self.issued += [access, refresh]
            self._access[access] = grant.username
            self._refresh[refresh] = _Grant(
                grant.client_id, grant.username, grant.scopes, access_token=access
            )
        body = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.access_token_lifetime,
            "refresh_token": refresh,
            "scope": grant.scopes,
            "created_at": int(time.time()),
        }
        return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    @staticmethod
    def _error(error: str, description: str, status: int = 400) -> JSONResponse:
        return JSONResponse({"error": error, "error_description": description}, status)

    async def _form(self, request: Request) -> dict[str, str]:
        return dict(parse_qsl((await request.body()).decode()))

    def _client(self, request: Request, form: dict[str, str]) -> Application | None:
        client_id, secret = form.get("client_id"), form.get("client_secret")
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            decoded = base64.b64decode(header[6:]).decode()
            client_id, _, secret = decoded.partition(":")
        application = self.applications.get(client_id or "")
        if application is None or not secrets.compare_digest(application.secret, secret or ""):
            return None
        return application

    # -- routes ----------------------------------------------------------------------------

    async def authorize(self, request: Request) -> Response:
        params = request.query_params
        self.calls.append(("/oauth/authorize", ""))
        application = self.applications.get(params.get("client_id", ""))
        if application is None or params.get("redirect_uri") != application.redirect_uri:
            return Response("The redirect URI included is not valid.", 400, media_type="text/html")
        username = self._sessions.get(request.cookies.get(SESSION_COOKIE, ""))
        if username is None:
            return RedirectResponse(f"{request.base_url}users/sign_in", 302)

        def back(**values: str) -> RedirectResponse:
            if params.get("state") is not None:
                values["state"] = params["state"]
            return RedirectResponse(f"{application.redirect_uri}?{urlencode(values)}", 302)

        if params.get("response_type") != "code":
            return back(error="unsupported_response_type", error_description="Only code.")
        scopes = params.get("scope", "read_user").split()
        if not set(scopes) <= application.scopes:
            return back(error="invalid_scope", error_description="The requested scope is invalid.")
        method = params.get("code_challenge_method", "plain")
        if params.get("code_challenge") and method not in ("S256", "plain"):
            return back(error="invalid_request", error_description="Bad code_challenge_method.")
        if username in self.declines or not application.trusted:
            return back(
                error="access_denied",
                error_description="The resource owner or authorization server denied the request.",
            )
        code = secrets.token_hex(32)
        self._codes[code] = _Grant(
            application.client_id,
            username,
            " ".join(scopes),
            redirect_uri=application.redirect_uri,
            challenge=params.get("code_challenge"),
            method=method,
            expires=time.monotonic() + CODE_LIFETIME,
        )
        return back(code=code)

    async def token(self, request: Request) -> Response:
        form = await self._form(request)
        grant_type = form.get("grant_type", "")
        self.calls.append(("/oauth/token", grant_type))
        application = self._client(request, form)
        if application is None:
            return self._error("invalid_client", "Client authentication failed.", 401)
        invalid = self._error("invalid_grant", "The provided authorization grant is invalid.")
        if grant_type == "authorization_code":
            grant = self._codes.pop(form.get("code", ""), None)
            if (
                grant is None
                or grant.client_id != application.client_id
                or grant.expires < time.monotonic()
                or form.get("redirect_uri") != grant.redirect_uri
            ):
                return invalid
            if grant.challenge is not None:
                verifier = form.get("code_verifier", "")
                if grant.method == "S256":
                    digest = hashlib.sha256(verifier.encode()).digest()
                    verifier = base64.urlsafe_b64encode(digest).decode().rstrip("=")
                if not secrets.compare_digest(verifier, grant.challenge):
                    return invalid
            return self._issue(grant)
        if grant_type == "refresh_token":
            with self.state.lock:
                grant = self._refresh.pop(form.get("refresh_token", ""), None)
                if grant is None or grant.client_id != application.client_id:
                    return invalid
                self._drop_access(grant.access_token)  # rotation revokes the previous pair
            return self._issue(grant)
        return self._error("unsupported_grant_type", "The grant type is not supported.")

    async def revoke(self, request: Request) -> Response:
        form = await self._form(request)
        self.calls.append(("/oauth/revoke", ""))
        if self._client(request, form) is None:
            return self._error("invalid_client", "Client authentication failed.", 401)
        token = form.get("token", "")
        with self.state.lock:
            grant = self._refresh.pop(token, None)
            if grant is not None:
                self._drop_access(grant.access_token)
            self._drop_access(token)
        return JSONResponse({})
