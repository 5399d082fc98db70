"""Shared fixtures: one embedded PostgreSQL per test run, migrated by Alembic.

Tests isolate themselves by using fresh random workspace ids, exactly as separate tenants
would, so every request commits for real.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from honcho_server.app import create_app
from honcho_server.db.embedded import EmbeddedPostgres
from honcho_server.db.migrate import upgrade
from honcho_server.settings import Settings
from servers import start_server, stop_server

ROOT = Path(__file__).resolve().parents[1]


def server_tmp_dir() -> Path:
    """A scratch directory for an embedded PostgreSQL data dir.

    Not under pytest's ``tmp_path``: pytest resets its base directory to mode 0700 whenever a
    pytest session starts, which would lock out the unprivileged ``honcho-pg`` server user
    when running as root. Mode 0711: that user may traverse it (the server never opens up a
    directory above its data dir; it would keep its files in /var/lib/honcho-pg instead).
    """
    path = Path(tempfile.mkdtemp(prefix="honcho-test-"))
    path.chmod(0o711)
    return path


@pytest.fixture
def server_dir() -> Iterator[Path]:
    path = server_tmp_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A migrated database: ``TEST_DATABASE_URL`` if set, else a fresh embedded server."""
    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        url = Settings(_env_file=None, database_url=external).database_url
        assert url is not None
        upgrade(url)
        yield url
        return
    data_dir = server_tmp_dir()
    server = EmbeddedPostgres(data_dir)
    url = server.start()
    try:
        upgrade(url)
        yield url
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    # Message embedding runs the real model on every message, and derivation needs an LLM;
    # the shared app leaves both off so hundreds of unrelated tests don't queue that work.
    # Semantic and deriver tests turn them on for themselves (see `semantic_server`).
    return Settings(
        _env_file=None,
        database_url=database_url,
        embed_messages=False,
        deriver_enabled=False,
        summary_enabled=False,
    )


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest.fixture
def ws() -> str:
    """A workspace id no other test uses."""
    return f"ws-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def live_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real uvicorn server (started through the CLI) on the test database."""
    log_path = tmp_path_factory.mktemp("live") / "server.log"
    process, base_url = start_server(
        {
            "DATABASE_URL": database_url,
            "LOG_LEVEL": "WARNING",
            "EMBED_MESSAGES": "false",
            "DERIVER_ENABLED": "false",
            "SUMMARY_ENABLED": "false",
        },
        log_path,
    )
    try:
        yield base_url
    finally:
        stop_server(process)


@pytest.fixture(scope="session")
def semantic_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real server that embeds every message with the local model (the default setup)."""
    log_path = tmp_path_factory.mktemp("semantic") / "server.log"
    process, base_url = start_server(
        {"DATABASE_URL": database_url, "LOG_LEVEL": "WARNING", "EMBED_MESSAGES": "true"},
        log_path,
    )
    try:
        yield base_url
    finally:
        stop_server(process)
