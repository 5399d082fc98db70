"""SQL for the ``messages`` table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, Text, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..filters import MESSAGE_FILTERS, build_filter
from ..models import Message, Session, table
from . import raw
from .message_json import fragment_sql, name_parts
from .paging import fetch_page, row_into
from .raw import Compiled

T = table(Message)
S = table(Session)
COLUMNS = (
    T.c.id,
    T.c.public_id,
    T.c.workspace_name,
    T.c.session_name,
    T.c.peer_name,
    T.c.content,
    T.c.token_count,
    T.c.metadata,
    T.c.created_at,
)

_WIDTH = len(COLUMNS)


@dataclass(slots=True)
class MessageRow:
    """A message as read (``COLUMNS``, in order: internal names, ``id`` the internal id).

    Not ``frozen``: a frozen dataclass's ``__init__`` sets each field through
    ``object.__setattr__``, 1.0 us a row against 0.19, and a page builds 50 of them. Treat it
    as read-only all the same."""

    id: int
    public_id: str
    workspace_name: str
    session_name: str
    peer_name: str
    content: str
    token_count: int
    metadata: dict[str, Any]
    created_at: datetime


def _session_active(workspace: str | BindParameter[str], session: str | BindParameter[str]) -> Any:
    """Messages of a deleted (inactive) session read as absent."""
    return (
        select(S.c.id)
        .where(S.c.workspace_name == workspace, S.c.name == session, S.c.is_active)
        .exists()
    )


_GET = Compiled.of(
    select(*COLUMNS).where(
        T.c.public_id == bindparam("id"),
        T.c.workspace_name == bindparam("ws"),
        T.c.session_name == bindparam("session"),
        _session_active(bindparam("ws"), bindparam("session")),
    )
)

# A session's messages without filters (the common listing), oldest or newest first, each
# rendered by Postgres (:mod:`.message_json`), with the total on every row: the session's
# ``message_count`` (migration 0018), not a count of its rows. A page of 50 is 50 ``bytes``
# for Python, no row, model or dict per message; only the page's rows are rendered (chosen
# first, in a subquery).
#
# The session is matched with BETWEEN, not =, and is the first sort key: with an equality
# the planner drops the session from the sort (it is one value), and may then read the page
# by walking the primary key backwards, filtering, whenever its statistics say the session
# is a large share of the table. For an old session of a busy workspace (statistics taken
# before the newer messages came, as autovacuum leaves them for a while) that read every
# newer message first: 6.5 ms of Postgres for 50 messages behind 40,000, measured. Sorted by
# (session, id) only the session's index gives the order, so it reads just the page.
_RENDERED_PAGE = f"""
    SELECT {fragment_sql("m", "$5", "$6")} AS fragment, (
        SELECT s.message_count FROM sessions s
        WHERE s.workspace_name = $1::text AND s.name = $2::text AND s.is_active
    ) AS total
    FROM (
        SELECT * FROM messages
        WHERE workspace_name = $1::text AND session_name BETWEEN $2::text AND $2::text
          AND EXISTS (
            SELECT 1 FROM sessions s
            WHERE s.workspace_name = $1::text AND s.name = $2::text AND s.is_active
        )
        ORDER BY session_name @DIR, id @DIR
        LIMIT $3::bigint OFFSET $4::bigint
    ) m
    ORDER BY m.id @DIR
"""
_RENDERED_PAGES = {
    False: _RENDERED_PAGE.replace("@DIR", "ASC"),
    True: _RENDERED_PAGE.replace("@DIR", "DESC"),
}
_TOTAL = Compiled.of(
    select(S.c.message_count).where(
        S.c.workspace_name == bindparam("ws", type_=Text),
        S.c.name == bindparam("session", type_=Text),
        S.c.is_active,
    )
)
# Run once on each new read-pool connection at startup (``db.warm_up``).
HOT_READS = (_GET.sql, *_RENDERED_PAGES.values(), _TOTAL.sql)


@dataclass(frozen=True)
class MessagePage:
    """A page of a session's messages and how many match: ``rendered``, each message's JSON
    (pass them to :func:`.message_json.join_rendered`), when nothing was filtered, else
    ``rows``."""

    total: int
    rendered: list[bytes] | None = None
    rows: list[MessageRow] = field(default_factory=list)


class MessageRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def get(self, workspace: str, session: str, public_id: str) -> MessageRow | None:
        """One message of an active session (on the read pool for a read-only session)."""
        rows = await _GET.fetch(self.db, {"id": public_id, "ws": workspace, "session": session})
        return MessageRow(*rows[0]) if rows else None

    async def update_metadata(
        self, workspace: str, session: str, public_id: str, metadata: dict[str, Any]
    ) -> MessageRow | None:
        stmt = (
            update(T)
            .where(
                T.c.public_id == public_id,
                T.c.workspace_name == workspace,
                T.c.session_name == session,
                _session_active(workspace, session),
            )
            .values(metadata=metadata)
            .returning(*COLUMNS)
        )
        return row_into(MessageRow, (await self.db.execute(stmt)).first())

    async def list_page(
        self,
        workspace: str,
        session: str,
        filters: Mapping[str, Any] | None,
        *,
        page: int,
        size: int,
        reverse: bool,
    ) -> MessagePage:
        """A page of a session's messages matching ``filters``, and how many match: rendered
        by Postgres when nothing is filtered (the common listing), else as rows."""
        where = build_filter(filters, MESSAGE_FILTERS)
        if where is None:
            return await self._rendered_page(workspace, session, page, size, reverse)
        stmt = select(*COLUMNS).where(
            T.c.workspace_name == workspace,
            T.c.session_name.between(session, session),  # see _RENDERED_PAGE
            _session_active(workspace, session),
            where,
        )
        if reverse:
            order: tuple[Any, ...] = (T.c.session_name.desc(), T.c.id.desc())
        else:
            order = (T.c.session_name, T.c.id)
        rows, total = await fetch_page(self.db, stmt, order, page=page, size=size)
        return MessagePage(total, rows=[MessageRow(*r[:_WIDTH]) for r in rows])

    async def _rendered_page(
        self, workspace: str, session: str, page: int, size: int, reverse: bool
    ) -> MessagePage:
        sql = _RENDERED_PAGES[reverse]
        parts = name_parts(workspace, session)
        rows = await raw.fetch(self.db, sql, workspace, session, size, (page - 1) * size, *parts)
        if rows:
            return MessagePage(int(rows[0][1] or 0), rendered=[r[0] for r in rows])
        if page == 1:
            return MessagePage(0, rendered=[])
        found = await _TOTAL.fetch(self.db, {"ws": workspace, "session": session})
        return MessagePage(int(found[0][0] or 0) if found else 0, rendered=[])
