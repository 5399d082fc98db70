"""The queries behind session context: the newest messages whose tokens fit a budget, as rows
(the dialectic's history) or rendered as the API's JSON by Postgres (the context route)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ..engine import _loads as decode_json  # how the engine decodes JSON(B)
from . import raw
from .message_json import RENDERED_AT, fragment_sql, name_parts
from .messages import MessageRow

FIRST_SCAN = 256
SCAN_GROWTH = 8
TOKENS_GUESS = 16  # tokens a message, to size the first window of a large budget

# Running totals newest-first over the newest `scan` (id, token_count) pairs — an index-only
# scan of ix_messages_session_tokens that stops after `scan` entries. Token counts are never
# negative, so `total <= budget` keeps exactly the newest prefix that fits. The window is
# settled when something in it overflowed or it held every message; only then are the rows
# that fit read in full (an unsettled pass answers one row, `settled` false, and the caller
# widens the window). One `settled` row with no message: settled, and nothing fits. The
# session is matched with BETWEEN and is the first sort key, so only that index can give the
# order (see messages._RENDERED_PAGE: an equality let the planner walk the primary key
# through every newer message of other sessions, 5.3 ms for an old session's context).
_SQL = """
    WITH newest AS (
        SELECT id, token_count FROM messages
        WHERE workspace_name = {workspace} AND session_name BETWEEN {session} AND {session}
          AND id > {after}
        ORDER BY session_name DESC, id DESC
        LIMIT {scan}
    ), running AS (
        SELECT id, sum(token_count) OVER (ORDER BY id DESC ROWS UNBOUNDED PRECEDING) AS total
        FROM newest
    ), state AS (
        SELECT count(*) < {scan} OR coalesce(max(total) > {budget}, true) AS settled
        FROM running
    ), fits AS (
        SELECT r.id FROM running r, state
        WHERE state.settled AND r.total <= {budget}
          AND EXISTS (
            SELECT 1 FROM sessions s
            WHERE s.workspace_name = {workspace} AND s.name = {session} AND s.is_active
          )
    )
    SELECT state.settled, m.id, m.public_id, m.workspace_name, m.session_name, m.peer_name,
           m.content, m.token_count, m.metadata, m.created_at
    FROM state
    LEFT JOIN (fits JOIN messages m ON m.id = fits.id) ON true
    ORDER BY m.id
"""
_ORDER = ("workspace", "session", "after", "budget", "scan")
_NEWEST_WITHIN = text(_SQL.format(**{k: f":{k}" for k in _ORDER}))

# The same scan for the context route, with every message rendered by Postgres
# (:mod:`.message_json`; the session's and workspace's parts are parameters $7 and $8). The
# settled pass reads the messages that fit as one range of ids (`first` to `last`, the
# window's newest: a range with both ends known is what makes the planner read it through an
# index, generic plan or not), not one lookup per id.
#
# Rows: first the state (`settled`, and with `summaries` the session's stored summaries as a
# JSON array of [kind, message_id, message_public_id, content, token_count, created_at]
# with created_at rendered like a message's), then the messages oldest first, one `fragment`
# each (with `summaries`, a session that has some is not scanned at all: the caller
# chooses first, then reads the messages that go with its choice). A session that is not
# active has nothing, and is settled at once. Few columns on purpose: each column of each
# of thousands of rows costs its decoding.
_RENDERED = f"""
    WITH session AS (
        SELECT EXISTS (
            SELECT 1 FROM sessions s
            WHERE s.workspace_name = $1::text AND s.name = $2::text AND s.is_active
        ) AS active
    ), summarized AS (
        SELECT $6::boolean AND EXISTS (
            SELECT 1 FROM summaries su WHERE su.workspace_name = $1 AND su.session_name = $2
        ) AS yes
    ), newest AS (
        SELECT id, token_count FROM messages
        WHERE workspace_name = $1::text AND session_name BETWEEN $2::text AND $2::text
          AND id > $3::bigint
          AND NOT (SELECT yes FROM summarized)
        ORDER BY session_name DESC, id DESC
        LIMIT $5::bigint
    ), running AS (
        SELECT id, sum(token_count) OVER (ORDER BY id DESC ROWS UNBOUNDED PRECEDING) AS total
        FROM newest
    ), state AS (
        SELECT (SELECT active FROM session) AS active,
               NOT (SELECT active FROM session) OR count(*) < $5
                   OR coalesce(max(total) > $4::bigint, true) AS settled,
               min(id) FILTER (WHERE total <= $4) AS first, max(id) AS last
        FROM running
    )
    SELECT fragment, settled, summaries FROM (
        SELECT NULL::bigint AS id, NULL::bytea AS fragment, settled, (
            SELECT json_agg(json_build_array(
                su.kind, su.message_id, su.message_public_id, su.content, su.token_count,
                {RENDERED_AT.format("su.created_at")}
            ))::text
            FROM summaries su
            WHERE $6 AND su.workspace_name = $1 AND su.session_name = $2 AND active
        ) AS summaries
        FROM state
        UNION ALL
        SELECT m.id, {fragment_sql("m", "$7", "$8")}, NULL, NULL
        FROM (
            SELECT * FROM messages
            WHERE workspace_name = $1 AND session_name BETWEEN $2 AND $2 AND id > $3
              AND id BETWEEN (SELECT first FROM state WHERE settled AND active)
                         AND (SELECT last FROM state)
            ORDER BY session_name, id
            LIMIT $5
        ) m
    ) found
    ORDER BY id NULLS FIRST
"""

# Run once on each new read-pool connection at startup (``db.warm_up``).
HOT_READS = (_RENDERED,)


@dataclass(frozen=True, slots=True)
class StoredSummary:
    kind: str  # "short" | "long"
    message_id: int  # internal id of the last message it covers
    message_public_id: str
    content: str
    token_count: int
    created_at: str  # rendered as the API shows it ("…Z")


Fetch = Callable[[int], Awaitable[Sequence[Any]]]


async def _settled(fetch: Fetch) -> Sequence[Any]:
    """Widen the window until it is settled; the settled pass's rows (see :data:`_SQL`)."""
    scan = FIRST_SCAN
    while True:
        rows = await fetch(scan)
        if rows[0][0]:
            return rows
        scan *= SCAN_GROWTH


class ContextRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def newest_within(
        self, workspace: str, session: str, *, after_id: int, budget: int
    ) -> list[MessageRow]:
        """Messages after internal id ``after_id``: the newest that fit ``budget``, oldest first.

        Looks at the newest ``FIRST_SCAN`` messages first and widens the window only while
        every message it saw still fit (typical contexts need one short index scan); only the
        rows returned are ever read in full.
        """
        if budget <= 0:
            return []
        params = {
            "workspace": workspace,
            "session": session,
            "after": after_id,
            "budget": budget,
        }

        async def fetch(scan: int) -> Sequence[Any]:
            return (await self.db.execute(_NEWEST_WITHIN, {**params, "scan": scan})).all()

        # (settled, then the messages.COLUMNS): one row with no message when nothing fits
        return [MessageRow(*r[1:]) for r in await _settled(fetch) if r[1] is not None]

    async def newest_rendered(
        self, workspace: str, session: str, *, after_id: int, budget: int, summaries: bool
    ) -> tuple[list[bytes] | None, list[StoredSummary]]:
        """:meth:`newest_within` rendered: each message's ``Message`` JSON object, as
        Postgres rendered it (:data:`_RENDERED`; pass them to
        :func:`.message_json.join_rendered`), read through asyncpg itself (:mod:`.raw`): a
        whole-session context (thousands of messages) makes one ``bytes`` per message and no
        other Python object.

        With ``summaries``, the first pass also reads the session's stored summaries (an
        active session's). When there are some, the messages are left unread (``None``):
        which of them to read depends on the summary the caller chooses (rendering them all
        first, as a whole-session context would, was work thrown away whenever one is)."""
        if budget <= 0:
            return [], []
        stored: list[StoredSummary] = []
        scan = first_scan(budget)
        parts = name_parts(workspace, session)
        while True:
            args = (workspace, session, after_id, budget, scan, summaries, *parts)
            rows = await raw.fetch(self.db, _RENDERED, *args)
            _, settled, found = rows[0]
            if summaries:
                summaries = False
                stored = [StoredSummary(*s) for s in decode_json(found)] if found else []
                if stored:
                    return None, stored
            if settled:
                return [r[0] for r in rows[1:]], stored
            scan *= SCAN_GROWTH


def first_scan(budget: int) -> int:
    """The first window for ``budget``: room for its tokens at :data:`TOKENS_GUESS` a
    message, at least :data:`FIRST_SCAN` (so a whole-session context of a few thousand
    messages is one pass, not three)."""
    return max(FIRST_SCAN, budget // TOKENS_GUESS)
