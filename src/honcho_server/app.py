"""The ASGI application: ``create_app(settings, database_url)``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from . import HONCHO_API_VERSION
from .api import errors, openapi_doc
from .api.health import router as health_router
from .api.limits import RequestLimits
from .api.status import router as status_router
from .api.v2 import install as install_v2
from .api.v3 import (
    chat,
    conclusions,
    context,
    deriver_metrics,
    dreams,
    keys,
    messages,
    peer_cards,
    peers,
    queue,
    scopes,
    search,
    sessions,
    summaries,
    transfer,
    uploads,
    webhooks,
    workspaces,
)
from .auth.guard import authorize
from .db.engine import create_engine, create_session_factory
from .db.read_pool import ReadPool
from .db.session import unit_of_work
from .db.warm_up import warm_up
from .embeddings import Embedder, build_embedder
from .heap import freeze_startup_objects
from .llm import LLMRegistry
from .mcp import install as install_mcp
from .observability.concurrency import Concurrency
from .observability.logs import configure_logging
from .observability.middleware import ObservedFastAPI
from .observability.scrape import router as metrics_router
from .services import embedding_space
from .settings import Settings, load_settings
from .tokens import encoding
from .web import install as install_web
from .worker.context import WorkerServices
from .worker.runner import run_forever


def create_app(
    settings: Settings, database_url: str | None = None, *, embedder: Embedder | None = None
) -> FastAPI:
    """Build the app. ``database_url`` overrides ``settings.database_url`` (embedded mode)."""
    url = database_url or settings.database_url
    if url is None:
        raise ValueError("create_app needs a database URL (start the embedded database first)")
    concurrency = Concurrency()  # requests in flight: counted by the app, read by its worker

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings, url)
        app.state.engine = engine
        app.state.session_factory = factory = create_session_factory(engine)
        # reads outside a transaction (api.deps.ReadDb): same pool, AUTOCOMMIT per checkout
        app.state.read_engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        # the hot routes' single-statement reads: asyncpg itself, no session (db.read_pool)
        app.state.read_pool = reads = await ReadPool.open(engine, settings)
        await warm_up(reads, settings)
        app.state.embedder = vectors = embedder or build_embedder(settings)
        async with unit_of_work(factory) as db:  # refuse to mix incomparable vectors
            await embedding_space.verify(db, vectors.name, vectors.dimensions)
        stop = asyncio.Event()
        worker = None
        app.state.llm = registry = LLMRegistry(settings)
        await registry.load()
        if settings.embedded_worker:  # the background worker, in this process
            services = WorkerServices(
                settings=settings, embedder=vectors, llm=registry, api=concurrency
            )
            worker = asyncio.create_task(
                run_forever(
                    factory,
                    stop,
                    database_url=url,
                    services=services,
                    embedder_name=vectors.name,
                    concurrency=settings.worker_concurrency,
                ),
                name="honcho-worker",
            )
        if getattr(app.state, "freeze_after_startup", False):  # serve's app (create_serving_app)
            freeze_startup_objects()  # the pools, the embedder, the worker: as long-lived
        try:
            yield
        finally:
            stop.set()
            if worker is not None:
                await worker  # finishes the job in hand, then returns
            await registry.aclose()
            await reads.close()
            await engine.dispose()
            if embedder is None:
                await vectors.aclose()

    # ObservedFastAPI: request ids, HTTP metrics and the access log outside every other layer
    # (even the error middleware), so a 413, a 503 or a 500 carries X-Request-ID too.
    app = ObservedFastAPI(
        title="Honcho API",
        summary="The Identity Layer for the Agentic World",
        version=HONCHO_API_VERSION,  # the Honcho API level served; ours is in /health
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc come from honcho_server.web, offline
        redoc_url=None,
    )
    app.state.settings = settings
    app.access_log = settings.access_log
    app.concurrency = concurrency
    # Body size and lone-surrogate checks before any route reads the body (CORS wraps them,
    # so browsers can read a 413 too).
    app.add_middleware(RequestLimits, max_body=settings.max_request_body_bytes)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
    )
    errors.install(app)
    openapi_doc.install(app)
    # Every route but /health (and the docs) is guarded: one dependency, rules in auth.policy.
    guarded = [Depends(authorize)]
    # Routing tries the routes in order, a regex each, on every request: /v3 comes first and,
    # within it, what clients call all the time (messages, context, sessions, peers). Only
    # templates that can match the same path need an order between them, and every such pair
    # keeps the order it had (uploads before messages; the rest share no path across routers).
    routers = (
        uploads,  # before messages: `/messages/upload` must not match `/messages/{id}`
        messages,
        context,
        peers,
        sessions,
        workspaces,
        peer_cards,
        summaries,
        conclusions,
        search,
        scopes,
        queue,
        deriver_metrics,
        webhooks,
        chat,
        dreams,
        keys,
        transfer,  # beyond upstream: export and import
    )
    for module in routers:
        app.include_router(module.router, prefix="/v3", dependencies=guarded)
    app.include_router(health_router)
    if settings.metrics_enabled:  # open like /health: no tenant data (README "Observability")
        app.include_router(metrics_router)
    app.include_router(status_router, dependencies=guarded)
    # upstream's service-wide backlog, outside /v3 as there (admin-only: no workspace in it)
    app.include_router(deriver_metrics.service_router, dependencies=guarded)
    install_v2(app)  # /v2: deprecated, each route runs its guarded v3 twin in-process
    install_mcp(app)  # /mcp: upstream's MCP tools, each call through the guarded REST route
    install_web(app)  # the memory explorer at / and offline /docs, /redoc (pages call /v3)
    return app


def create_app_from_env() -> FastAPI:
    """App factory for multi-process serving: each worker reads settings from the environment
    (``serve`` exports the embedded database's URL as ``DATABASE_URL`` before forking)."""
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)  # spawned: not configured yet
    return create_serving_app(settings)


def create_serving_app(settings: Settings, database_url: str | None = None) -> FastAPI:
    """The app as ``serve`` runs it: built, then everything loaded so far taken out of the
    garbage collector's full passes (:mod:`.heap`). Tests build apps with :func:`create_app`."""
    app = create_app(settings, database_url)
    app.state.freeze_after_startup = True  # and again once the lifespan has started everything
    encoding()  # the token counter's vocabulary (~1 s): now, not in the first ingest's request
    freeze_startup_objects()  # what is loaded by now lives as long as the process
    return app
