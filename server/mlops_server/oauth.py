"""Sign in with GitLab: ``/api/auth/login``, ``/login/callback``, ``/logout`` and the session.

The OAuth 2 authorization code flow (with PKCE) runs through authlib against GitLab's own
endpoints (``/oauth/authorize``, ``/oauth/token``, ``/oauth/revoke``). The tokens GitLab
returns (access, refresh, expiry) are kept only inside the encrypted session cookie
(``sessions.py``): no response body, redirect or log line ever carries them.

Compared with upstream: the refresh token is kept and used (upstream keeps the access token
only, so sessions die with it after two hours), ``redirect_uri`` must stay on this site or an
allowed origin (upstream redirects anywhere), and logout revokes the GitLab token.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from mlops_server.access import AccessPolicy
from mlops_server.errors import ApiError, BadRequest, Unauthorized
from mlops_server.settings import OAuthSettings, Settings

log = logging.getLogger(__name__)

CALLBACK_ROUTE = "auth_login_callback"
# Refresh a little before GitLab's expiry, so a token does not die mid-request.
EXPIRY_MARGIN = 30.0
# A rotated refresh token is remembered this long, for concurrent requests of one browser.
ROTATION_MEMORY = 60.0


class NotConfigured(ApiError):
    status_code = 501
    reason = "not_configured"


class LoginFailed(ApiError):
    status_code = 502
    reason = "login_failed"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class GitLabLogin:
    """The OAuth client and the session tokens (``access.SessionTokens``).

    Parameters
    ----------
    gitlab_url
        GitLab base URL.
    oauth
        The OAuth application (client id, secret, scopes).
    timeout
        Seconds for each call to GitLab.
    """

    def __init__(self, gitlab_url: str, oauth: OAuthSettings, *, timeout: float = 30.0) -> None:
        self.gitlab_url = gitlab_url.rstrip("/")
        self.oauth = oauth
        self.timeout = timeout
        self._rotated: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    @property
    def token_url(self) -> str:
        return f"{self.gitlab_url}/oauth/token"

    def client(self, redirect_uri: str | None = None) -> OAuth2Session:
        return OAuth2Session(
            self.oauth.client_id,
            self.oauth.client_secret,
            scope=self.oauth.scopes,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            default_timeout=self.timeout,
        )

    # -- the flow --------------------------------------------------------------------------

    def authorization_url(self, callback: str, state: str, verifier: str) -> str:
        with self.client(callback) as client:
            url, _ = client.create_authorization_url(
                f"{self.gitlab_url}/oauth/authorize", state=state, code_verifier=verifier
            )
        return str(url)

    def exchange(self, callback: str, code: str, verifier: str) -> dict[str, Any]:
        """Trade the authorization code for tokens; the session's ``auth`` entry."""
        with self.client(callback) as client:
            token = client.fetch_token(self.token_url, code=code, code_verifier=verifier)
        return self._auth_entry(dict(token))

    @staticmethod
    def _auth_entry(token: dict[str, Any], previous_refresh: str | None = None) -> dict[str, Any]:
        if not token.get("access_token"):
            raise LoginFailed("GitLab answered without an access token")
        entry: dict[str, Any] = {"access_token": str(token["access_token"])}
        refresh = token.get("refresh_token") or previous_refresh
        if refresh:
            entry["refresh_token"] = str(refresh)
        if token.get("expires_at"):
            entry["expires_at"] = float(token["expires_at"])
        elif token.get("expires_in"):
            entry["expires_at"] = time.time() + float(token["expires_in"])
        return entry

    def revoke(self, auth: dict[str, Any]) -> None:
        """Revoke the session's tokens at GitLab (best effort: logout goes on regardless)."""
        with self.client() as client:
            for hint in ("access_token", "refresh_token"):
                if not auth.get(hint):
                    continue
                try:
                    client.revoke_token(
                        f"{self.gitlab_url}/oauth/revoke", auth[hint], token_type_hint=hint
                    )
                except (OAuthError, requests.RequestException) as error:
                    log.warning("could not revoke a GitLab %s: %s", hint, type(error).__name__)

    # -- access.SessionTokens --------------------------------------------------------------

    def session_token(self, request: Request) -> str | None:
        auth = request.session.get("auth")
        if not isinstance(auth, dict) or not auth.get("access_token"):
            return None
        expires = auth.get("expires_at")
        if auth.get("refresh_token") and expires and time.time() >= expires - EXPIRY_MARGIN:
            return self.refreshed_token(request)
        return str(auth["access_token"])

    def refreshed_token(self, request: Request) -> str | None:
        auth = request.session.get("auth")
        refresh = auth.get("refresh_token") if isinstance(auth, dict) else None
        if not refresh:
            request.session.pop("auth", None)
            return None
        key = _digest(str(refresh))
        now = time.monotonic()
        with self._lock:  # GitLab rotates refresh tokens: refresh each one once
            self._rotated = {k: v for k, v in self._rotated.items() if v[0] > now}
            remembered = self._rotated.get(key)
            if remembered is None:
                try:
                    with self.client() as client:
                        token = client.refresh_token(self.token_url, refresh_token=refresh)
                    entry = self._auth_entry(dict(token), str(refresh))
                except (OAuthError, LoginFailed, requests.RequestException) as error:
                    log.info("session token refresh refused: %s", type(error).__name__)
                    request.session.pop("auth", None)
                    return None
                self._rotated[key] = (now + ROTATION_MEMORY, entry)
            else:
                entry = remembered[1]
        request.session["auth"] = dict(entry)
        return str(entry["access_token"])


def safe_redirect(request: Request, target: str | None, allowed: tuple[str, ...]) -> str:
    """Where to send the browser after login/logout: this site or an allowed origin only."""
    home = str(request.base_url)
    if not target:
        return home
    if re.match(r"^/(?![/\\])", target):  # a path on this site
        return target
    parts = urlsplit(target)
    origin = f"{parts.scheme}://{parts.netloc}"
    own = urlsplit(home)
    if parts.scheme in ("http", "https") and (
        origin == f"{own.scheme}://{own.netloc}" or origin in allowed
    ):
        return target
    raise BadRequest("Parameter 'redirect_uri': must be a path of this site or an allowed origin")


def install_auth_routes(
    app: FastAPI, settings: Settings, policy: AccessPolicy, login: GitLabLogin | None
) -> None:
    """Add ``/api/auth/login``, ``/api/auth/login/callback`` and ``/api/auth/logout``."""

    def configured() -> GitLabLogin:
        if login is None:
            raise NotConfigured(
                "No OAuth2 configured: set gitlab.oauth.client-id and client-secret "
                "(GITLAB_OAUTH_CLIENT_ID, GITLAB_OAUTH_CLIENT_SECRET)"
            )
        return login

    @app.get("/api/auth/login")
    def auth_login(request: Request, redirect_uri: str | None = None) -> RedirectResponse:
        """Start signing in with GitLab; back to ``redirect_uri`` (this site) afterwards."""
        client = configured()
        target = safe_redirect(request, redirect_uri, settings.allowed_origins)
        if client.session_token(request) is not None:
            return RedirectResponse(target, 302)
        state, verifier = generate_token(32), generate_token(64)
        request.session["login"] = {"state": state, "verifier": verifier, "redirect": target}
        callback = str(request.url_for(CALLBACK_ROUTE))
        return RedirectResponse(client.authorization_url(callback, state, verifier), 302)

    @app.get("/api/auth/login/callback", name=CALLBACK_ROUTE)
    def auth_login_callback(
        request: Request,
        code: str | None = None,
        state: str | None = None,
        error: str | None = None,
    ) -> RedirectResponse:
        """GitLab sends the browser back here with ``code`` and ``state`` (or ``error``)."""
        client = configured()
        pending = request.session.pop("login", None)
        if error:
            reason = re.sub(r"[^a-z_]", "", error.lower())[:64] or "error"
            raise Unauthorized(f"GitLab did not sign you in ({reason})")
        if not isinstance(pending, dict) or not state or state != pending.get("state"):
            raise BadRequest("Parameter 'state': unknown login, start again at /api/auth/login")
        if not code:
            raise BadRequest("Parameter 'code': missing")
        callback = str(request.url_for(CALLBACK_ROUTE))
        try:
            auth = client.exchange(callback, code, str(pending["verifier"]))
        except OAuthError as refused:
            raise Unauthorized(f"GitLab refused the login ({refused.error})") from None
        except requests.RequestException:
            raise LoginFailed("GitLab could not be reached to finish the login") from None
        request.session["auth"] = auth
        return RedirectResponse(str(pending.get("redirect") or request.base_url), 302)

    @app.get("/api/auth/logout")
    async def auth_logout(request: Request, redirect_uri: str | None = None) -> RedirectResponse:
        """Forget the session (and revoke its GitLab token), then go to ``redirect_uri``."""
        target = safe_redirect(request, redirect_uri, settings.allowed_origins)
        if "session" in request.scope:
            auth = request.session.pop("auth", None)
            request.session.pop("login", None)
            if isinstance(auth, dict) and auth.get("access_token"):
                policy.forget(str(auth["access_token"]))
                if login is not None:
                    await run_in_threadpool(login.revoke, auth)
        return RedirectResponse(target, 302)
