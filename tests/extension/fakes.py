"""Tiny HTTP services standing in for JupyterHub's API and GitLab's ``/api/v4/user`` in tests.

They are real HTTP servers on loopback (stdlib ``http.server`` in a thread) that record what they
were asked, so tests can check both answers and traffic.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl


@dataclass(frozen=True)
class Request:
    """What a fake service was asked."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode()))


Responder = Callable[[Request], tuple[int, Any]]


@contextmanager
def serve(responder: Responder) -> Iterator[tuple[str, list[Request]]]:
    """Serve ``responder(request) -> (status, json)``; yield (base URL, request log)."""
    calls: list[Request] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer()

        def do_POST(self) -> None:
            self._answer()

        def _answer(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            length = int(headers.get("content-length") or 0)
            request = Request(self.command, self.path, headers, self.rfile.read(length))
            calls.append(request)
            status, body = responder(request)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", calls
    finally:
        server.shutdown()
        server.server_close()


def gitlab_user_api(tokens: dict[str, str]) -> Responder:
    """GitLab's ``GET /api/v4/user``: 200 with the username for a known token, else 401."""

    def respond(request: Request) -> tuple[int, Any]:
        if request.path != "/api/v4/user":
            return 404, {"message": "404 Not Found"}
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token in tokens:
            return 200, {"id": 1, "username": tokens[token]}
        return 401, {"message": "401 Unauthorized"}

    return respond


class FakeHub:
    """JupyterHub's ``GET /users/<name>`` returning an auth state whose token rotates.

    Each call hands out ``gitlab-token-<n>`` valid for ``lifetime`` seconds, like a Hub that
    refreshed the user's GitLab grant.
    """

    def __init__(self, user: str, api_token: str, lifetime: float) -> None:
        self.user, self.api_token, self.lifetime = user, api_token, lifetime
        self.issued = 0

    def __call__(self, request: Request) -> tuple[int, Any]:
        if request.headers.get("authorization") != f"token {self.api_token}":
            return 403, {"status": 403, "message": "Forbidden"}
        if request.path != f"/hub/api/users/{self.user}":
            return 404, {"status": 404}
        self.issued += 1
        state = {
            "access_token": f"gitlab-token-{self.issued}",
            "refresh_token": "r",
            "token_response": {"expires_in": self.lifetime, "created_at": time.time()},
        }
        return 200, {"name": self.user, "auth_state": state}


class FakeGitLabOAuth:
    """GitLab's OAuth token endpoint (PKCE, S256) and ``/api/v4/user`` for the issued tokens.

    ``issue_code(challenge)`` stands in for the user approving the consent page; the token
    endpoint then checks the verifier against that challenge, as GitLab does, and rotates
    refresh tokens on every refresh.
    """

    def __init__(self, client_id: str, lifetime: float = 7200) -> None:
        self.client_id, self.lifetime = client_id, lifetime
        self.codes: dict[str, tuple[str, str]] = {}
        self.tokens: dict[str, str] = {}
        self.refresh_tokens: set[str] = set()
        self.issued = 0

    def issue_code(self, challenge: str, redirect_uri: str) -> str:
        code = f"code-{len(self.codes)}"
        self.codes[code] = (challenge, redirect_uri)
        return code

    def _tokens(self) -> dict[str, Any]:
        self.issued += 1
        access, refresh = f"oauth-access-{self.issued}", f"oauth-refresh-{self.issued}"
        self.tokens[access] = "carol"
        self.refresh_tokens.add(refresh)
        return {
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "Bearer",
            "expires_in": self.lifetime,
            "created_at": int(time.time()),
        }

    def __call__(self, request: Request) -> tuple[int, Any]:
        if request.method == "POST" and request.path == "/oauth/token":
            form = request.form()
            if form.get("client_id") != self.client_id:
                return 401, {"error": "invalid_client"}
            if form.get("grant_type") == "authorization_code":
                challenge, redirect_uri = self.codes.pop(form.get("code", ""), ("", ""))
                verifier = form.get("code_verifier", "")
                digest = hashlib.sha256(verifier.encode()).digest()
                expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
                if (
                    not challenge
                    or expected != challenge
                    or redirect_uri != form.get("redirect_uri")
                ):
                    return 400, {"error": "invalid_grant"}
                return 200, self._tokens()
            if form.get("grant_type") == "refresh_token":
                if form.get("refresh_token") not in self.refresh_tokens:
                    return 400, {"error": "invalid_grant"}
                self.refresh_tokens.discard(form["refresh_token"])
                return 200, self._tokens()
            return 400, {"error": "unsupported_grant_type"}
        return gitlab_user_api(self.tokens)(request)
