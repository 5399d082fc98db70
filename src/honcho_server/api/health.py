"""Liveness and readiness.

* ``GET /health``: liveness. 200 ``{"status": "ok", "version": …, "honcho_api_version": …}``
  while the process serves HTTP, whatever the database does (restarting the process would
  not bring a database back). ``version`` is this server's package version,
  ``honcho_api_version`` the upstream Honcho API level it implements (the OpenAPI
  document's ``info.version``); clients of upstream read ``status`` only.
* ``GET /ready`` and ``GET /health?ready=1``: readiness. ``SELECT 1`` within
  :data:`READY_TIMEOUT_SECONDS`: 200 ``{"status": "ok"}``, or 503 with ``Retry-After`` and
  ``{"status": "unavailable", "detail": "database unavailable: <kind>"}``. Load balancers and
  the Docker/Compose healthchecks use this one.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncEngine

from .. import HONCHO_API_VERSION, __version__
from ..db.connectivity import ping
from .errors import RETRY_AFTER_SECONDS
from .outage import OutageLog

router = APIRouter()  # untagged, as in the reference document

READY_TIMEOUT_SECONDS = 2.0
_TRUE = {"1", "true", "yes", "on"}
LIVE = {"status": "ok", "version": __version__, "honcho_api_version": HONCHO_API_VERSION}


@router.get(
    "/health",
    response_model=None,
    description="Health check endpoint for monitoring and container orchestration.",
)
async def health_check(request: Request) -> JSONResponse:
    # `ready` is read from the raw query so the documented operation stays parameter-free.
    if request.query_params.get("ready", "").lower() in _TRUE:
        return await _readiness(request)
    return JSONResponse(LIVE)


@router.get("/ready", include_in_schema=False)
async def ready(request: Request) -> JSONResponse:
    return await _readiness(request)


async def _readiness(request: Request) -> JSONResponse:
    engine: AsyncEngine = request.app.state.engine
    outage: OutageLog = request.app.state.outage
    problem = await ping(engine, READY_TIMEOUT_SECONDS)
    if problem is None:
        outage.recovered()
        return JSONResponse({"status": "ok"})
    outage.failed(f"{request.method} {request.url.path}", problem)
    # The log has the full reason; the (unauthenticated) caller gets its kind only.
    return JSONResponse(
        {"status": "unavailable", "detail": f"database unavailable: {problem.split(':')[0]}"},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
