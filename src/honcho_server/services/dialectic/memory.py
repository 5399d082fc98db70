"""Everything a chat knows before the agent runs: who observes whom, what it may read, the
peer cards, the session's recent history and summary, and the prefetched conclusions.

:func:`ensure_peer` is the request's only write (get-or-create of the path peer, committed
on its own); :func:`gather` reads everything else in one short unit of work, after the
query was embedded (no connection is held while a model runs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ...db.repositories.conclusion_rows import ConclusionDetail
from ...db.repositories.context import ContextRepository
from ...db.repositories.dialectic import (
    DERIVED_LEVELS,
    ConclusionAccess,
    DialecticRepository,
    MessageAccess,
)
from ...db.repositories.messages import MessageRow
from ...db.repositories.peer_cards import PeerCardRepository
from ...db.repositories.peers import PeerRepository
from ...db.repositories.representation import RepresentationRepository
from ...db.repositories.sessions import SessionRepository
from ...db.repositories.summaries import SummaryRepository
from ...db.repositories.workspaces import WorkspaceRepository
from ...db.session import unit_of_work
from ...deriver.config import defaults_from, resolve
from ...errors import Invalid, NotFound
from ...settings import Settings
from ..representation.allowlist import MAX_ALLOWLIST
from ..representation.peer_views import scope_observer
from .evidence import EvidenceLog
from .request import ChatRequest

Factory = async_sessionmaker[AsyncSession]


@dataclass(frozen=True)
class Card:
    label: str
    entries: list[str]


@dataclass
class ChatMemory:
    workspace: str
    observer: str | None  # None: workspace chat (no single point of view)
    observed: str | None
    conclusions: ConclusionAccess
    messages: MessageAccess
    session: str | None = None
    cards: list[Card] = field(default_factory=list)
    history: list[MessageRow] = field(default_factory=list)
    summary: str | None = None
    explicit: list[ConclusionDetail] = field(default_factory=list)
    derived: list[ConclusionDetail] = field(default_factory=list)
    custom_instructions: str | None = None

    @property
    def allowlisted(self) -> bool:
        return self.conclusions.sessions is not None


async def ensure_peer(factory: Factory, req: ChatRequest) -> None:
    """Get-or-create the workspace and the path peer (committed before the agent runs)."""
    async with unit_of_work(factory) as db:
        await WorkspaceRepository(db).ensure(req.workspace)
        if req.peer is not None:
            await PeerRepository(db).ensure_many(req.workspace, [req.peer])


async def gather(
    factory: Factory,
    req: ChatRequest,
    settings: Settings,
    vector: list[float] | None,
    prefetch: int,
    log: EvidenceLog,
) -> ChatMemory:
    """Check the target, session and scope (404s), then read what the prompt starts with."""
    async with unit_of_work(factory) as db:
        memory = await _resolve(db, req)
        repo = DialecticRepository(db)
        workspace = await WorkspaceRepository(db).get(req.workspace)
        session_config: dict[str, Any] | None = None
        if req.session is not None:
            row = await SessionRepository(db).get(req.workspace, req.session)
            session_config = row.configuration if row is not None else None
        ws_config: dict[str, Any] = workspace.configuration if workspace else {}
        resolved = resolve(defaults_from(settings), ws_config, session_config, None)
        memory.custom_instructions = _custom_instructions(ws_config)
        if resolved.peer_card_use and memory.observer is not None:
            memory.cards = await _cards(db, req.workspace, memory.observer, memory.observed)
        if req.session is not None:
            await _session_part(db, memory, req.session, settings)
            log.messages(memory.history)
        memory.explicit = await _prefetch(repo, memory.conclusions, vector, ("explicit",), prefetch)
        memory.derived = await _prefetch(repo, memory.conclusions, vector, DERIVED_LEVELS, prefetch)
        log.conclusions([*memory.explicit, *memory.derived])
        return memory


async def _resolve(db: AsyncSession, req: ChatRequest) -> ChatMemory:
    peers = PeerRepository(db)
    if req.peer is not None and await peers.get(req.workspace, req.peer) is None:
        raise NotFound(f"Peer {req.peer} not found in workspace {req.workspace}")
    if req.target is not None and await peers.get(req.workspace, req.target) is None:
        raise NotFound(f"Peer {req.target} not found in workspace {req.workspace}")
    if req.session is not None:
        row = await SessionRepository(db).get(req.workspace, req.session)
        if row is None or not row.is_active:
            raise NotFound(f"Session {req.session} not found in workspace {req.workspace}")
    reps = RepresentationRepository(db)
    allowlist = req.allowlist
    observer = req.peer
    scope_sessions: list[str] | None = None
    if req.scope is not None:
        if not await reps.scope_exists(req.workspace, req.scope):
            raise NotFound(f"Scope {req.scope} not found")
        observer = scope_observer(req.scope)
        scope_sessions = await reps.scope_sessions(req.workspace, [req.scope])
    if req.scopes is not None:
        sessions = await reps.scope_sessions(req.workspace, list(req.scopes))
        if len(sessions) > MAX_ALLOWLIST:
            raise Invalid(f"the scopes cover more than {MAX_ALLOWLIST} sessions")
        allowlist = tuple(sessions)
    observed = req.target or req.peer
    if req.peer is None and req.scope is None:
        observed = None  # workspace chat: every collection
    conclusions = ConclusionAccess(req.workspace, observer, observed, allowlist)
    messages = MessageAccess(
        req.workspace, await _message_sessions(db, req, observer, scope_sessions, allowlist)
    )
    return ChatMemory(
        workspace=req.workspace,
        observer=observer,
        observed=observed,
        conclusions=conclusions,
        messages=messages,
        session=req.session,
    )


async def _message_sessions(
    db: AsyncSession,
    req: ChatRequest,
    observer: str | None,
    scope_sessions: list[str] | None,
    allowlist: tuple[str, ...] | None,
) -> tuple[str, ...] | None:
    """The chat's session; else the scope's sessions, else those the observer is or was a
    member of (workspace chat: all); always within the allowlist."""
    sessions: list[str] | None
    if req.session is not None:
        sessions = [req.session]
    elif scope_sessions is not None:
        sessions = scope_sessions
    elif observer is not None:
        sessions = await DialecticRepository(db).member_sessions(req.workspace, observer)
    else:
        sessions = None
    if allowlist is not None:
        allowed = set(allowlist)
        sessions = [s for s in (sessions if sessions is not None else allowlist) if s in allowed]
    return tuple(sessions) if sessions is not None else None


def _custom_instructions(config: dict[str, Any]) -> str | None:
    dialectic = config.get("dialectic")
    if isinstance(dialectic, dict):
        text = dialectic.get("custom_instructions")
        if isinstance(text, str) and text.strip():
            return text.strip()
    return None


async def _cards(
    db: AsyncSession, workspace: str, observer: str, observed: str | None
) -> list[Card]:
    repo = PeerCardRepository(db)
    cards: list[Card] = []
    own = await repo.current(workspace, observer, observer)
    if own is not None and own[0]:
        cards.append(Card(f"{observer}'s own peer card", own[0]))
    if observed is not None and observed != observer:
        theirs = await repo.current(workspace, observer, observed)
        if theirs is not None and theirs[0]:
            cards.append(Card(f"{observer}'s peer card of {observed}", theirs[0]))
    return cards


async def _session_part(
    db: AsyncSession, memory: ChatMemory, session: str, settings: Settings
) -> None:
    budget = settings.dialectic_session_history_max_tokens
    if budget > 0:
        memory.history = await ContextRepository(db).newest_within(
            memory.workspace, session, after_id=0, budget=budget
        )
    stored = await SummaryRepository(db).for_session(memory.workspace, session)
    if stored:
        latest = max(stored.values(), key=lambda row: (row.message_id, row.kind == "long"))
        memory.summary = latest.content


async def _prefetch(
    repo: DialecticRepository,
    access: ConclusionAccess,
    vector: list[float] | None,
    levels: tuple[str, ...],
    k: int,
) -> list[ConclusionDetail]:
    """The ``k`` conclusions nearest the query; topped up with the most recent ones when the
    query could not be embedded or too few are embedded yet."""
    if access.sessions is not None and not access.sessions:
        return []  # an empty allowlist recalls nothing
    rows = await repo.nearest_conclusions(access, vector, levels, k) if vector else []
    if len(rows) < k:
        seen = [r.id for r in rows]
        rows += await repo.recent_conclusions(access, levels, k - len(rows), exclude=seen)
    return rows
