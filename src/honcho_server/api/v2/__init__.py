"""The deprecated v2 API (Honcho 2.5.1), so apps written for ``honcho-ai`` 1.x and the v2
Stainless clients run unchanged, over the same data as v3.

One thin adapter: every ``/v2`` route runs the v3 route that does the same thing in-process
(:mod:`.dispatch`) and translates names and shapes at the edge (observations are conclusions,
``deriver/status`` is the queue status, representations are structured). Its routes are left
out of ``/openapi.json`` (the v3 contract) and described, every operation marked deprecated,
by their own document at ``/v2/openapi.json``.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from . import keys, messages, observations, peers, sessions, workspaces
from .dispatch import V3Error, as_response
from .guard import refuse_early
from .openapi import document

__all__ = ["install"]


def build_router() -> APIRouter:
    # A missing, bad or out-of-reach key is refused before any validation, as on v3; the
    # whole decision is the v3 route's that each v2 route runs.
    router = APIRouter(prefix="/v2", deprecated=True, dependencies=[Depends(refuse_early)])
    for module in (workspaces, peers, sessions, messages, observations, keys):
        router.include_router(module.router)
    return router


def install(app: FastAPI) -> None:
    router = build_router()
    app.include_router(router, include_in_schema=False)

    async def v3_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, V3Error)
        return as_response(exc)

    app.add_exception_handler(V3Error, v3_error)
    cached: dict[str, object] = {}

    async def openapi_v2() -> JSONResponse:
        if "doc" not in cached:
            cached["doc"] = document(app, router)
        return JSONResponse(cached["doc"])

    app.add_api_route("/v2/openapi.json", openapi_v2, include_in_schema=False)
