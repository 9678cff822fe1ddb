"""Run the GitLab double with uvicorn in a background thread on a free loopback port."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from types import TracebackType
from typing import Any

import uvicorn

from tests.gitlab_double.app import GitLabApp
from tests.gitlab_double.model import GitLabState, Hook, Project, User
from tests.gitlab_double.oauth import OAuthProvider


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _send_hook(hook: Hook, kind: str, payload: dict[str, Any]) -> None:
    """POST a webhook like GitLab does (JSON body, event and token headers)."""
    headers = {"Content-Type": "application/json", "X-Gitlab-Event": kind}
    if hook.token is not None:
        headers["X-Gitlab-Token"] = hook.token
    request = urllib.request.Request(
        hook.url, data=json.dumps(payload).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
    except urllib.error.HTTPError as error:  # GitLab records failures and moves on
        hook.last_status = error.code  # type: ignore[attr-defined]
    else:
        hook.last_status = 200  # type: ignore[attr-defined]


class GitLabDouble:
    """A seeded GitLab double served over HTTP; a context manager.

    Parameters
    ----------
    users, projects
        The initial instance content (see ``tests.gitlab_double.model``).

    Attributes
    ----------
    url
        Base URL (``http://127.0.0.1:<port>``); the API is under ``/api/v4``.
    state
        The live ``GitLabState``: mutate it to change what the API returns.
    requests
        ``(method, path, username)`` of every authenticated-or-anonymous API call received
        (path decoded, after ``/api/v4``; username None when anonymous), for call counting.
    """

    def __init__(
        self, users: list[User] | None = None, projects: list[Project] | None = None
    ) -> None:
        self.state = GitLabState(users, projects)
        self.state.sender = _send_hook
        self._app = GitLabApp(self.state)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = uvicorn.Server(
            uvicorn.Config(self._app.app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def requests(self) -> list[tuple[str, str, str | None]]:
        return self._app.requests

    @property
    def oauth(self) -> OAuthProvider:
        """GitLab as an OAuth provider: register applications, sign browsers in."""
        return self._app.oauth

    def start(self) -> GitLabDouble:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("GitLab double did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> GitLabDouble:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()
