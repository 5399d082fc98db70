"""v2 observations: v3's conclusions under their old name. A conclusion without a session
(a dream's, or one created through v3 without one) reads with ``session_id: ""``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request

from ...schemas.pagination import Page
from .common import Listing, V3Dep, body_of, listing
from .dispatch import path
from .schemas import (
    Observation,
    ObservationBatchCreate,
    ObservationGet,
    ObservationQuery,
)

router = APIRouter(tags=["observations"])

OBSERVATIONS = "/workspaces/{workspace_id}/observations"


def observation(conclusion: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": conclusion["id"],
        "content": conclusion["content"],
        "observer_id": conclusion["observer_id"],
        "observed_id": conclusion["observed_id"],
        "session_id": conclusion.get("session_id") or "",
        "created_at": conclusion["created_at"],
    }


@router.post(OBSERVATIONS, response_model=list[Observation])
async def create_observations(workspace_id: str, body: ObservationBatchCreate, v3: V3Dep) -> Any:
    batch = {"conclusions": [o.model_dump() for o in body.observations]}
    created = await v3.json("POST", path("workspaces", workspace_id, "conclusions"), json=batch)
    return [observation(c) for c in created]


@router.post(OBSERVATIONS + "/list", response_model=Page[Observation])
async def list_observations(
    workspace_id: str,
    request: Request,
    v3: V3Dep,
    page: Listing,
    options: Annotated[ObservationGet | None, Body()] = None,
) -> Any:
    url = path("workspaces", workspace_id, "conclusions", "list")
    found = await v3.json("POST", url, params=listing(page), content=await body_of(request))
    return {**found, "items": [observation(c) for c in found["items"]]}


@router.post(OBSERVATIONS + "/query", response_model=list[Observation])
async def query_observations(
    workspace_id: str, body: ObservationQuery, request: Request, v3: V3Dep
) -> Any:
    url = path("workspaces", workspace_id, "conclusions", "query")
    found = await v3.json("POST", url, content=await body_of(request))
    return [observation(c) for c in found]


@router.delete(OBSERVATIONS + "/{observation_id}")
async def delete_observation(workspace_id: str, observation_id: str, v3: V3Dep) -> Any:
    """v3 answers 204; v2 answers 200 with a message."""
    await v3.send("DELETE", path("workspaces", workspace_id, "conclusions", observation_id))
    return {"message": "Observation deleted successfully"}
