"""v2's structured representation (``explicit`` and ``deductive`` lists) of the conclusions
v3's working representation selects.

Each caller runs the v3 route first (it authorizes the key, validates the options and answers
404 for an absent peer); this only re-reads the same selection as items instead of markdown.
The selection rules stay in ``services.representation.working``; v2 has no scopes or filters,
so its query is the plain (observer, observed, optional session) one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from ...db.session import unit_of_work
from ...embeddings import Embedder
from ...services.representation.peer_views import Search
from ...services.representation.render import Item
from ...services.representation.working import RepresentationQuery, working_representation
from .schemas import DeductiveObservation, ExplicitObservation, Representation


@dataclass(frozen=True)
class View:
    """Whose knowledge of whom, within which sessions, how much of it."""

    workspace: str
    observer: str
    observed: str
    max_conclusions: int
    include_most_frequent: bool = False
    session: str | None = None  # recall only from this session
    search: Search = field(default_factory=Search)


async def structured(request: Request, view: View) -> Representation:
    embedder: Embedder = request.app.state.embedder
    nearest = await view.search.embedded(embedder)  # before the first statement
    query = RepresentationQuery(
        observer=view.observer,
        observed=view.observed,
        max_conclusions=view.max_conclusions,
        include_most_frequent=view.include_most_frequent,
        sessions=[view.session] if view.session is not None else None,
        semantic=nearest,
    )
    async with unit_of_work(request.app.state.session_factory) as db:
        found = await working_representation(db, view.workspace, query)
    return to_v2(found.items)


def to_v2(items: list[Item]) -> Representation:
    """Explicit facts stay explicit; every derived level (deductive, inductive, contradiction)
    is a v2 deduction whose premises are its premises, else its sources. Oldest first."""
    rep = Representation()
    for item in sorted(items, key=lambda i: i.at):
        session = item.session or ""
        if item.level == "explicit":
            rep.explicit.append(
                ExplicitObservation(created_at=item.at, session_name=session, content=item.content)
            )
        else:
            premises = list(item.premises) or list(item.sources)
            rep.deductive.append(
                DeductiveObservation(
                    created_at=item.at,
                    session_name=session,
                    premises=premises,
                    conclusion=item.content,
                )
            )
    return rep
