"""Application errors carry their HTTP status; one handler renders Honcho's ``{"detail": …}``."""

from __future__ import annotations


class HonchoError(Exception):
    """An error that becomes ``{"detail": message}`` with ``status``."""

    status: int = 500

    def __init__(self, detail: str, *, status: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status


class BadRequest(HonchoError):
    status = 400


class Unauthorized(HonchoError):
    status = 401


class NotFound(HonchoError):
    status = 404


class Conflict(HonchoError):
    status = 409


class Invalid(HonchoError):
    """422 with a string detail (application-level validation, e.g. filters or ids)."""

    status = 422
