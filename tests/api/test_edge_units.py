"""The pure parts of the HTTP edge: which errors are an outage, the rate-limited outage log,
and the excerpts error bodies quote."""

from __future__ import annotations

import json
import logging

import asyncpg
import httpx
import pytest
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from honcho_server.api.excerpts import EXCERPT_CHARS, MAX_ERRORS, excerpt, validation_errors
from honcho_server.api.outage import OutageLog
from honcho_server.db.connectivity import outage_reason


def _raised(exc: BaseException) -> BaseException:
    """``exc`` with a traceback through this module (not the driver)."""
    try:
        raise exc
    except BaseException as caught:
        return caught


@pytest.mark.parametrize(
    "exc",
    [
        PoolTimeout("QueuePool limit of size 20 overflow 20 reached"),
        DBAPIError("SELECT 1", None, ConnectionRefusedError(111, "refused"), True),
        OperationalError("SELECT 1", None, asyncpg.CannotConnectNowError("starting up")),
        DBAPIError("SELECT 1", None, asyncpg.AdminShutdownError("terminating connection")),
        DBAPIError("SELECT 1", None, asyncpg.TooManyConnectionsError("too many clients")),
        DBAPIError("SELECT 1", None, asyncpg.ConnectionDoesNotExistError("closed")),
        DBAPIError("SELECT 1", None, ConnectionResetError(104, "reset")),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.InterfaceError("cannot call Connection.fetch(): connection is closed"),
        # a statement sent on a connection still consuming the server's FATAL (shutting down)
        asyncpg.InternalClientError(
            "cannot switch to state 12; another operation (2) is in progress"
        ),
        DBAPIError(
            "BEGIN",
            None,
            asyncpg.InternalClientError(
                "cannot switch to state 15; another operation (2) is in progress"
            ),
        ),
    ],
    ids=lambda e: type(e).__name__,
)
def test_connection_class_errors_are_an_outage(exc: BaseException) -> None:
    reason = outage_reason(_raised(exc))
    assert reason is not None and reason.split(":")[0]


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("bad"),
        ConnectionRefusedError(111, "an HTTP client's, not the database's"),
        DBAPIError("SELECT 1", None, asyncpg.UniqueViolationError("duplicate key")),
        DBAPIError("SELECT 1", None, asyncpg.DataError("invalid input syntax")),
        asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_other_errors_are_not_an_outage(exc: BaseException) -> None:
    assert outage_reason(_raised(exc)) is None


def test_outage_log_writes_one_line_per_window(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    outage = OutageLog(logging.getLogger("test.outage"), interval=10, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="test.outage"):
        for second in range(25):
            now[0] = float(second)
            outage.failed("GET /x", "ConnectionRefusedError")
        outage.recovered()
        outage.recovered()  # nothing new to report
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 4, lines
    assert "(+" not in lines[0]
    assert lines[1].endswith("(+9 more since the last report)")  # t=10
    assert lines[2].endswith("(+9 more since the last report)")  # t=20
    assert lines[3] == "database reachable again (25 request(s) answered 503)"
    with caplog.at_level(logging.WARNING, logger="test.outage"):
        outage.failed("GET /x", "again")  # a new outage is reported at once
    assert caplog.records[-1].getMessage().startswith("database unavailable")


def test_excerpts_are_short_encodable_and_keep_small_values() -> None:
    assert excerpt("ok") == "ok" and excerpt(3) == 3 and excerpt(None) is None
    assert excerpt({"a": [1, "x"]}) == {"a": [1, "x"]}
    long = excerpt("y" * 10_000_000)
    assert long.startswith("y" * EXCERPT_CHARS) and len(long) < EXCERPT_CHARS + 50
    big = excerpt({"k": "v" * 10_000_000})
    assert isinstance(big, str) and big.startswith('{"k":"vvv') and len(big) < EXCERPT_CHARS + 50
    assert excerpt("a\ud800b") == "a\ufffdb"
    assert excerpt({"k\udfff": "\ud800"}) == {"k\ufffd": "\ufffd"}
    assert excerpt(float("nan")) == "nan"
    assert excerpt({"n": float("inf")}) == "{'n': inf}"
    assert excerpt(b"\xff\xfeabc") == "\ufffd\ufffdabc"
    json.dumps(
        [excerpt(v) for v in ("\ud800", {"\ud800": 1}, [b"\xed\xa0\x80"])], allow_nan=False
    ).encode("utf-8")


def test_validation_errors_keep_the_documented_shape() -> None:
    errors = [
        {
            "type": "string_too_long",
            "loc": ("body", "messages", i, "content\ud800"),
            "msg": "String should have at most 25000 characters",
            "input": "z" * 30_000,
            "ctx": {"max_length": 25_000, "error": ValueError("boom \ud800")},
            "url": "https://errors.pydantic.dev/2/v/string_too_long",
        }
        for i in range(120)
    ]
    out = validation_errors(errors)
    assert len(out) == MAX_ERRORS + 1
    first = out[0]
    assert set(first) == {"type", "loc", "msg", "input", "ctx"}
    assert first["loc"] == ["body", "messages", 0, "content\ufffd"]
    assert first["ctx"] == {"max_length": 25_000, "error": "boom \ufffd"}
    assert len(first["input"]) < EXCERPT_CHARS + 50
    assert out[-1] == {
        "type": "too_many_errors",
        "loc": ["body"],
        "msg": "70 more validation error(s) not shown",
    }
    json.dumps(out, allow_nan=False).encode("utf-8")


@pytest.mark.parametrize(
    "exc",
    [
        asyncpg.InternalClientError(
            "cannot switch to state 12; another operation (2) is in progress"
        ),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.CannotConnectNowError("the database system is shutting down"),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_the_drivers_own_outage_errors_are_answered_503(exc: BaseException) -> None:
    """What the read pool raises (asyncpg's errors, no SQLAlchemy wrapping) reaches the app's
    handlers as is: each must be a 503, never a 500 (a Postgres restart under ingest load gave
    one with asyncpg's InternalClientError)."""
    from fastapi import FastAPI

    from honcho_server.api.errors import install

    app = FastAPI()
    install(app)

    @app.get("/boom")
    async def boom() -> None:
        raise exc

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        r = await client.get("/boom")
    assert r.status_code == 503, r.text
    assert r.headers.get("retry-after")
