"""Annotated dependency aliases, so route functions stay a few lines long.

Every dependency is ``async def``: FastAPI runs a plain ``def`` one in the thread pool, a
hop per dependency per request."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Annotated, TypeVar

from fastapi import Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..auth.guard import PrincipalDep as PrincipalDep  # the verified caller (admin if auth off)
from ..auth.keys import Principal as Principal
from ..db.read_pool import ReadPool
from ..db.repositories.raw import READ_POOL
from ..db.session import run_unit_of_work, unit_of_work
from ..embeddings import Embedder
from ..llm import LLMRegistry
from ..schemas.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from ..services import idempotency
from ..services.paging import PageRequest
from ..services.sessions import SessionService
from ..settings import Settings

T = TypeVar("T")


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _embedder(request: Request) -> Embedder:
    embedder: Embedder = request.app.state.embedder
    return embedder


async def _llm(request: Request) -> LLMRegistry:
    registry: LLMRegistry = request.app.state.llm
    return registry


async def _session_factory(request: Request) -> async_sessionmaker[AsyncSession]:
    """For routes that must not hold one transaction for the whole request (LLM calls):
    they open short units of work with :func:`unit_of_work` themselves."""
    factory: async_sessionmaker[AsyncSession] = request.app.state.session_factory
    return factory


async def _read_pool(request: Request) -> ReadPool:
    reads: ReadPool = request.app.state.read_pool
    return reads


async def _db(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed before the response is sent."""
    async with unit_of_work(request.app.state.session_factory) as session:
        yield session


async def _read_db(request: Request) -> AsyncIterator[AsyncSession]:
    """For routes that only read: no transaction at all (autocommit), so no BEGIN/COMMIT
    round trips; each statement sees its own snapshot. The session is bound to the
    autocommit engine, so the connection is taken at the first statement, not here: a route
    that embeds a search query first holds no connection while the model runs."""
    async with read_session(request) as session:
        yield session  # nothing to commit; closing hands the connection back


def read_session(request: Request) -> AsyncSession:
    """A :data:`ReadDb` session opened by the route itself (``async with``), for hot routes:
    FastAPI's machinery around a generator dependency costs more than the session. Raw reads
    on it run on the read pool (``repositories.raw``)."""
    state = request.app.state
    reads = {READ_POOL: state.read_pool}
    factory: async_sessionmaker[AsyncSession] = state.session_factory
    return factory(bind=state.read_engine, info=reads)


class UnitOfWork:
    """A request's transaction, opened by the route around its service call, so that it can
    run again from the start when Postgres aborts it (deadlock victim, serialization
    failure) and can carry an ``Idempotency-Key``. Committed before the response is sent."""

    def __init__(
        self, factory: async_sessionmaker[AsyncSession], key_ttl: timedelta, reads: ReadPool
    ) -> None:
        self.factory = factory
        self.key_ttl = key_ttl
        self.reads = reads  # for a route that may answer from one read, before any transaction

    async def run(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        return await run_unit_of_work(self.factory, work)

    async def run_once(
        self,
        request: idempotency.KeyedRequest,
        work: Callable[[AsyncSession], Awaitable[T]],
        render: Callable[[T], bytes],
        *,
        status: int,
    ) -> idempotency.Outcome:
        return await idempotency.run_once(
            self.factory, request, work, render, status=status, ttl=self.key_ttl
        )


def request_unit_of_work(request: Request) -> UnitOfWork:
    """The request's :class:`UnitOfWork` (what :data:`UnitOfWorkDep` gives), for a route that
    needs one on some paths only."""
    settings: Settings = request.app.state.settings
    ttl = timedelta(seconds=settings.idempotency_key_ttl_seconds)
    return UnitOfWork(request.app.state.session_factory, ttl, request.app.state.read_pool)


async def _unit_of_work(request: Request) -> UnitOfWork:
    return request_unit_of_work(request)


async def _paging(
    page: Annotated[int, Query(ge=1, description="Page number")] = 1,
    size: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size")
    ] = DEFAULT_PAGE_SIZE,
) -> PageRequest:
    return PageRequest(page=page, size=size)


async def _listing(
    page: Annotated[int, Query(ge=1, description="Page number")] = 1,
    size: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size")
    ] = DEFAULT_PAGE_SIZE,
    reverse: Annotated[bool | None, Query(description="Whether to reverse the order")] = False,
) -> PageRequest:
    return PageRequest(page=page, size=size, reverse=bool(reverse))


SettingsDep = Annotated[Settings, Depends(_settings)]
EmbedderDep = Annotated[Embedder, Depends(_embedder)]
LLMDep = Annotated[LLMRegistry, Depends(_llm)]
SessionFactory = Annotated[async_sessionmaker[AsyncSession], Depends(_session_factory)]
DbSession = Annotated[AsyncSession, Depends(_db, scope="function")]
ReadDb = Annotated[AsyncSession, Depends(_read_db, scope="function")]
ReadPoolDep = Annotated[ReadPool, Depends(_read_pool)]
UnitOfWorkDep = Annotated[UnitOfWork, Depends(_unit_of_work)]
Paging = Annotated[PageRequest, Depends(_paging)]
Listing = Annotated[PageRequest, Depends(_listing)]


async def _session_service(db: DbSession, settings: SettingsDep) -> SessionService:
    return SessionService(db, observers_limit=settings.session_observers_limit)


Sessions = Annotated[SessionService, Depends(_session_service)]
