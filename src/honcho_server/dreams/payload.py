"""The ``dream`` job's payload and its work-unit key."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

DREAM_KIND: Literal["dream"] = "dream"
DreamType = Literal["omni", "card_refresh"]


class DreamPayload(BaseModel):
    """One dream over the collection (workspace, observer, observed).

    ``session`` stamps what the dream creates and selects the session configuration (a
    manual dream's request; an automatic one finds it when it runs). ``rebuild`` withholds
    the current card from a ``card_refresh``. ``automatic`` dreams wait for the observed
    peer to go quiet; manual ones run at once.
    """

    kind: Literal["dream"] = DREAM_KIND
    workspace: str
    observer: str
    observed: str
    dream_type: DreamType
    session: str | None = None
    rebuild: bool = False
    automatic: bool = False


def dream_key(dream_type: str, workspace: str, observer: str, observed: str) -> str:
    """Lock and dedupe key: one pending and one running dream per type and collection."""
    return f"dream:{dream_type}:{workspace}/{observer}/{observed}"
