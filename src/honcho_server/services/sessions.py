"""Sessions and their membership: get-or-create, update, list, add/set/remove peers, configs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ..db.read_pool import ReadPool
from ..db.repositories import sessions as session_rows
from ..db.repositories.members import MemberRepository
from ..db.repositories.peers import PeerRepository
from ..db.repositories.sessions import SessionRepository
from ..db.repositories.workspaces import WorkspaceRepository
from ..db.session import autocommit_reads
from ..errors import BadRequest, NotFound
from ..ids import require_valid_name
from ..schemas.configuration import SessionConfiguration, SessionPeerConfig
from ..schemas.pagination import Page
from ..schemas.peers import Peer
from ..schemas.sessions import Session, SessionCreate, SessionUpdate
from . import views
from .paging import PageRequest, to_page
from .scopes import ScopeService


def _stored(config: SessionConfiguration | None) -> dict[str, Any] | None:
    return config.stored() if config is not None else None


def _not_found(name: str) -> NotFound:
    return NotFound(f"Session {name} not found")


async def find(reads: ReadPool, workspace: str, body: SessionCreate) -> Session | None:
    """A get-or-create that only gets: the existing active session, read on the read pool
    (one statement, no transaction); ``None`` when the body changes the session or it does
    not exist (then :meth:`SessionService.get_or_create`, with ``looked=True``)."""
    if not _bare(body):
        return None
    name = require_valid_name(workspace, "workspace")
    found = await session_rows.find_live(reads, name, body.id)
    return None if found is None else views.session(found)


class SessionService:
    """Session rules; ``observers_limit`` caps members with ``observe_others=true``."""

    def __init__(self, db: AsyncSession, *, observers_limit: int) -> None:
        self.db = db
        self.observers_limit = observers_limit
        self.sessions = SessionRepository(db)
        self.members = MemberRepository(db)

    async def get_or_create(
        self, workspace: str, body: SessionCreate, *, looked: bool = False
    ) -> tuple[Session, bool]:
        """A bare get of an existing active session is one autocommit SELECT (skipped when
        :func:`find` has just looked); creating or changing one (metadata, configuration,
        peers, scopes) takes the transaction."""
        if _bare(body) and not looked:
            async with autocommit_reads(self.db):
                found = await self.sessions.get_live(workspace, body.id)
            if found is not None:
                return views.session(found), False
        peers = _validated_peers(body.peers or {})
        self._check_limit(body.id, _observers(peers))
        await WorkspaceRepository(self.db).ensure(require_valid_name(workspace, "workspace"))
        row = await self.sessions.create_if_missing(
            workspace, body.id, body.metadata or {}, _stored(body.configuration) or {}
        )
        created = row is not None
        if row is None:
            row = await self.sessions.update_active(
                workspace, body.id, body.metadata, _stored(body.configuration)
            )
            if row is None:
                raise _not_found(body.id)
            await self._check_existing_limit(workspace, body.id, peers)
        await self._join(workspace, body.id, peers)
        if body.scopes:
            await ScopeService(self.db).join_session(workspace, body.id, body.scopes)
        return views.session(row), created

    async def get(self, workspace: str, name: str) -> Session:
        """An active session (404 when absent or deleted)."""
        row = await self.sessions.get(workspace, name)
        if row is None or not row.is_active:
            raise _not_found(name)
        return views.session(row)

    async def update(self, workspace: str, name: str, body: SessionUpdate) -> Session:
        require_valid_name(name, "session")
        await WorkspaceRepository(self.db).ensure(require_valid_name(workspace, "workspace"))
        config = _stored(body.configuration)
        row = await self.sessions.create_if_missing(
            workspace, name, body.metadata or {}, config or {}
        )
        if row is None:
            row = await self.sessions.update_active(workspace, name, body.metadata, config)
        if row is None:
            raise _not_found(name)
        return views.session(row)

    async def list_sessions(
        self, workspace: str, filters: dict[str, Any] | None, req: PageRequest
    ) -> Page[Session]:
        result = await self.sessions.list_page(
            workspace, filters, page=req.page, size=req.size, reverse=req.reverse
        )
        return to_page(result, views.session, req)

    async def add_peers(
        self, workspace: str, name: str, peers: Mapping[str, SessionPeerConfig]
    ) -> Session:
        """Same as get-or-create with a ``peers`` map: creates the session if missing."""
        session, _ = await self.get_or_create(
            workspace, SessionCreate.model_validate({"id": _valid_session(name), "peers": peers})
        )
        return session

    async def set_peers(
        self, workspace: str, name: str, peers: Mapping[str, SessionPeerConfig]
    ) -> Session:
        """Replace the member set: everyone leaves, the given peers (re)join with their config."""
        valid = _validated_peers(peers)
        self._check_limit(name, _observers(valid))
        row = await self._active(workspace, name)
        await self.members.leave(workspace, name, None)
        await self._join(workspace, name, valid)
        return views.session(row)

    async def remove_peers(self, workspace: str, name: str, peers: list[str]) -> Session:
        row = await self._active(workspace, name)
        await self.members.leave(workspace, name, peers)
        return views.session(row)

    async def list_peers(self, workspace: str, name: str, req: PageRequest) -> Page[Peer]:
        result = await self.members.list_active_peers(workspace, name, page=req.page, size=req.size)
        return to_page(result, views.peer, req)

    async def get_peer_config(self, workspace: str, name: str, peer: str) -> SessionPeerConfig:
        config = await self.members.get_config(workspace, name, peer)
        if config is None:
            raise NotFound(f"Peer {peer} is not a member of session {name}")
        return SessionPeerConfig.model_validate(config)

    async def set_peer_config(
        self, workspace: str, name: str, peer: str, config: SessionPeerConfig
    ) -> None:
        """Merge the non-null fields into the member's config (joining it if needed)."""
        await self._active(workspace, name)
        if await PeerRepository(self.db).get(workspace, peer) is None:
            raise NotFound(f"Peer {peer} not found")
        if config.observe_others:
            self._check_limit(name, 1 + await self.members.count_observers(workspace, name, [peer]))
        await self.members.merge_config(
            workspace, name, peer, config.model_dump(), config.model_dump(exclude_none=True)
        )

    async def _active(self, workspace: str, name: str) -> Any:
        """The active session, held until commit against a concurrent DELETE."""
        row = await self.sessions.hold_active(workspace, name)
        if row is None:
            raise _not_found(name)
        return row

    async def _join(
        self, workspace: str, name: str, peers: Mapping[str, SessionPeerConfig]
    ) -> None:
        if peers:
            await PeerRepository(self.db).ensure_many(workspace, peers)
            await self.members.join(workspace, name, {p: c.model_dump() for p, c in peers.items()})

    async def _check_existing_limit(
        self, workspace: str, name: str, peers: Mapping[str, SessionPeerConfig]
    ) -> None:
        named = _observers(peers)
        if named:
            others = await self.members.count_observers(workspace, name, list(peers))
            self._check_limit(name, others + named)

    def _check_limit(self, name: str, observers: int) -> None:
        if observers > self.observers_limit:
            raise BadRequest(
                f"Cannot create session {name} with {observers} observers. "
                f"Maximum allowed is {self.observers_limit} observers per session."
            )


def _bare(body: SessionCreate) -> bool:
    return (
        body.metadata is None and body.configuration is None and not body.peers and not body.scopes
    )


def _observers(peers: Mapping[str, SessionPeerConfig]) -> int:
    return sum(1 for c in peers.values() if c.observe_others)


def _validated_peers(peers: Mapping[str, SessionPeerConfig]) -> dict[str, SessionPeerConfig]:
    return {require_valid_name(p, "peer"): c for p, c in peers.items()}


def _valid_session(name: str) -> str:
    return require_valid_name(name, "session")
