"""Fresh, migrated databases on the test server, for tests that change database-wide state
(the job queue, the embedding space) and must not share it with other tests, and for a
migration's own tests (a database left at the revision before it)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any

from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from honcho_server.db.migrate import alembic_config, upgrade
from sdk.test_sdk_queue_webhooks import _admin

if TYPE_CHECKING:
    from fastapi import FastAPI


@asynccontextmanager
async def fresh_database(database_url: str, embedding_dimensions: int = 384) -> AsyncIterator[str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(database_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    try:
        await asyncio.to_thread(upgrade, url, embedding_dimensions)
        yield url
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        await admin.dispose()


@contextmanager
def database_at(database_url: str, revision: str) -> Iterator[str]:
    """A database of its own, migrated only up to ``revision``; dropped afterwards."""
    name = f"mig{revision}_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(database_url, f'CREATE DATABASE "{name}"'))
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    try:
        command.upgrade(alembic_config(url), revision)
        yield url
    finally:
        asyncio.run(_admin(database_url, f'DROP DATABASE "{name}" WITH (FORCE)'))


@asynccontextmanager
async def fresh_app(database_url: str, **settings: Any) -> AsyncIterator[FastAPI]:
    """The app on a database of its own (its own tables' sizes and statistics: what a plan
    test needs), its lifespan running; the in-process worker off unless ``settings`` say."""
    from honcho_server.app import create_app  # the app only for the tests that ask for one
    from honcho_server.settings import Settings

    async with fresh_database(database_url) as url:
        options: dict[str, Any] = {"embedded_worker": False, **settings}
        app = create_app(Settings(_env_file=None, database_url=url, **options))
        async with app.router.lifespan_context(app):
            yield app
