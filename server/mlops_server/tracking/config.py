"""Configuration of the permission layer, read from environment variables like upstream."""

from __future__ import annotations

import os
from dataclasses import dataclass

_TRUE = {"1", "true", "yes", "on"}


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    return default if raw is None else raw.strip().lower() in _TRUE


@dataclass(frozen=True)
class TrackingConfig:
    """Settings of the permission layer.

    Attributes
    ----------
    sharinghub_url
        Base URL of the SharingHub-compatible catalog whose ``/api/check`` decides access.
    session_cookie
        Name of the SharingHub session cookie forwarded to the catalog.
    default_token
        Upstream's ``SHARINGHUB_AUTH_DEFAULT_TOKEN``: anonymous callers are sent to the catalog
        without credentials (the catalog decides; it answers 401 when it needs a login).
    stac_collection
        Category a project must have to use MLflow (``ai-model`` by default).
    project_tag
        Tag key binding experiments and registered models to a project.
    cache_seconds
        Lifetime of a cached access answer (per credential and project).
    check_timeout
        Timeout of one call to the check API, in seconds.
    """

    sharinghub_url: str | None = None
    session_cookie: str = "sharinghub-session"
    default_token: bool = False
    stac_collection: str = "ai-model"
    project_tag: str = "project"
    cache_seconds: float = 30.0
    check_timeout: float = 30.0

    @classmethod
    def from_env(cls) -> TrackingConfig:
        """Read ``SHARINGHUB_URL``, ``SHARINGHUB_SESSION_COOKIE``,
        ``SHARINGHUB_AUTH_DEFAULT_TOKEN``, ``SHARINGHUB_STAC_COLLECTION``, ``PROJECT_TAG``,
        ``PROJECT_CACHE_TIMEOUT`` and ``SHARINGHUB_CHECK_TIMEOUT``."""
        url = os.environ.get("SHARINGHUB_URL", "").strip().rstrip("/") or None
        return cls(
            sharinghub_url=url,
            session_cookie=os.environ.get("SHARINGHUB_SESSION_COOKIE", "sharinghub-session"),
            default_token=_flag("SHARINGHUB_AUTH_DEFAULT_TOKEN", False),
            stac_collection=os.environ.get("SHARINGHUB_STAC_COLLECTION", "ai-model"),
            project_tag=os.environ.get("PROJECT_TAG", "project"),
            cache_seconds=float(os.environ.get("PROJECT_CACHE_TIMEOUT", "30")),
            check_timeout=float(os.environ.get("SHARINGHUB_CHECK_TIMEOUT", "30")),
        )
