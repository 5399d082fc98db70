"""The ASGI application: ``create_app(settings, database_url)``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from . import __version__
from .api import errors
from .api.health import router as health_router
from .api.status import router as status_router
from .api.v3 import (
    conclusions,
    context,
    messages,
    peer_cards,
    peers,
    queue,
    scopes,
    search,
    sessions,
    summaries,
    uploads,
    webhooks,
    workspaces,
)
from .db.engine import create_engine, create_session_factory
from .settings import Settings, load_settings
from .worker.context import WorkerServices
from .worker.runner import run_forever


def create_app(settings: Settings, database_url: str | None = None) -> FastAPI:
    """Build the app. ``database_url`` overrides ``settings.database_url`` (embedded mode)."""
    url = database_url or settings.database_url
    if url is None:
        raise ValueError("create_app needs a database URL (start the embedded database first)")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings, url)
        app.state.engine = engine
        app.state.session_factory = factory = create_session_factory(engine)
        stop = asyncio.Event()
        worker = None
        if settings.embedded_worker:  # the background worker, in this process
            worker = asyncio.create_task(
                run_forever(
                    factory, stop, database_url=url, services=WorkerServices(settings=settings)
                ),
                name="honcho-worker",
            )
        try:
            yield
        finally:
            stop.set()
            if worker is not None:
                await worker  # finishes the job in hand, then returns
            await engine.dispose()

    app = FastAPI(
        title="Honcho API",
        summary="The Identity Layer for the Agentic World",
        version=__version__,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
    )
    errors.install(app)
    app.include_router(health_router)
    app.include_router(status_router)
    routers = (
        workspaces,
        peers,
        peer_cards,
        sessions,
        context,
        summaries,
        uploads,  # before messages: `/messages/upload` must not match `/messages/{id}`
        messages,
        conclusions,
        search,
        scopes,
        queue,
        webhooks,
    )
    for module in routers:
        app.include_router(module.router, prefix="/v3")
    return app


def create_app_from_env() -> FastAPI:
    """App factory for multi-process serving: each worker reads settings from the environment
    (``serve`` exports the embedded database's URL as ``DATABASE_URL`` before forking)."""
    return create_app(load_settings())
