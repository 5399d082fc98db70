"""Wire model of the three message-search routes (BEHAVIOUR §11)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from ..ids import NAME_PATTERN
from .common import Filters

MAX_SEARCH_LIMIT = 100
SCOPE_NAME_MAX_LENGTH = 506  # 512 minus the "scope." prefix of the scope's peer

ScopeName = Annotated[
    str, Field(min_length=1, max_length=SCOPE_NAME_MAX_LENGTH, pattern=NAME_PATTERN)
]


class MessageSearchOptions(BaseModel):
    query: str = Field(description="Search query")
    filters: Filters | None = Field(default=None, description="Filters to scope the search")
    limit: int = Field(
        default=10, ge=1, le=MAX_SEARCH_LIMIT, description="Number of results to return"
    )
    # Source-only (§24.2): restrict to a scope's member sessions. Absent from the v3 OpenAPI.
    scope: SkipJsonSchema[ScopeName | None] = None

    @field_validator("query")
    @classmethod
    def _clean(cls, value: str) -> str:
        value = value.replace("\x00", "")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("query is not valid Unicode text") from None
        return value
