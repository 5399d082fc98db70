"""What every v2 route module shares: the v3 dispatcher as a dependency, paging, bodies."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from ...schemas.pagination import MAX_PAGE_SIZE
from ...services.paging import PageRequest
from ..deps import Listing, Paging
from .dispatch import V3, raw_body

V3Dep = Annotated[V3, Depends(V3)]

__all__ = ["MAX_PAGE_SIZE", "Listing", "Paging", "V3Dep", "body_of", "listing", "paging"]


def paging(p: PageRequest) -> dict[str, Any]:
    return {"page": p.page, "size": p.size}


def listing(p: PageRequest) -> dict[str, Any]:
    return {"page": p.page, "size": p.size, "reverse": p.reverse}


async def body_of(request: Request) -> bytes | None:
    return await raw_body(request)
