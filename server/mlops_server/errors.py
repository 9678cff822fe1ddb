"""API errors as data: one JSON shape ``{message, reason, detail}`` for every failure."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error the API reports to the caller; subclasses fix status and reason."""

    status_code = 500
    reason = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(ApiError):
    status_code = 400
    reason = "bad_request"


class Unauthorized(ApiError):
    status_code = 401
    reason = "unauthorized"


class Forbidden(ApiError):
    status_code = 403
    reason = "forbidden"


class NotFound(ApiError):
    status_code = 404
    reason = "not_found"


def error_body(message: str, reason: str) -> dict[str, Any]:
    """The error body; ``detail`` repeats the message for FastAPI-style upstream clients."""
    return {"message": message, "reason": reason, "detail": message}
