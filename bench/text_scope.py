"""Scope-first full text: what the all-words match costs per scope on a big table, with the
table-wide GIN index alone and with composite (btree_gin) indexes that lead with the scope.

    .venv/bin/python bench/text_scope.py --messages 10000
    .venv/bin/python bench/text_scope.py --messages 100000

Starts a throwaway embedded PostgreSQL, migrates it, loads ``--messages`` filler messages
through the app (embeddings off: only full text is measured) into sessions of 500 messages
by 40 peers (the filler of ``bench/retrieval.py``: a small vocabulary, so a common word
matches about a tenth of the table), then times ``SearchRepository.all_words`` — the
statement hybrid search runs for every query — for a common word, two words and a unique
token, in a session, a peer and the whole workspace: median wall time of 30 runs
(client-side, so it includes a local round trip), plus PostgreSQL's own execution time
(``EXPLAIN ANALYZE``, median of 5) and the indexes that plan uses. It measures twice: with
the table-wide index the search used before migration 0016 (put back, 0016's dropped), then
with 0016's composites (session, peer) in its place; each time also the cost of ingesting.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from retrieval import WORKSPACE, pad

QUERIES = ("weather", "landlord cheap", "note 4242")
TABLE_WIDE = "to_tsvector('english', content)"
VARIANTS = (  # migration 0016 replaced the first with the second
    (
        "table-wide GIN (before migration 0016)",
        (
            f"CREATE INDEX ix_messages_content_fts ON messages USING gin ({TABLE_WIDE})",
            "DROP INDEX ix_messages_session_fts",
            "DROP INDEX ix_messages_peer_fts",
            "ANALYZE messages",
        ),
    ),
    (
        "session and peer btree_gin composites (migrations 0016, 0017)",
        (  # as migration 0017 builds them: the scope in "C", which the search compares in
            "CREATE INDEX ix_messages_session_fts ON messages USING gin "
            f'((workspace_name COLLATE "C"), (session_name COLLATE "C"), {TABLE_WIDE})',
            "CREATE INDEX ix_messages_peer_fts ON messages USING gin "
            f'((workspace_name COLLATE "C"), (peer_name COLLATE "C"), {TABLE_WIDE})',
            "DROP INDEX ix_messages_content_fts",
            "ANALYZE messages",
        ),
    ),
    (
        "both: the composites and the table-wide index",
        (
            f"CREATE INDEX ix_messages_content_fts ON messages USING gin ({TABLE_WIDE})",
            "ANALYZE messages",
        ),
    ),
)


async def ingest_ms(client: httpx.AsyncClient, variant: int) -> float:
    """Median wall time of posting 100 messages (10 batches) under the current indexes."""
    times = []
    for b in range(10):
        msgs = [
            {"peer_id": f"filler{i % 40}", "content": f"The bus was late again, batch {b} {i}."}
            for i in range(100)
        ]
        started = time.perf_counter()
        r = await client.post(
            f"/v3/workspaces/{WORKSPACE}/sessions/ingest-{variant}/messages",
            json={"messages": msgs},
        )
        times.append((time.perf_counter() - started) * 1000)
        r.raise_for_status()
    return statistics.median(times)


async def explain(factory: Any, spec: Any, q: str) -> list[str]:
    """EXPLAIN ANALYZE of the statement ``all_words`` runs (captured as it runs)."""
    from sqlalchemy import event

    from honcho_server.db.repositories.search import SearchRepository
    from honcho_server.services.search import SCORED_WINDOW

    statements: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, params: Any, *args: Any) -> None:
        statements.append((statement, params))

    async with factory() as db:
        repo = SearchRepository(db, spec)
        await repo.plan_each_query()
        conn = await db.connection()
        event.listen(conn.sync_connection, "before_cursor_execute", record)
        await repo.all_words(q, SCORED_WINDOW, window=SCORED_WINDOW)
        event.remove(conn.sync_connection, "before_cursor_execute", record)
        statement, params = statements[-1]
        result = await conn.exec_driver_sql("EXPLAIN ANALYZE " + statement, params)
        return [str(line) for line in result.scalars().all()]


async def measure(app: Any) -> list[tuple[str, str, float, float, str]]:
    from honcho_server.db.repositories.search import SearchRepository, SearchScope
    from honcho_server.services.search import SCORED_WINDOW

    scopes = {
        "session": {"session_id": "filler-3"},
        "peer": {"peer_id": "filler7"},
        "workspace": {},
    }
    out = []
    factory = app.state.session_factory
    for scope, filters in scopes.items():
        for q in QUERIES:
            spec = SearchScope(WORKSPACE, {"workspace_id": WORKSPACE, **filters})
            times = []
            for _ in range(30):
                async with factory() as db:
                    repo = SearchRepository(db, spec)
                    await repo.plan_each_query()
                    started = time.perf_counter()
                    await repo.all_words(q, SCORED_WINDOW, window=SCORED_WINDOW)
                    times.append((time.perf_counter() - started) * 1000)
            runs = [await explain(factory, spec, q) for _ in range(5)]
            lines = runs[0]
            pg = statistics.median(
                float(re.findall(r"Execution Time: ([\d.]+)", r[-1])[0]) for r in runs
            )
            used = sorted(
                set(
                    re.findall(
                        r"(?:Index|Bitmap Index) Scan (?:Backward )?(?:using|on) (\w+)",
                        "\n".join(lines),
                    )
                )
            )
            out.append((scope, q, statistics.median(times), pg, ",".join(used)))
    return out


async def run(url: str, n: int) -> None:
    from sqlalchemy import text

    from honcho_server.app import create_app
    from honcho_server.settings import Settings

    settings = Settings(
        _env_file=None,
        database_url=url,
        embed_messages=False,
        deriver_enabled=False,
        summary_enabled=False,
        log_level="WARNING",
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://b", timeout=120) as c:
            (await c.post("/v3/workspaces", json={"id": WORKSPACE})).raise_for_status()
            started = time.perf_counter()
            await pad(c, n)
            print(f"loaded {n} messages in {time.perf_counter() - started:.0f} s", flush=True)
            async with app.state.engine.begin() as conn:
                await conn.execute(text("ANALYZE"))
            for v, (label, setup) in enumerate(VARIANTS):
                async with app.state.engine.begin() as conn:
                    for s in setup:
                        await conn.execute(text(s))
                print(f"\n{label}, {n} messages")
                print(f"{'scope':10} {'query':16} {'wall p50 ms':>11} {'Postgres ms':>11}  indexes")
                for scope, q, wall, pg, used in await measure(app):
                    print(f"{scope:10} {q:16} {wall:>11.2f} {pg:>11.2f}  {used}", flush=True)
                print(f"ingest: {await ingest_ms(c, v):.1f} ms per 100 messages (p50 of 10)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=10000)
    args = parser.parse_args()
    from honcho_server.db.embedded.server import EmbeddedPostgres
    from honcho_server.db.migrate import upgrade

    tmp = Path(tempfile.mkdtemp(prefix="honcho-textscope-"))
    tmp.chmod(0o711)
    embedded = EmbeddedPostgres(tmp)
    url = embedded.start()
    try:
        upgrade(url)
        asyncio.run(run(url, args.messages))
    finally:
        embedded.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
