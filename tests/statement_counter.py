"""Count the round trips a request makes to Postgres (statements, BEGIN, COMMIT, ROLLBACK).

Only work started inside :func:`counting` is counted: the flag is a context variable, so the
in-process worker's lanes and heartbeats (tasks started before) never show up, while tasks a
request starts (middleware, dependencies) inherit it.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

_ACTIVE: contextvars.ContextVar[Counted | None] = contextvars.ContextVar(
    "statement_counter", default=None
)


@dataclass
class Counted:
    statements: list[str] = field(default_factory=list)
    begins: int = 0
    commits: int = 0
    rollbacks: int = 0

    @property
    def round_trips(self) -> int:
        """Everything that went over the wire: statements plus transaction control."""
        return len(self.statements) + self.begins + self.commits + self.rollbacks

    def __str__(self) -> str:
        lines = [" ".join(s.split())[:160] for s in self.statements]
        return (
            f"{len(self.statements)} statements, {self.begins} BEGIN, {self.commits} COMMIT, "
            f"{self.rollbacks} ROLLBACK:\n  " + "\n  ".join(lines)
        )


def _on_statement(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
    counted = _ACTIVE.get()
    if counted is not None:
        counted.statements.append(statement)


def _on(kind: str) -> Any:
    def record(conn: Any, *args: Any) -> None:
        counted = _ACTIVE.get()
        if counted is None:
            return
        # an autocommit connection sends no BEGIN / COMMIT (asyncpg's adapter skips them)
        if getattr(conn.connection.dbapi_connection, "autocommit", False):
            return
        setattr(counted, kind, getattr(counted, kind) + 1)

    return record


@contextmanager
def counting(engine: AsyncEngine) -> Iterator[Counted]:
    """Count what the code run inside the block sends to ``engine``."""
    sync = engine.sync_engine
    hooks = [
        ("before_cursor_execute", _on_statement),
        ("begin", _on("begins")),
        ("commit", _on("commits")),
        ("rollback", _on("rollbacks")),
    ]
    for name, fn in hooks:
        event.listen(sync, name, fn)
    counted = Counted()
    token = _ACTIVE.set(counted)
    try:
        yield counted
    finally:
        _ACTIVE.reset(token)
        for name, fn in hooks:
            event.remove(sync, name, fn)
