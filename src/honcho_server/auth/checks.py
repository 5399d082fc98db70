"""Handler-level authorization helpers.

The guard (:mod:`.guard`, rules in :mod:`.policy`) decides every route and every option that
names another object, bodies included. What remains here are the create routes' write rules
(a narrow key may *read* but not change what it reaches through get-or-create) and chat's
checks, which the guard now makes too (kept as a second line for the chat route).

Every helper takes the request's :class:`Principal` (``PrincipalDep``) and raises
:class:`Unauthorized` (401) when the key may not do what the request asks. With auth off the
principal is an admin and every helper passes.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..db.repositories.access import AccessRepository
from ..db.session import unit_of_work
from ..errors import Unauthorized
from .keys import Principal
from .policy import NOT_PERMISSIONED, UNAUTHORIZED_RESOURCE


def require_workspace_key(principal: Principal) -> None:
    """Admin or workspace-level keys only (e.g. the ``scope`` options, session ``scopes``)."""
    if not principal.workspace_level:
        raise Unauthorized(UNAUTHORIZED_RESOURCE)


async def require_active_member(
    db: AsyncSession, principal: Principal, workspace: str, sessions: Iterable[str]
) -> None:
    """A narrow key may reach these sessions' data: a peer key's peer must be an active member
    of each (active) session, a session key must be for that very session. Workspace-level
    keys pass. Used by chat (``session_id`` and the session allowlist)."""
    if principal.workspace_level:
        return
    wanted = set(sessions)
    if principal.session is not None and wanted - {principal.session}:
        raise Unauthorized(NOT_PERMISSIONED)
    if principal.peer is None or not wanted:
        return
    found = await AccessRepository(db).member_sessions(workspace, principal.peer, wanted)
    if found != wanted:
        raise Unauthorized(NOT_PERMISSIONED)


def authorize_workspace_create(principal: Principal, workspace: str) -> None:
    """``POST /workspaces``: admins, or a key for exactly that workspace (the SDK calls this
    once per client, whatever the key's scope; an existing workspace is returned unchanged)."""
    if not principal.admin and principal.workspace != workspace:
        raise Unauthorized(UNAUTHORIZED_RESOURCE)


async def authorize_peer_create(
    db: AsyncSession, principal: Principal, workspace: str, peer: str, *, writes: bool
) -> None:
    """``POST …/peers`` (the guard already matched the workspace). A peer key may get or
    create (and update) only its own peer; a session key may only *read* (no metadata or
    configuration in the body) a peer that is an active member of its session."""
    if principal.workspace_level:
        return
    if principal.peer is not None and principal.peer != peer:
        raise Unauthorized(UNAUTHORIZED_RESOURCE)
    if principal.session is not None:
        if writes:
            raise Unauthorized(UNAUTHORIZED_RESOURCE)
        members = await AccessRepository(db).member_sessions(workspace, peer, {principal.session})
        if not members:
            raise Unauthorized(UNAUTHORIZED_RESOURCE)


async def authorize_session_create(
    db: AsyncSession, principal: Principal, workspace: str, session: str, *, writes: bool
) -> None:
    """``POST …/sessions`` (the guard already matched the workspace). A session key may get or
    create (and update) only its own session; a peer key may only *read* (no metadata,
    configuration, peers or scopes in the body) a session its peer is an active member of.
    The ``scopes`` field needs a workspace-level key (checked by the caller)."""
    if principal.workspace_level:
        return
    if principal.session is not None and principal.session != session:
        raise Unauthorized(UNAUTHORIZED_RESOURCE)
    if principal.peer is not None:
        if writes:
            raise Unauthorized(UNAUTHORIZED_RESOURCE)
        members = await AccessRepository(db).member_sessions(workspace, principal.peer, {session})
        if not members:
            raise Unauthorized(UNAUTHORIZED_RESOURCE)


async def require_chat_access(
    factory: async_sessionmaker[AsyncSession],
    principal: Principal,
    workspace: str,
    *,
    session: str | None,
    allowlist: Iterable[str] | None,
    scoped: bool,
) -> None:
    """Chat's checks (BEHAVIOUR §21.3): ``scope``/``scopes`` need a workspace-level key; a
    narrow key's chat ``session_id`` and session allowlist must be sessions it may read (peer
    key: an active member of each). Opens its own short unit of work, only when needed."""
    if scoped:
        require_workspace_key(principal)
    sessions = ([session] if session is not None else []) + list(allowlist or ())
    if principal.workspace_level or not sessions:
        return
    async with unit_of_work(factory) as db:
        await require_active_member(db, principal, workspace, sessions)
