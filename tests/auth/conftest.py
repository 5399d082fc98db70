"""An auth-enabled app (ASGI) on the shared test database, and helpers to mint its keys."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from auth_support import SECRET
from fastapi import FastAPI
from pydantic import SecretStr

from honcho_server.app import create_app
from honcho_server.settings import Settings


@pytest.fixture(scope="session")
def auth_settings(settings: Settings) -> Settings:
    # No embedded worker: requests here queue jobs (webhook tests, dreams) nobody needs to run.
    return settings.model_copy(
        update={
            "auth_use_auth": True,
            "auth_jwt_secret": SecretStr(SECRET),
            "embedded_worker": False,
        }
    )


@pytest.fixture(scope="session")
async def auth_app(auth_settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(auth_settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
async def auth_client(auth_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=auth_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c
