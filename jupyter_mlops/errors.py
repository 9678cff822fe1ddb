"""Typed errors of the client API and the HTTP status each maps to.

Every failure the user can meet is one of these; the server extension turns them into the JSON
error shape ``{"message", "reason"}`` and notebook code can catch them by type.
"""

from __future__ import annotations


class MLOpsError(Exception):
    """Base class of every jupyter-mlops error.

    Parameters
    ----------
    message
        A sentence for a person, naming what went wrong and, where possible, what to do.
    reason
        A short stable machine word (``bad_request``, ``not_found``, ...).
    """

    status = 500
    default_reason = "error"

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason


class BadRequestError(MLOpsError):
    """The caller sent something invalid (a parameter, a body)."""

    status = 400
    default_reason = "bad_request"


class PublishValidationError(BadRequestError):
    """A publication is invalid; ``field`` names the first bad field, ``errors`` all of them.

    Raised before anything is uploaded. ``errors`` is a list of ``{"field", "message"}``.
    """

    default_reason = "invalid_metadata"

    def __init__(self, errors: list[dict[str, str]], reason: str | None = None) -> None:
        first = errors[0]
        super().__init__(f"{first['field']}: {first['message']}", reason)
        self.field = first["field"]
        self.errors = errors

    @classmethod
    def of(cls, field: str, message: str, reason: str | None = None) -> PublishValidationError:
        """One error about one field."""
        return cls([{"field": field, "message": message}], reason)


class AuthenticationError(MLOpsError):
    """The platform needs credentials that are missing or were refused."""

    status = 401
    default_reason = "unauthenticated"


class PermissionDeniedError(MLOpsError):
    """The credentials are valid but do not allow this operation."""

    status = 403
    default_reason = "forbidden"


class NotFoundError(MLOpsError):
    """The project, item or file does not exist or is not visible to the caller."""

    status = 404
    default_reason = "not_found"


class ConflictError(MLOpsError):
    """The operation conflicts with the current state (e.g. the name is taken)."""

    status = 409
    default_reason = "conflict"


class UpstreamError(MLOpsError):
    """The platform (SharingHub, MLflow, GitLab) failed or answered something unusable."""

    status = 502
    default_reason = "upstream_error"


class PlatformUnavailableError(MLOpsError):
    """No platform is configured, or the embedded one could not start."""

    status = 503
    default_reason = "platform_unavailable"
