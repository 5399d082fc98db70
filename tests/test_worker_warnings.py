"""A worker's rate-limited warning is one line, whatever the error carries.

SQLAlchemy's wrapped errors print the whole statement (the claim is twenty lines); during a
database outage every lane fails every step, and the log must stay readable at a glance.
"""

from __future__ import annotations

import logging

import asyncpg
import pytest
from sqlalchemy.exc import DBAPIError

from honcho_server.worker.runner import _RateLimitedWarning, one_line

STATEMENT = "\n".join(["WITH first AS (", "  SELECT j.id FROM jobs j", "  LIMIT 1", ")"] * 6)


def _wrapped() -> DBAPIError:
    driver = asyncpg.exceptions.InternalClientError(
        "cannot switch to state 15; another operation (2) is in progress"
    )
    return DBAPIError(STATEMENT, None, driver)


def test_a_wrapped_driver_error_is_one_line_without_its_statement() -> None:
    text = one_line(_wrapped())
    assert text == (
        "InternalClientError: cannot switch to state 15; another operation (2) is in progress"
    )
    assert one_line(RuntimeError("first\nsecond")) == "RuntimeError: first"
    assert len(one_line(RuntimeError("x" * 1000))) < 320


def test_the_warning_is_one_line_and_rate_limited(caplog: pytest.LogCaptureFixture) -> None:
    warning = _RateLimitedWarning("worker step failed", every=3600)
    with caplog.at_level(logging.WARNING, logger="honcho_server.worker.runner"):
        for _ in range(5):
            warning.report(_wrapped())
    lines = [line for r in caplog.records for line in r.getMessage().splitlines()]
    assert len(lines) == 1, lines
    assert "another operation" in lines[0] and "SELECT" not in lines[0]
