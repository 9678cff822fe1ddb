"""The session cookie: an encrypted, authenticated cookie holding a small JSON dict.

Upstream keeps its session in a Starlette cookie that is signed but readable, so the GitLab
token inside is visible to anyone holding the cookie jar. Here the dict is sealed with Fernet
(AES-CBC + HMAC-SHA256, with a timestamp checked against the cookie's max-age), under a key
derived from ``server.session.secret-key``: the browser carries the session but can neither
read nor alter it, and replicas sharing the key share sessions with no server-side store.

The middleware exposes ``request.session`` like Starlette's and writes the cookie back only
when the dict changed. The cookie is ``HttpOnly`` and ``SameSite=Lax``, ``Secure`` when the
request came over https (or always, with ``https-only``).
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlops_server.settings import SessionSettings

log = logging.getLogger(__name__)


def _fernet(secret: str) -> Fernet:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"mlops-server session cookie"
    ).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


class EncryptedSessionMiddleware:
    """ASGI middleware providing ``scope["session"]`` from an encrypted cookie."""

    def __init__(self, app: ASGIApp, settings: SessionSettings, path: str = "/") -> None:
        self.app = app
        self.settings = settings
        self.path = path
        secret = settings.secret_key
        if not secret:
            log.warning(
                "no server.session.secret-key (SESSION_SECRET_KEY): sessions use a random "
                "key and end with this process"
            )
            secret = secrets.token_urlsafe(32)
        self._fernet = _fernet(secret)

    def _open(self, sealed: str) -> dict[str, Any]:
        try:
            data = json.loads(self._fernet.decrypt(sealed.encode(), ttl=self.settings.max_age))
        except (InvalidToken, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _seal(self, session: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(session, separators=(",", ":")).encode()).decode()

    def _cookie(self, value: str, max_age: int, secure: bool) -> str:
        parts = [
            f"{self.settings.cookie}={value}",
            f"Path={self.path}",
            f"Max-Age={max_age}",
            "HttpOnly",
            "SameSite=Lax",
        ]
        if max_age == 0:
            parts.append("Expires=Thu, 01 Jan 1970 00:00:00 GMT")
        if self.settings.domain:
            parts.append(f"Domain={self.settings.domain}")
        if secure:
            parts.append("Secure")
        return "; ".join(parts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sealed = HTTPConnection(scope).cookies.get(self.settings.cookie)
        opened = self._open(sealed) if sealed else {}
        before = json.dumps(opened, sort_keys=True)
        scope["session"] = opened
        secure = (
            self.settings.https_only
            if self.settings.https_only is not None
            else scope.get("scheme") == "https"
        )

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                session = scope["session"]
                changed = json.dumps(session, sort_keys=True) != before
                headers = MutableHeaders(scope=message)
                if session and changed:
                    cookie = self._cookie(self._seal(session), self.settings.max_age, secure)
                    headers.append("Set-Cookie", cookie)
                elif sealed and not session:  # emptied, expired or forged: drop it
                    headers.append("Set-Cookie", self._cookie('""', 0, secure))
            await send(message)

        await self.app(scope, receive, send_with_cookie)
