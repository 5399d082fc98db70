"""FastAPI dependencies: who is calling (``authenticate``) and may they call this route with
these options (``authorize``, installed once on every ``/v3`` router and on ``/status`` in
``app.py``)."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import Depends, Request, params
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..db.repositories.access import AccessRepository
from ..db.session import autocommit_reads, unit_of_work
from ..errors import Unauthorized
from ..settings import Settings
from .keys import ADMIN, MISSING, Principal, verify
from .policy import (
    NOT_PERMISSIONED,
    Decision,
    Named,
    RouteTarget,
    Source,
    checked,
    collect,
    decide,
    decide_options,
    options_of,
)

log = logging.getLogger("honcho_server.auth")

# auto_error=False: a missing or non-Bearer header reaches us (and becomes Honcho's 401).
# Called directly, not as a dependency (a sub-dependency is solved again on every request,
# twice here); the documents declare the scheme instead (api.openapi_doc.declare_bearer).
_bearer = HTTPBearer(auto_error=False)


_PRINCIPAL = "honcho_server.principal"  # the request scope's key for the verified caller


async def authenticate(request: Request) -> Principal:
    """The verified key of this request; an admin when auth is off (BEHAVIOUR §21.1).

    Verified once per request and kept in the request's scope: the guard verifies it first,
    and every ``PrincipalDep`` after reads what it found."""
    found: Principal | None = request.scope.get(_PRINCIPAL)
    if found is None:
        settings: Settings = request.app.state.settings
        credentials = await _bearer(request) if settings.auth_use_auth else None
        found = request.scope[_PRINCIPAL] = _verified(settings, credentials)
    return found


def _verified(settings: Settings, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    if not settings.auth_use_auth:
        return ADMIN
    if credentials is None or not credentials.credentials:
        raise Unauthorized(MISSING)
    secret = settings.auth_jwt_secret
    if secret is None:  # Settings refuses this combination; never verify against ""
        raise Unauthorized(MISSING)
    return verify(credentials.credentials, secret.get_secret_value())


PrincipalDep = Annotated[Principal, Depends(authenticate)]


async def authorize(request: Request) -> None:
    """Apply :mod:`.policy` to the matched route, its path params and its object-naming options.

    Fails closed: no matched route, or a route without a workspace in its path, is admin-only.
    Body options are read from the body parsed by the route's own body field, so they mean
    exactly what the handler will see (aliases, coercion); a body that does not validate is
    left to the route's 422. Membership checks open their own short unit of work (no
    transaction is held for the rest of the request, which may be a long LLM call).

    It has no sub-dependencies (FastAPI solves a dependency's whole sub-tree again for every
    parameter that names it, cached result or not, at some 20 µs a node): it verifies the key
    itself (:func:`authenticate`, called directly) and the route's own ``PrincipalDep`` finds
    it in the request.
    """
    principal = await authenticate(request)
    if principal.admin:
        return
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        raise Unauthorized(NOT_PERMISSIONED)
    target = RouteTarget.of(request.method, route.path, request.path_params)
    claims: dict[str, Any] = {
        "admin": principal.admin,
        "workspace": principal.workspace,
        "peer": principal.peer,
        "session": principal.session,
    }
    decision = decide(**claims, route=target)
    if decision.allowed:
        named = await _named(request, route, target, principal)
        decision = decision.also(decide_options(**claims, route=target, named=named))
    if not decision.allowed:
        log.info("401 %s %s for key %s", target.method, target.template, principal.describe())
        raise Unauthorized(decision.detail)
    await check_membership(request, target, principal, decision)


async def _named(
    request: Request, route: APIRoute, target: RouteTarget, principal: Principal
) -> dict[Named, list[str]]:
    """The values of the route's object-naming options that could refuse this key."""
    wanted = [
        option
        for option in options_of(target)
        if checked(option, admin=principal.admin, workspace_level=principal.workspace_level)
    ]
    if not wanted:
        return {}
    body: Any = None
    if any(option.source is Source.BODY for option in wanted):
        body = await _parsed_body(request, route)
    form: Any = None
    if any(option.source is Source.FORM for option in wanted) and _reads_form(route):
        form = await request.form()  # parsed once: FastAPI has already read it (cached)
    named: dict[Named, list[str]] = {}
    for option in wanted:
        if option.source is Source.QUERY:
            named[option] = request.query_params.getlist(option.name)
        elif option.source is Source.PATH:
            value = request.path_params.get(option.name)
            named[option] = [value] if isinstance(value, str) else []
        elif option.source is Source.FORM:
            values = form.getlist(option.name) if form is not None else []
            named[option] = [v for v in values if isinstance(v, str)]
        else:
            named[option] = collect(body, option.path)
    return named


def _reads_form(route: APIRoute) -> bool:
    """Whether FastAPI parses this route's body as a form (never consume a body a route would
    stream itself; the matrix test's probes notice an option that then goes unchecked)."""
    field = route.body_field
    return field is not None and isinstance(field.field_info, params.Form)


async def _parsed_body(request: Request, route: APIRoute) -> Any:
    """The JSON body as the route's body field parses it; ``None`` if absent or invalid."""
    field = route.body_field
    if field is None or not await request.body():
        return None
    try:
        value = await request.json()  # parsed once: FastAPI has already read it (cached)
    except ValueError:
        return None
    parsed, errors = field.validate(value, {}, loc=("body",))
    return None if errors else parsed


async def check_membership(
    request: Request, target: RouteTarget, principal: Principal, decision: Decision
) -> None:
    """The parts of a decision that need committed data: memberships."""
    if not decision.sessions and not decision.members:
        return
    workspace = target.workspace or principal.workspace or ""
    factory: async_sessionmaker[AsyncSession] = request.app.state.session_factory
    async with unit_of_work(factory) as db, autocommit_reads(db):  # reads: no BEGIN/COMMIT
        access = AccessRepository(db)
        if decision.sessions:
            if principal.peer is None:
                raise Unauthorized(NOT_PERMISSIONED)
            found = await access.member_sessions(workspace, principal.peer, decision.sessions)
            if found != decision.sessions:
                raise Unauthorized(NOT_PERMISSIONED)
        if decision.members:
            if principal.session is None:
                raise Unauthorized(NOT_PERMISSIONED)
            found = await access.active_members(workspace, principal.session, decision.members)
            if found != decision.members:
                raise Unauthorized(NOT_PERMISSIONED)
