"""Database rows → wire schemas (internal names become public ids)."""

from __future__ import annotations

from ..db.repositories.peers import PeerRow
from ..db.repositories.sessions import SessionRow
from ..db.repositories.summaries import SummaryRow
from ..db.repositories.workspaces import WorkspaceRow
from ..schemas.peers import Peer
from ..schemas.sessions import Session
from ..schemas.summaries import SUMMARY_TYPES, Summary
from ..schemas.workspaces import Workspace


def workspace(row: WorkspaceRow) -> Workspace:
    return Workspace(
        id=row.name,
        uid=str(row.id),
        metadata=row.metadata,
        configuration=row.configuration,
        created_at=row.created_at,
    )


def peer(row: PeerRow) -> Peer:
    return Peer(
        id=row.name,
        uid=row.uid if row.uid is not None else str(row.id),
        workspace_id=row.workspace_name,
        created_at=row.created_at,
        metadata=row.metadata,
        configuration=row.configuration,
    )


def session(row: SessionRow) -> Session:
    return Session(
        id=row.name,
        uid=str(row.id),
        is_active=row.is_active,
        workspace_id=row.workspace_name,
        metadata=row.metadata,
        configuration=row.configuration,
        created_at=row.created_at,
    )


def summary(row: SummaryRow) -> Summary:
    return Summary(
        content=row.content,
        message_id=row.message_public_id,
        summary_type=SUMMARY_TYPES[row.kind],
        created_at=row.created_at.isoformat().replace("+00:00", "Z"),
        token_count=row.token_count,
    )
