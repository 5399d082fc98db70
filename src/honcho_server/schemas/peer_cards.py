"""Peer cards: a short list of stable facts an observer keeps about a peer.

Upstream stores any list sent to ``PUT …/card``. We enforce a generous limit instead (and
reject, never truncate): at most :data:`MAX_ENTRIES` entries of at most
:data:`MAX_ENTRY_CHARS` characters each (counted after NUL stripping). Agents write far
smaller cards (40 entries of 200 characters).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

MAX_ENTRIES = 100
MAX_ENTRY_CHARS = 2_000


def _clean_entry(value: str) -> str:
    value = value.replace("\x00", "")
    if len(value) > MAX_ENTRY_CHARS:
        raise ValueError(f"peer card entries must be at most {MAX_ENTRY_CHARS} characters")
    return value


CardEntry = Annotated[str, AfterValidator(_clean_entry)]


class PeerCardSet(BaseModel):
    peer_card: list[CardEntry] = Field(
        max_length=MAX_ENTRIES,
        description=(
            f"The peer card content to set (at most {MAX_ENTRIES} entries of at most "
            f"{MAX_ENTRY_CHARS} characters)"
        ),
    )


class PeerCardResponse(BaseModel):
    peer_card: list[str] | None = Field(
        default=None, description="The peer card content, or None if not found"
    )
