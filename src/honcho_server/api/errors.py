"""Exception handlers: every error leaves as Honcho's ``{"detail": …}`` body.

* :class:`HonchoError` → its status and string detail.
* Request validation → 422 with the documented list of ``ValidationError`` objects, each
  quoting at most a short excerpt of the input (:mod:`.excerpts`).
* The database being unreachable → 503 with ``Retry-After``, logged as one rate-limited
  warning line (:mod:`.outage`), never a traceback per request.
* Anything else → 500 with a traceback in the log.

Handlers are registered per exception class, so Starlette's ``ExceptionMiddleware`` answers
and the exception never reaches the server: the connection stays open (keep-alive).
"""

from __future__ import annotations

import logging

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException

from ..db.connectivity import driver_error, outage_reason
from ..db.errors import PEER_ERASING, sqlstate
from ..errors import HonchoError
from .excerpts import clip, validation_errors
from .outage import OutageLog

log = logging.getLogger("honcho_server.api")

RETRY_AFTER_SECONDS = 5
UNAVAILABLE_DETAIL = "The database is unavailable, please retry shortly"
_DETAIL_CHARS = 2000


async def _honcho_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HonchoError)
    detail = clip(exc.detail, _DETAIL_CHARS)
    log.info("%s %s -> %d: %s", request.method, request.url.path, exc.status, detail)
    return JSONResponse({"detail": detail}, status_code=exc.status)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": validation_errors(exc.errors())}, status_code=422)


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette/FastAPI ``HTTPException`` (404 route, 405, 413 from the body limit, …)."""
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code in {204, 304} or exc.status_code < 200:
        return Response(status_code=exc.status_code, headers=headers)
    detail = clip(exc.detail, _DETAIL_CHARS) if isinstance(exc.detail, str) else exc.detail
    return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=headers)


async def _database_error(request: Request, exc: Exception) -> Response:
    """Bad values that reach Postgres are the client's fault; an unreachable database is a
    503; anything else is ours. SQLAlchemy's errors and asyncpg's own (the read pool) alike."""
    if (reason := outage_reason(exc)) is not None:
        return unavailable(request, reason)
    state = sqlstate(exc)
    if state.startswith("22"):  # data exception: invalid text, out of range, …
        log.info("%s %s -> 422: %s", request.method, request.url.path, driver_error(exc))
        return JSONResponse({"detail": "Invalid value in request"}, status_code=422)
    if state == PEER_ERASING:  # a write naming a peer being erased (migration 0013)
        log.info("%s %s -> 409: %s", request.method, request.url.path, driver_error(exc))
        return JSONResponse(
            {"detail": "A peer named in this request is being erased; retry once it is gone"},
            status_code=409,
        )
    if state in {"23505", "40001", "40P01"}:  # lost a race: safe to retry
        log.warning("%s %s -> 409: %s", request.method, request.url.path, driver_error(exc))
        return JSONResponse(
            {"detail": "Conflicting concurrent update, please retry"}, status_code=409
        )
    return await _unexpected(request, exc)


async def _connection_error(request: Request, exc: Exception) -> Response:
    """Errors the driver raises without SQLAlchemy's wrapping (refused connects, pool
    timeouts, …): 503 when they mean an outage, else a plain 500."""
    if (reason := outage_reason(exc)) is not None:
        return unavailable(request, reason)
    return await _unexpected(request, exc)


def unavailable(request: Request, reason: str) -> JSONResponse:
    """503 + ``Retry-After`` with Honcho's error body; one log line per window."""
    outage: OutageLog = request.app.state.outage
    outage.failed(f"{request.method} {request.url.path}", reason)
    return JSONResponse(
        {"detail": UNAVAILABLE_DETAIL},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("%s %s -> 500", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "An unexpected error occurred"}, status_code=500)


def install(app: FastAPI) -> None:
    app.state.outage = OutageLog(log)
    app.add_exception_handler(HonchoError, _honcho_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(asyncpg.PostgresError, _database_error)  # the read pool's
    # errors the driver raises without SQLAlchemy's wrapping (the read pool's, a connect)
    for unwrapped in (PoolTimeout, OSError, asyncpg.InterfaceError, asyncpg.InternalClientError):
        app.add_exception_handler(unwrapped, _connection_error)
    app.add_exception_handler(Exception, _unexpected)
