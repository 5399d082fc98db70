"""FastAPI dependencies: who is calling (``authenticate``) and may they call this route
(``authorize``, installed once on every ``/v3`` router and on ``/status`` in ``app.py``)."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..db.repositories.access import AccessRepository
from ..db.session import unit_of_work
from ..errors import Unauthorized
from ..settings import Settings
from .keys import ADMIN, MISSING, Principal, verify
from .policy import NOT_PERMISSIONED, RouteTarget, decide

log = logging.getLogger("honcho_server.auth")

# auto_error=False: a missing or non-Bearer header reaches us (and becomes Honcho's 401),
# and the routes still advertise the HTTPBearer scheme in the OpenAPI document.
_bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def authenticate(request: Request, credentials: Credentials) -> Principal:
    """The verified key of this request; an admin when auth is off (BEHAVIOUR §21.1)."""
    settings: Settings = request.app.state.settings
    if not settings.auth_use_auth:
        return ADMIN
    if credentials is None or not credentials.credentials:
        raise Unauthorized(MISSING)
    secret = settings.auth_jwt_secret
    if secret is None:  # Settings refuses this combination; never verify against ""
        raise Unauthorized(MISSING)
    return verify(credentials.credentials, secret.get_secret_value())


PrincipalDep = Annotated[Principal, Depends(authenticate)]


async def authorize(request: Request, principal: PrincipalDep) -> None:
    """Apply the route rules of :mod:`.policy` to the matched route and its path params.

    Fails closed: no matched route, or a route without a workspace in its path, is admin-only.
    The membership check opens its own short unit of work (no transaction is held for the
    rest of the request, which may be a long LLM call).
    """
    if principal.admin:
        return
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        raise Unauthorized(NOT_PERMISSIONED)
    target = RouteTarget.of(request.method, route.path, request.path_params)
    decision = decide(
        admin=principal.admin,
        workspace=principal.workspace,
        peer=principal.peer,
        session=principal.session,
        route=target,
    )
    if not decision.allowed:
        log.info("401 %s %s for key %s", target.method, target.template, principal.describe())
        raise Unauthorized(decision.detail)
    if decision.member_of is not None:
        if principal.peer is None:
            raise Unauthorized(NOT_PERMISSIONED)
        factory: async_sessionmaker[AsyncSession] = request.app.state.session_factory
        async with unit_of_work(factory) as db:
            found = await AccessRepository(db).member_sessions(
                target.workspace or "", principal.peer, {decision.member_of}
            )
        if not found:
            raise Unauthorized(NOT_PERMISSIONED)
