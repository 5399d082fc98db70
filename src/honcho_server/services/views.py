"""Database rows → wire schemas (internal names become public ids)."""

from __future__ import annotations

from ..db.repositories.paging import AnyRow
from ..db.repositories.peers import PeerRow
from ..db.repositories.sessions import SessionRow
from ..schemas.messages import Message
from ..schemas.peers import Peer
from ..schemas.sessions import Session
from ..schemas.summaries import SUMMARY_TYPES, Summary
from ..schemas.workspaces import Workspace


def workspace(row: AnyRow) -> Workspace:
    m = row._mapping
    return Workspace(
        id=m["name"],
        uid=str(m["id"]),
        metadata=m["metadata"],
        configuration=m["configuration"],
        created_at=m["created_at"],
    )


def peer(row: AnyRow | PeerRow) -> Peer:
    """A peer from a SQLAlchemy row or the read pool's :class:`PeerRow` (read by attribute)."""
    uid = getattr(row, "uid", None)  # a scope peer's: "s" + its scope row id
    return Peer(
        id=row.name,
        uid=uid if uid is not None else str(row.id),
        workspace_id=row.workspace_name,
        created_at=row.created_at,
        metadata=row.metadata,
        configuration=row.configuration,
    )


def session(row: AnyRow | SessionRow) -> Session:
    """A session from a SQLAlchemy row or the read pool's :class:`SessionRow`."""
    return Session(
        id=row.name,
        uid=str(row.id),
        is_active=row.is_active,
        workspace_id=row.workspace_name,
        metadata=row.metadata,
        configuration=row.configuration,
        created_at=row.created_at,
    )


def message(row: AnyRow) -> Message:
    m = row._mapping
    return Message(
        id=m["public_id"],
        content=m["content"],
        peer_id=m["peer_name"],
        session_id=m["session_name"],
        metadata=m["metadata"],
        created_at=m["created_at"],
        workspace_id=m["workspace_name"],
        token_count=m["token_count"],
    )


def summary(row: AnyRow) -> Summary:
    m = row._mapping
    return Summary(
        content=m["content"],
        message_id=m["message_public_id"],
        summary_type=SUMMARY_TYPES[m["kind"]],
        created_at=m["created_at"].isoformat().replace("+00:00", "Z"),
        token_count=m["token_count"],
    )
