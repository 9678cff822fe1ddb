"""A whole-run check that no GitLab token reaches a response or a log line.

Every ``Credential`` the token sources hand out during the test session is remembered; every
response the server extension sends through ``jp_fetch`` (status line, headers, body) and every
log record of the session is kept. At the end of the session none of the remembered tokens may
appear in any of them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from jupyter_mlops import auth

# Loggers that do not propagate to the root logger under Jupyter, watched by name.
WATCHED_LOGGERS = ("", "ServerApp", "tornado.access", "tornado.application", "tornado.general")


@dataclass
class SecretScan:
    tokens: set[str] = field(default_factory=set)
    seen: list[tuple[str, str]] = field(default_factory=list)  # (where, text)

    def record_response(self, response: Any) -> None:
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.get_all())
        body = (response.body or b"").decode("utf-8", errors="replace")
        self.seen.append((f"response {response.effective_url}", f"{headers}\n{body}"))

    def leaks(self) -> list[str]:
        """Where a remembered token was found (never the token itself)."""
        found = []
        for where, text in self.seen:
            for token in self.tokens:
                if len(token) >= 6 and token in text:
                    found.append(f"a {len(token)}-character token in {where}")
        return found


class _Collector(logging.Handler):
    def __init__(self, scan: SecretScan) -> None:
        super().__init__(logging.DEBUG)
        self.scan = scan

    def emit(self, record: logging.LogRecord) -> None:
        mark = f"_secret_scan_{id(self)}"
        if getattr(record, mark, False):  # seen by this collector on a parent logger already
            return
        setattr(record, mark, True)
        try:
            text = record.getMessage()
        except Exception:  # a broken log call must not break the scan
            text = str(record.msg)
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.scan.seen.append((f"log {record.name}:{record.levelname}", text))


@contextmanager
def scanning() -> Iterator[SecretScan]:
    """Remember credentials and collect log records until the block ends."""
    scan = SecretScan()
    original_init = auth.Credential.__init__

    def remembering_init(self: auth.Credential, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        scan.tokens.add(self.token)

    collector = _Collector(scan)
    loggers = [logging.getLogger(name) for name in WATCHED_LOGGERS]
    auth.Credential.__init__ = remembering_init  # type: ignore[method-assign]
    for logger in loggers:
        logger.addHandler(collector)
    try:
        yield scan
    finally:
        auth.Credential.__init__ = original_init  # type: ignore[method-assign]
        for logger in loggers:
            logger.removeHandler(collector)
