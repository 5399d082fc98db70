"""``/ui/w/{w}/c/{id}``: a conclusion's provenance — its premises (the conclusions it was
derived from, and theirs) and the messages each was drawn from, as an indented tree."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.responses import Response

from ...db.repositories.explorer import ExplorerRepository
from ...db.session import unit_of_work
from ..browser import ViewerDep
from ..dispatch import Api
from ..render import page
from .common import maybe

router = APIRouter(include_in_schema=False)

MAX_DEPTH = 4
MAX_NODES = 40
MESSAGES_PER_NODE = 10


@dataclass
class Node:
    conclusion: dict[str, Any] | None
    id: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    hidden_messages: int = 0
    premises: list[Node] = field(default_factory=list)
    note: str = ""


@router.get("/ui/w/{w}/c/{conclusion}")
async def provenance(request: Request, viewer: ViewerDep, w: str, conclusion: str) -> Response:
    root_row = await viewer.api.get(f"/v3/workspaces/{w}/conclusions/{conclusion}")
    factory: async_sessionmaker[AsyncSession] = request.app.state.session_factory
    budget = [MAX_NODES]
    root = await _node(viewer.api, factory, w, root_row, 0, budget, set())
    return page(
        request,
        viewer,
        "provenance.html",
        ws=w,
        root=root,
        truncated=budget[0] <= 0,
        notice=request.query_params.get("notice"),
    )


async def _node(
    api: Api,
    factory: async_sessionmaker[AsyncSession],
    w: str,
    row: dict[str, Any],
    depth: int,
    budget: list[int],
    seen: set[str],
) -> Node:
    budget[0] -= 1
    seen.add(row["id"])
    node = Node(conclusion=row, id=row["id"])
    async with unit_of_work(factory) as db:
        refs = await ExplorerRepository(db).source_messages(w, row["id"], MESSAGES_PER_NODE + 1)
    for ref in refs[:MESSAGES_PER_NODE]:  # each read through the guarded route
        message, _ = await maybe(
            api.get(f"/v3/workspaces/{w}/sessions/{ref.session_id}/messages/{ref.id}")
        )
        if message is None:
            node.hidden_messages += 1
        else:
            node.messages.append(message)
    node.hidden_messages += max(0, len(refs) - MESSAGES_PER_NODE)
    for premise in row.get("source_ids") or []:
        if premise in seen:
            node.premises.append(Node(None, premise, note="already shown above"))
        elif depth + 1 >= MAX_DEPTH or budget[0] <= 0:
            node.premises.append(Node(None, premise, note="deeper premises not expanded"))
        else:
            found, refused = await maybe(api.get(f"/v3/workspaces/{w}/conclusions/{premise}"))
            if found is None:
                node.premises.append(Node(None, premise, note=refused or "gone"))
            else:
                node.premises.append(await _node(api, factory, w, found, depth + 1, budget, seen))
    return node
