"""What every v2 route module shares: the v3 dispatcher as a dependency, paging, bodies."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from ...services.paging import PageRequest
from ..deps import Listing, Paging
from .dispatch import V3


async def _v3(request: Request) -> V3:
    """Async, so FastAPI builds it on the event loop (a class dependency runs in the thread
    pool)."""
    return V3(request)


V3Dep = Annotated[V3, Depends(_v3)]

__all__ = ["Listing", "Paging", "V3Dep", "body_of", "listing", "paging"]


def paging(p: PageRequest) -> dict[str, Any]:
    return {"page": p.page, "size": p.size}


def listing(p: PageRequest) -> dict[str, Any]:
    return {"page": p.page, "size": p.size, "reverse": p.reverse}


async def body_of(request: Request) -> bytes | None:
    """The request's JSON body as sent (``None`` when empty), for a v3 route that reads the
    same shape: it parses it exactly as it would a v3 caller's. (The v2 route has parsed it
    too, for its own 422 and its document; the bytes are cached on the request.)"""
    return await request.body() or None
