"""Route: mint scoped API keys (admin only; BEHAVIOUR §21.4)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from ...auth.keys import mint
from ...errors import HonchoError, Invalid
from ..deps import SettingsDep

router = APIRouter(tags=["keys"])


@router.post("/keys", response_model=None)
async def create_key(
    settings: SettingsDep,
    workspace_id: Annotated[
        str | None, Query(description="ID of the workspace to scope the key to")
    ] = None,
    peer_id: Annotated[str | None, Query(description="ID of the peer to scope the key to")] = None,
    session_id: Annotated[
        str | None, Query(description="ID of the session to scope the key to")
    ] = None,
    expires_at: datetime | None = None,
) -> dict[str, str]:
    """Create a new Key"""
    secret = settings.auth_jwt_secret
    if not settings.auth_use_auth or secret is None:
        raise HonchoError("Feature is disabled", status=405)
    if not (workspace_id or peer_id or session_id):
        raise Invalid("At least one of workspace_id, peer_id or session_id is required")
    if (peer_id or session_id) and not workspace_id:
        raise Invalid("peer_id and session_id require workspace_id")
    key = mint(
        secret.get_secret_value(),
        workspace=workspace_id,
        peer=peer_id,
        session=session_id,
        expires_at=expires_at,
    )
    return {"key": key}
