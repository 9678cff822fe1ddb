"""Signing in with GitLab: the OAuth code flow over HTTP, the session cookie, refresh, logout.

A real ``mlops-server serve`` catalogs the GitLab double, which also plays GitLab's OAuth
provider. The browser is an httpx client following redirects by hand; GitLab's consent step
is a second client carrying a signed-in ``_gitlab_session`` cookie. No issued token may
appear in any response body, header or redirect, nor in the server's log.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from mlops_server.settings import load_settings

from tests.gitlab_double import GitLabDouble
from tests.server.conftest import SERVICE_TOKEN, TABLE_PROJECTS, ServerProcess

CLIENT_ID = "mlops-app-id"
CLIENT_SECRET = "mlops-app-secret"
COOKIE = "sharinghub-session"
PRIVATE = TABLE_PROJECTS["private"]


class Browser:
    """An httpx client with a cookie jar that records every response it sees."""

    def __init__(self, base_url: str, seen: list[str]) -> None:
        self.seen = seen
        self.client = httpx.Client(
            base_url=base_url, timeout=10, event_hooks={"response": [self._record]}
        )

    def _record(self, response: httpx.Response) -> None:
        response.read()
        self.seen.append(response.text)
        self.seen.extend(f"{k}: {v}" for k, v in response.headers.multi_items())

    def get(self, url: str, **kwargs: object) -> httpx.Response:
        return self.client.get(url, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def oauth_server(
    gitlab: GitLabDouble, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """An mlops-server with GitLab login configured, and its log file."""
    log = tmp_path_factory.mktemp("oauth-server") / "server.log"
    server = ServerProcess(
        ["--gitlab-url", gitlab.url, "--sync-interval", "0", "--log-level", "debug"],
        log,
        env={
            "MLOPS_GITLAB_TOKEN": SERVICE_TOKEN,
            "GITLAB_ALLOW_PUBLIC": "true",
            "GITLAB_OAUTH_CLIENT_ID": CLIENT_ID,
            "GITLAB_OAUTH_CLIENT_SECRET": CLIENT_SECRET,
            "SESSION_SECRET_KEY": "test-session-key",
            "SESSION_MAX_AGE": "1800",
            "ALLOWED_ORIGINS": "http://lab.example",
            # Ask GitLab about every token each time, so expiry and revocation show at once.
            "MLOPS_ACCESS_CACHE_TTL": "0",
        },
    )
    url = server.wait_ready()
    gitlab.oauth.register(CLIENT_ID, CLIENT_SECRET, f"{url}/api/auth/login/callback")
    yield url, log
    server.stop()


@pytest.fixture
def seen(gitlab: GitLabDouble, oauth_server: tuple[str, Path]) -> Iterator[list[str]]:
    """Everything the test's browsers received; checked for tokens after the test."""
    received: list[str] = []
    yield received
    # Then no token GitLab issued appears in any body, header, redirect or log line
    log = oauth_server[1].read_text()
    for token in gitlab.oauth.issued:
        assert not any(token in text for text in received)
        assert token not in log


@pytest.fixture
def browser(oauth_server: tuple[str, Path], seen: list[str]) -> Iterator[Browser]:
    client = Browser(oauth_server[0], seen)
    yield client
    client.client.close()


def set_cookies(response: httpx.Response) -> list[str]:
    return [v for k, v in response.headers.multi_items() if k == "set-cookie"]


def sign_in(
    browser: Browser, gitlab: GitLabDouble, username: str, target: str = "/api/stac"
) -> httpx.Response:
    """Run the whole login; return the callback's response (the redirect to ``target``)."""
    # The server sends the browser to GitLab's authorize endpoint
    start = browser.get("/api/auth/login", params={"redirect_uri": target})
    assert start.status_code == 302, start.text
    authorize = start.headers["location"]
    assert authorize.startswith(f"{gitlab.url}/oauth/authorize?")
    # GitLab (the user is signed in there) sends it back with a code
    consent = httpx.get(authorize, cookies={"_gitlab_session": gitlab.oauth.sign_in(username)})
    assert consent.status_code == 302
    callback = consent.headers["location"]
    # The callback trades the code for tokens and returns to the target
    return browser.get(callback)


def test_login_flow_sets_an_encrypted_http_only_session_cookie(
    gitlab: GitLabDouble, browser: Browser, oauth_server: tuple[str, Path]
) -> None:
    # When the developer logs in
    start = browser.get("/api/auth/login", params={"redirect_uri": "/api/stac"})
    query = parse_qs(urlsplit(start.headers["location"]).query)
    done = sign_in(browser, gitlab, "developer")

    # Then GitLab was asked for a code with PKCE, for this server's callback, without secret
    assert query["client_id"] == [CLIENT_ID]
    assert query["response_type"] == ["code"]
    assert query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == [f"{oauth_server[0]}/api/auth/login/callback"]
    assert CLIENT_SECRET not in start.headers["location"]
    # And the browser is back where it asked, with the session cookie's flags
    assert done.status_code == 302
    assert done.headers["location"] == "/api/stac"
    cookie = next(c for c in set_cookies(done) if c.startswith(f"{COOKIE}="))
    flags = [part.strip() for part in cookie.split(";")]
    assert "HttpOnly" in flags
    assert "SameSite=Lax" in flags
    assert "Max-Age=1800" in flags
    assert "Path=/" in flags
    assert "Secure" not in flags  # plain http here
    # And the cookie is sealed: the token cannot be read out of it
    sealed = browser.client.cookies[COOKIE]
    token = gitlab.oauth.live_access_tokens("developer")[-1]
    assert token.encode() not in base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))

    # When the browser asks who it is and checks the private project with the cookie only
    info = browser.get("/api/auth/info")
    check = browser.get(f"/api/check/{PRIVATE}", params={"info": "true"})

    # Then it is the developer, signed in through the session
    assert info.status_code == 200
    assert info.json()["token_source"] == "session"
    assert info.json()["user"]["username"] == "developer"
    assert check.json()["access_level"] == 3


def test_explicit_tokens_win_over_the_session(gitlab: GitLabDouble, browser: Browser) -> None:
    # Given a browser signed in as the developer
    sign_in(browser, gitlab, "developer")
    # When a request of that browser also carries the guest's token in a header
    check = browser.get(
        f"/api/check/{PRIVATE}", params={"info": "true"}, headers={"X-Gitlab-Token": "guest-token"}
    )
    # Then upstream's order applies: the header comes before the cookie
    assert check.json()["access_level"] == 1


def test_logout_forgets_the_session_and_revokes_the_token(
    gitlab: GitLabDouble, browser: Browser
) -> None:
    # Given a signed-in browser, and a copy of its cookie
    sign_in(browser, gitlab, "maintainer")
    stolen = browser.client.cookies[COOKIE]
    assert gitlab.oauth.live_access_tokens("maintainer")

    # When it logs out
    out = browser.get("/api/auth/logout", params={"redirect_uri": "/api/stac"})

    # Then it is sent on, the cookie is deleted, and the session no longer signs in
    assert out.status_code == 302
    assert out.headers["location"] == "/api/stac"
    assert any("Max-Age=0" in c for c in set_cookies(out) if c.startswith(f"{COOKIE}="))
    assert browser.get("/api/auth/info").status_code == 401
    # And the GitLab token is revoked, so even the copied cookie signs nobody in
    assert gitlab.oauth.live_access_tokens("maintainer") == []
    with httpx.Client(base_url=browser.client.base_url, cookies={COOKIE: stolen}) as thief:
        assert thief.get("/api/auth/info").status_code == 401


def test_an_expired_token_is_refreshed_and_the_cookie_renewed(
    gitlab: GitLabDouble, browser: Browser
) -> None:
    # Given a signed-in reporter whose access token then expires at GitLab
    sign_in(browser, gitlab, "reporter")
    before = browser.client.cookies[COOKIE]
    old_token = gitlab.oauth.live_access_tokens("reporter")[-1]
    gitlab.oauth.expire_access_tokens("reporter")

    # When the browser calls the API again
    check = browser.get(f"/api/check/{PRIVATE}", params={"info": "true"})

    # Then the server refreshed the token and carried on as the reporter
    assert check.status_code == 200
    assert check.json()["access_level"] == 2
    assert ("/oauth/token", "refresh_token") in gitlab.oauth.calls
    fresh = gitlab.oauth.live_access_tokens("reporter")
    assert len(fresh) == 1
    assert fresh[0] != old_token
    # And the browser got a renewed cookie, which keeps working
    assert browser.client.cookies[COOKIE] != before
    assert browser.get("/api/auth/info").json()["user"]["username"] == "reporter"


def test_a_session_that_cannot_be_refreshed_is_dropped_for_public_access(
    gitlab: GitLabDouble, browser: Browser
) -> None:
    # Given a signed-in guest whose tokens are all revoked at GitLab
    sign_in(browser, gitlab, "guest")
    gitlab.oauth.revoke_all("guest")

    # When the browser calls the API
    info = browser.get("/api/auth/info")
    search = browser.get("/api/stac/search", params={"collections": "ai-model"})

    # Then it is no longer signed in, its cookie is deleted, and public pages still work
    assert info.status_code == 401
    assert any("Max-Age=0" in c for c in set_cookies(info) if c.startswith(f"{COOKIE}="))
    assert search.status_code == 200
    assert {f["id"] for f in search.json()["features"]} == {TABLE_PROJECTS["public"]}


def test_the_cookie_is_secure_behind_an_https_proxy(browser: Browser) -> None:
    # When a login starts through a TLS-terminating proxy (trusted loopback) and without one
    https = browser.get(
        "/api/auth/login", params={"redirect_uri": "/"}, headers={"X-Forwarded-Proto": "https"}
    )
    plain = browser.get("/api/auth/login", params={"redirect_uri": "/"})
    # Then only the https one marks the session cookie Secure
    assert any("Secure" in c for c in set_cookies(https))
    assert not any("Secure" in c for c in set_cookies(plain))
    assert set_cookies(plain)  # the login state is in the cookie too


@pytest.mark.parametrize(
    "target", ["https://evil.example/x", "//evil.example/x", "javascript:alert(1)"]
)
def test_login_and_logout_refuse_foreign_redirects(browser: Browser, target: str) -> None:
    for route in ("/api/auth/login", "/api/auth/logout"):
        response = browser.get(route, params={"redirect_uri": target})
        assert response.status_code == 400, route
        assert response.json()["reason"] == "bad_request"
        assert "redirect_uri" in response.json()["message"]


def test_an_allowed_origin_may_be_the_redirect_target(browser: Browser) -> None:
    response = browser.get("/api/auth/login", params={"redirect_uri": "http://lab.example/lab"})
    assert response.status_code == 302


def test_a_forged_callback_or_a_refusal_signs_nobody_in(
    gitlab: GitLabDouble, browser: Browser
) -> None:
    # When a callback arrives for a login this browser never started
    forged = browser.get("/api/auth/login/callback", params={"code": "x", "state": "y"})
    # Then it is refused
    assert forged.status_code == 400
    assert forged.json()["reason"] == "bad_request"

    # When the user refuses consent at GitLab
    gitlab.oauth.declines.add("outsider")
    try:
        refused = sign_in(browser, gitlab, "outsider")
    finally:
        gitlab.oauth.declines.discard("outsider")
    # Then the callback says so and no session exists
    assert refused.status_code == 401
    assert "access_denied" in refused.json()["message"]
    assert browser.get("/api/auth/info").status_code == 401


def test_a_tampered_cookie_is_ignored_and_deleted(browser: Browser) -> None:
    browser.client.cookies.set(COOKIE, "gAAAAforged")
    response = browser.get("/api/auth/info")
    assert response.status_code == 401
    assert any("Max-Age=0" in c for c in set_cookies(response))


def test_servers_without_oauth_say_so(gitlab_url: str, browser: Browser) -> None:
    # When login is asked of a server without an OAuth application
    response = httpx.get(f"{gitlab_url}/api/auth/login")
    # Then the error says what to configure, and /api/config/ tells the UIs which kind it is
    assert response.status_code == 501
    assert response.json()["reason"] == "not_configured"
    assert "client-id" in response.json()["message"]
    assert httpx.get(f"{gitlab_url}/api/config/").json()["auth"] == "token"
    assert browser.get("/api/config/").json()["auth"] == "oauth2"


def test_login_and_session_settings_read_upstreams_keys_and_env(tmp_path: Path) -> None:
    # Given an upstream config with the OAuth client and the session block
    config = tmp_path / "config.yaml"
    config.write_text(
        "gitlab:\n  url: https://gitlab.example\n"
        "  oauth:\n    client-id: from-yaml\n    client-secret: yaml-secret\n"
        "server:\n  allowed-origins: [http://ui.example]\n"
        "  session:\n    cookie: hub-session\n    max-age: 600\n    domain: example.org\n"
    )
    secrets_dir = tmp_path / "secret"
    secrets_dir.mkdir()
    (secrets_dir / "sessionSecretKey").write_text("key-from-file\n")
    # When it loads, with environment overrides as upstream reads them
    settings = load_settings(
        config,
        env={"GITLAB_OAUTH_CLIENT_ID": "from-env", "SECRET_DIR": str(secrets_dir)},
    )
    # Then env wins over YAML, the secret file fills the key, and secrets stay out of reprs
    assert settings.oauth is not None
    assert settings.oauth.client_id == "from-env"
    assert settings.oauth.client_secret == "yaml-secret"
    assert settings.session.cookie == "hub-session"
    assert settings.session.max_age == 600
    assert settings.session.domain == "example.org"
    assert settings.session.secret_key == "key-from-file"
    assert settings.allowed_origins == ("http://ui.example",)
    assert "yaml-secret" not in repr(settings)
    assert "key-from-file" not in repr(settings)
    # And without a client secret there is no login
    assert load_settings(config, env={"GITLAB_OAUTH_CLIENT_SECRET": ""}).oauth is not None
    config.write_text("gitlab:\n  url: https://gitlab.example\n")
    bare = load_settings(config, env={})
    assert bare.oauth is None
    assert bare.session.cookie == "sharinghub-session"
    assert bare.session.max_age == 3600
