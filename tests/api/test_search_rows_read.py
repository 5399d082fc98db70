"""Text search reads the messages that match its words, not every message of its scope, even
when the planner's statistics have never seen that scope (issue 17).

A workspace or session filled since ``messages`` was last analyzed (a new tenant, an import,
a busy session) is estimated at a row or two; the planner then preferred walking it through a
btree index and parsing every message's text against the words — at 12,300 messages about
300 ms of PostgreSQL CPU per statement, several statements per search. The rows a search
reads from ``messages`` are counted from PostgreSQL's own per-transaction statistics
(``pg_stat_xact_user_tables``: sequential plus index fetches, two readings in one
transaction), so the check does not depend
on the plan's shape, only on how much of the table it touches.
"""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from honcho_server.db.repositories.search import SearchRepository, SearchScope
from honcho_server.schemas.search import MessageSearchOptions
from honcho_server.services import search
from honcho_server.services.search import ANY_WORD_MATCHES, SCORED_WINDOW

MESSAGES = 1_500
RARE = "zanzibar"  # in one message
COMMON = "pear"  # in a tenth of them
SLACK = 40  # catalogue rows, the workspace and sessions aside: a few index fetches at most
FILLER, FILLER_MESSAGES = "rows-read-filler", 20_000


async def _filler(app: FastAPI, client: httpx.AsyncClient) -> None:
    """Other tenants' messages, so that the scope is a small part of the table (as it is on a
    server; a scope that is the whole table is rightly read sequentially)."""
    url = f"/v3/workspaces/{FILLER}/sessions/f/messages"
    r = await client.post(url, json={"messages": [{"peer_id": "f", "content": "filler"}]})
    assert r.status_code == 201, r.text
    async with app.state.engine.begin() as conn:
        have = await conn.scalar(
            text("SELECT count(*) FROM messages WHERE workspace_name = :w"), {"w": FILLER}
        )
        if have >= FILLER_MESSAGES:
            return
        await conn.execute(
            text(
                "INSERT INTO messages (public_id, workspace_name, session_name, peer_name, "
                "seq_in_session, content, token_count) "
                "SELECT 'rows-read-filler-' || i, :w, 'f', 'f', 1000 + i, "
                "'filler row ' || i || ' lorem ipsum dolor', 6 "
                "FROM generate_series(1, :n) AS i"
            ),
            {"w": FILLER, "n": FILLER_MESSAGES},
        )


@pytest.fixture
async def unknown_scope(app: FastAPI, client: httpx.AsyncClient, ws: str) -> str:
    """A workspace of MESSAGES messages (sessions ``a`` and ``b``, peers ``u0``..``u2``) that
    the statistics of ``messages`` do not know: the table is analyzed before they arrive."""
    await _filler(app, client)
    r = await client.post("/v3/workspaces", json={"id": ws})
    assert r.status_code in (200, 201), r.text
    async with app.state.engine.connect() as conn:
        await conn.execute(text("ANALYZE messages"))
        await conn.commit()
    for start in range(0, MESSAGES, 100):
        msgs = []
        for i in range(start, start + 100):
            word = RARE if i == 777 else COMMON if i % 10 == 0 else "apple"
            content = f"note {i}: we talked about the {word} harvest and the weather"
            msgs.append({"peer_id": f"u{i % 3}", "content": content})
        session = "a" if start < MESSAGES // 2 else "b"
        r = await client.post(
            f"/v3/workspaces/{ws}/sessions/{session}/messages", json={"messages": msgs}
        )
        assert r.status_code == 201, r.text
    return ws


async def _rows_read(db: AsyncSession) -> int:
    """Rows of ``messages`` read so far by this backend's not yet reported transactions
    (sequential scans and fetches through any index, bitmap scans included). Counters a
    backend has not reported yet may include its previous transactions: compare two readings
    within one transaction (:class:`Reads`)."""
    row = (
        await db.execute(
            text(
                "SELECT coalesce(sum(seq_tup_read + coalesce(idx_tup_fetch, 0)), 0) "
                "FROM pg_stat_xact_user_tables WHERE relname = 'messages'"
            )
        )
    ).scalar_one()
    return int(row)


class Reads:
    """Rows of ``messages`` a block of statements reads, within one transaction of ``db``."""

    def __init__(self, db: AsyncSession) -> None:
        self.db = db
        self.rows = 0

    async def __aenter__(self) -> Reads:
        self._start = await _rows_read(self.db)  # also begins the transaction
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.rows = await _rows_read(self.db) - self._start


async def _search(app: FastAPI, target: search.Target, query: str) -> tuple[list[str], int]:
    async with app.state.session_factory() as db, Reads(db) as reads:
        found = await search.search(db, target, MessageSearchOptions(query=query, limit=10))
    return [m.content for m in found], reads.rows


TARGETS = {
    "workspace": lambda ws: search.Target(ws),
    "session": lambda ws: search.Target(ws, session="a"),
    "peer": lambda ws: search.Target(ws, peer="u0"),
}


@pytest.mark.parametrize("scope", list(TARGETS))
async def test_a_rare_word_reads_its_match_not_the_scope(
    app: FastAPI, unknown_scope: str, scope: str
) -> None:
    target = TARGETS[scope](unknown_scope)
    note = f"note 777: we talked about the {RARE} harvest and the weather"
    async with app.state.session_factory() as db:
        forced = target.forced_filters()
        repo = SearchRepository(db, SearchScope(unknown_scope, forced))
        async with Reads(db) as reads:
            await repo.plan_each_query()
            assert len(await repo.all_words(RARE, 20, window=SCORED_WINDOW)) == 1
    read = reads.rows
    assert read <= SLACK, f"read {read} rows for one match among {MESSAGES}"
    # Keyword search: all the words match once; the fallback (some of the words) reads at
    # most ANY_WORD_MATCHES + 1 matches of the common word ("harvest": in every message; a
    # peer's, picked out of the workspace's through the session index: up to 3 x that)
    found, read = await _search(app, target, f"{RARE} harvest")
    assert found[0] == note
    assert read <= 3 * (ANY_WORD_MATCHES + 1) + SLACK < MESSAGES / 2, read


async def test_a_common_word_reads_its_matches_only(app: FastAPI, unknown_scope: str) -> None:
    """Every match of the words is read once (to keep the newest), no other message of the
    scope. (The substring list, for one-token queries, reads the pattern's matches in the
    whole table through the trigram index, which holds no scope, or the table itself.)"""
    async with app.state.session_factory() as db:
        repo = SearchRepository(db, SearchScope(unknown_scope, {"workspace_id": unknown_scope}))
        async with Reads(db) as reads:
            await repo.plan_each_query()
            found = await repo.all_words(COMMON, 20, window=SCORED_WINDOW)
    read = reads.rows
    assert len(found) == 20
    matches = MESSAGES // 10
    assert read <= matches + SCORED_WINDOW + SLACK, f"read {read} rows for {matches} matches"


async def test_word_lists_read_matches_only(app: FastAPI, unknown_scope: str) -> None:
    """The per-word statements of hybrid search (rare words) and of the keyword fallback (any
    word): one index scan per word, never the scope parsed against a list of words."""
    async with app.state.session_factory() as db:
        repo = SearchRepository(db, SearchScope(unknown_scope, {"workspace_id": unknown_scope}))
        async with Reads(db) as reads:
            await repo.plan_each_query()
            rare = await repo.rare_words([RARE, "weather", "nonexistent"], 50, cap=8)
            some = await repo.any_word([RARE, "nonexistent"], 20, exclude=[], cap=8)
    read = reads.rows
    assert len(rare) == 1 and rare[0][1] == 1
    assert len(some) == 1
    # "weather" is in every message: read up to cap + 1 of them, then dropped as common
    assert read <= 2 * (8 + 1) + SLACK, read


async def test_newest_matches_of_a_common_word_are_not_found_by_reading_the_table(
    app: FastAPI, client: httpx.AsyncClient, ws: str
) -> None:
    """Statistics that know the scope well can mislead too: a word in one message of ten,
    with a ``LIMIT``, makes a sequential scan look cheap (nine matches expected within the
    first ninety rows), but when the matches are the newest messages they sit at the end of
    the heap and the scan parses every message before them. After an ingest load that was
    130-200 ms per word branch; a search's statements run with sequential scans off, so the
    full-text index finds the matches directly. (Here the planner is led to the sequential
    scan by pricing index reads high; without the setting it reads 5,400 rows.)"""
    old, new = 2_700, 300
    url = f"/v3/workspaces/{ws}/sessions/s/messages"
    r = await client.post(url, json={"messages": [{"peer_id": "p", "content": "first"}]})
    assert r.status_code == 201, r.text
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO messages (public_id, workspace_name, session_name, peer_name, "
                "seq_in_session, content, token_count) "
                "SELECT :w || '-' || i, :w, 's', 'p', 1 + i, CASE WHEN i > :old "
                "THEN 'message ' || i || ' about hiking in the alps' "
                "ELSE 'message ' || i || ' about the weather' END, 8 "
                "FROM generate_series(1, :n) AS i"
            ),
            {"w": ws, "old": old, "n": old + new},
        )
        await conn.execute(text("ANALYZE messages"))
    async with app.state.session_factory() as db:
        repo = SearchRepository(db, SearchScope(ws, {"workspace_id": ws}))
        async with Reads(db) as reads:
            # the estimates that made a sequential scan look cheapest on a server (index
            # reads priced high), whatever this test database's statistics say
            await db.execute(text("SET LOCAL random_page_cost = 1000"))
            await repo.plan_each_query()
            rare = await repo.rare_words(["hiking", "alps"], 50, cap=8)
    assert rare == []  # both words are common here: more than cap matches each
    assert reads.rows <= 2 * (8 + 1) + SLACK, f"read {reads.rows} rows for 2 x 9 matches"
