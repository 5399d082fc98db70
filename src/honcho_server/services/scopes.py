"""Scopes: get-or-create, list, and which sessions belong to them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from ..db.repositories.scopes import BackfillRow, ScopeRepository, ScopeRow
from ..db.repositories.workspaces import WorkspaceRepository
from ..errors import Invalid, NotFound
from ..ids import require_valid_name
from ..schemas.pagination import Page
from ..schemas.scopes import Scope, ScopeBackfillJob, ScopeCreate, ScopeStatus, scope_name_problem
from ..schemas.sessions import Session
from . import views
from .paging import PageRequest, to_page

# There is no worker yet, so nothing copies a joining session's existing conclusions into
# the scope. A session that joins with history is recorded as a backfill that completed
# having copied nothing; the backfill job (state 'pending', then 'completed'/'failed' with
# the real count) arrives with the worker.
BACKFILL_STATE = "completed"
BACKFILL_DOCS_COPIED = 0


def require_valid_scope(name: str) -> str:
    """For scope ids in paths: 422 with a string detail."""
    problem = scope_name_problem(name)
    if problem is not None:
        raise Invalid(f"Invalid scope id {name[:80]!r}: {problem}")
    return name


def scope(row: ScopeRow) -> Scope:
    return Scope(id=row.name, metadata=row.metadata, created_at=row.created_at)


def _backfill(row: BackfillRow) -> ScopeBackfillJob:
    return ScopeBackfillJob.model_validate(
        {
            "state": row.backfill_state,
            "updated_at": row.backfill_updated_at,
            "docs_copied": row.docs_copied,
        }
    )


def _not_found(name: str) -> NotFound:
    return NotFound(f"Scope {name} not found")


def _unique(names: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(names))


class ScopeService:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db
        self.scopes = ScopeRepository(db)

    async def get_or_create(self, workspace: str, body: ScopeCreate) -> tuple[Scope, bool]:
        """New scope → created. Existing scope: a non-null ``metadata`` replaces the stored one."""
        await WorkspaceRepository(self.db).ensure(require_valid_name(workspace, "workspace"))
        row = await self.scopes.create_if_missing(workspace, body.id, body.metadata or {})
        if row is not None:
            return scope(row), True
        if body.metadata is not None:
            row = await self.scopes.set_metadata(workspace, body.id, body.metadata)
        else:
            row = await self.scopes.get(workspace, body.id)
        if row is None:  # deleted by a concurrent request between the two statements
            raise _not_found(body.id)
        return scope(row), False

    async def get(self, workspace: str, name: str) -> Scope:
        return scope(await self._existing(workspace, name))

    async def list_scopes(self, workspace: str, req: PageRequest) -> Page[Scope]:
        require_valid_name(workspace, "workspace")
        result = await self.scopes.list_page(
            workspace, page=req.page, size=req.size, reverse=req.reverse
        )
        return to_page(result, scope, req)

    async def add_sessions(self, workspace: str, name: str, sessions: Sequence[str]) -> None:
        """Every session must exist and be active; ones already members are left as they are."""
        await self._existing(workspace, name)
        wanted = _unique(sessions)
        active = await self.scopes.active_sessions(workspace, wanted)
        missing = [s for s in wanted if s not in active]
        if missing:
            noun = "Session" if len(missing) == 1 else "Sessions"
            raise NotFound(f"{noun} {', '.join(missing)} not found")
        await self._add(workspace, [name], wanted)

    async def join_session(self, workspace: str, session: str, scopes: Sequence[str]) -> None:
        """Get-or-create ``scopes`` and make the (existing, active) ``session`` a member."""
        names = _unique([require_valid_scope(s) for s in scopes])
        await self.scopes.ensure_many(workspace, names)
        await self._add(workspace, names, [session])

    async def remove_session(self, workspace: str, name: str, session: str) -> None:
        require_valid_name(workspace, "workspace")
        require_valid_scope(name)
        require_valid_name(session, "session")
        if not await self.scopes.remove_member(workspace, name, session):
            await self._existing(workspace, name)
            raise NotFound(f"Session {session} is not a member of scope {name}")

    async def list_sessions(self, workspace: str, name: str, req: PageRequest) -> Page[Session]:
        await self._existing(workspace, name)
        result = await self.scopes.list_members(
            workspace, name, page=req.page, size=req.size, reverse=req.reverse
        )
        return to_page(result, views.session, req)

    async def status(self, workspace: str, name: str) -> ScopeStatus:
        await self._existing(workspace, name)
        rows = await self.scopes.backfills(workspace, name)
        return ScopeStatus(backfill_status={r.session_name: _backfill(r) for r in rows})

    async def _add(self, workspace: str, scopes: list[str], sessions: list[str]) -> None:
        await self.scopes.add_members(
            workspace,
            scopes,
            sessions,
            backfill_state=BACKFILL_STATE,
            docs_copied=BACKFILL_DOCS_COPIED,
        )

    async def _existing(self, workspace: str, name: str) -> ScopeRow:
        require_valid_name(workspace, "workspace")
        row = await self.scopes.get(workspace, require_valid_scope(name))
        if row is None:
            raise _not_found(name)
        return row
