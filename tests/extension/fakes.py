"""Tiny HTTP services standing in for JupyterHub's API and GitLab's ``/api/v4/user`` in tests.

They are real HTTP servers on loopback (stdlib ``http.server`` in a thread) that record what they
were asked, so tests can check both answers and traffic.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Responder = Callable[[str, dict[str, str]], tuple[int, Any]]


@contextmanager
def serve(responder: Responder) -> Iterator[tuple[str, list[tuple[str, dict[str, str]]]]]:
    """Serve ``responder(path, headers) -> (status, json)``; yield (base URL, request log)."""
    calls: list[tuple[str, dict[str, str]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            calls.append((self.path, headers))
            status, body = responder(self.path, headers)
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

    def respond(path: str, headers: dict[str, str]) -> tuple[int, Any]:
        if path != "/api/v4/user":
            return 404, {"message": "404 Not Found"}
        token = headers.get("authorization", "").removeprefix("Bearer ")
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

    def __call__(self, path: str, headers: dict[str, str]) -> tuple[int, Any]:
        if headers.get("authorization") != f"token {self.api_token}":
            return 403, {"status": 403, "message": "Forbidden"}
        if path != f"/hub/api/users/{self.user}":
            return 404, {"status": 404}
        self.issued += 1
        state = {
            "access_token": f"gitlab-token-{self.issued}",
            "refresh_token": "r",
            "token_response": {"expires_in": self.lifetime, "created_at": time.time()},
        }
        return 200, {"name": self.user, "auth_state": state}
