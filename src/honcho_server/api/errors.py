"""Exception handlers: every error leaves as Honcho's ``{"detail": …}`` body."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError

from ..db.errors import sqlstate
from ..errors import HonchoError

log = logging.getLogger("honcho_server.api")


async def _honcho_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HonchoError)
    log.info("%s %s -> %d: %s", request.method, request.url.path, exc.status, exc.detail)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status)


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    """Bad values that reach Postgres are the client's fault; anything else is ours."""
    assert isinstance(exc, DBAPIError)
    state = sqlstate(exc)
    if state.startswith("22"):  # data exception: invalid text, out of range, …
        log.info("%s %s -> 422: %s", request.method, request.url.path, exc.orig)
        return JSONResponse({"detail": "Invalid value in request"}, status_code=422)
    if state in {"23505", "40001", "40P01"}:  # lost a race: safe to retry
        log.warning("%s %s -> 409: %s", request.method, request.url.path, exc.orig)
        return JSONResponse(
            {"detail": "Conflicting concurrent update, please retry"}, status_code=409
        )
    return await _unexpected(request, exc)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("%s %s -> 500", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "An unexpected error occurred"}, status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(HonchoError, _honcho_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(Exception, _unexpected)
