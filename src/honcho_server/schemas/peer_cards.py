"""Peer cards: a short list of stable facts an observer keeps about a peer.

Upstream stores any list sent to ``PUT …/card``, and so do we, whatever its length: the only
bound on the number of entries is the request body limit (``MAX_REQUEST_BODY_BYTES``, 413
beyond it). Each entry is at most :data:`MAX_ENTRY_CHARS` characters (counted after NUL
stripping; rejected, never truncated). Agents write far smaller cards (40 entries of 200
characters).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

MAX_ENTRY_CHARS = 2_000


def _clean_entry(value: str) -> str:
    value = value.replace("\x00", "")
    if len(value) > MAX_ENTRY_CHARS:
        raise ValueError(f"peer card entries must be at most {MAX_ENTRY_CHARS} characters")
    return value


CardEntry = Annotated[str, AfterValidator(_clean_entry)]


class PeerCardSet(BaseModel):
    peer_card: list[CardEntry] = Field(
        description=(
            f"The peer card content to set (any number of entries of at most "
            f"{MAX_ENTRY_CHARS} characters each)"
        ),
    )


class PeerCardResponse(BaseModel):
    peer_card: list[str] | None = Field(
        default=None, description="The peer card content, or None if not found"
    )
