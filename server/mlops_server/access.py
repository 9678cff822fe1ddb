"""Who may see what: the one place where visibility and access levels are decided.

The embedded platform runs like upstream SharingHub in public mode: every caller is anonymous
and sees public projects only, with read-only access (level 2). Token-based permissions
(GitLab memberships, cached per token) will grow here without touching the routes.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

# Upstream access levels (reference §2.3).
NO_ACCESS = 0
GUEST = 1
READ_ONLY = 2
CONTRIBUTOR = 3
ADMINISTRATOR = 4


@dataclass(frozen=True)
class Caller:
    """The identity behind a request; ``None`` token means anonymous."""

    token: str | None = None

    @property
    def anonymous(self) -> bool:
        return self.token is None


ANONYMOUS = Caller()


def caller_from_request(request: Request) -> Caller:
    """Resolve the caller of a request (anonymous until token sources are implemented)."""
    del request
    return ANONYMOUS


def visible_visibilities(caller: Caller) -> tuple[str, ...]:
    """Project visibilities the caller may see in searches, items, checks and downloads."""
    del caller
    return ("public",)


def access_level(caller: Caller, visibility: str) -> int:
    """Upstream access level of the caller on a project with this visibility."""
    return READ_ONLY if visibility in visible_visibilities(caller) else NO_ACCESS
