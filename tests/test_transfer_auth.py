"""Who may move a workspace: export takes an admin or that workspace's key, import only an
admin key (it creates or replaces any workspace); peer and session keys get Honcho's 401."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from honcho_server.app import create_app
from honcho_server.auth.keys import mint
from honcho_server.settings import Settings
from transfer_support import synthetic_export

SECRET = "transfer-tests-secret-0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e"


@pytest.fixture(scope="module")
async def auth_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        settings.model_copy(
            update={
                "auth_use_auth": True,
                "auth_jwt_secret": SecretStr(SECRET),
                "embedded_worker": False,
            }
        )
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


def _bearer(**claims: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(SECRET, **claims)}"}  # type: ignore[arg-type]


async def test_who_may_export_and_import(auth_client: httpx.AsyncClient) -> None:
    ws = f"auth-{uuid.uuid4().hex[:8]}"
    admin = _bearer(admin=True)
    body = b"".join(synthetic_export(ws, 4))
    imported = await auth_client.post("/v3/workspaces/import", content=body, headers=admin)
    assert imported.status_code == 201, imported.text

    export = f"/v3/workspaces/{ws}/export"
    for allowed in (admin, _bearer(workspace=ws)):
        response = await auth_client.get(export, headers=allowed)
        assert response.status_code == 200
        assert response.content.count(b'"type":"message"') == 4
    refused = {
        "peer key": _bearer(workspace=ws, peer="u"),
        "session key": _bearer(workspace=ws, session="s"),
        "another workspace's key": _bearer(workspace="elsewhere"),
        "no key": {},
    }
    for who, headers in refused.items():
        response = await auth_client.get(export, headers=headers)
        assert response.status_code == 401, who
        assert set(response.json()) == {"detail"}, who

    copy = {"workspace_id": ws + "-copy"}
    for who, headers in {**refused, "workspace key": _bearer(workspace=ws)}.items():
        response = await auth_client.post(
            "/v3/workspaces/import", content=body, params=copy, headers=headers
        )
        assert response.status_code == 401, who
    missing = await auth_client.get(f"/v3/workspaces/{ws}-copy", headers=admin)
    assert missing.status_code == 404  # nothing was created by a refused import


async def test_both_routes_are_in_the_openapi_document_as_additions(
    auth_client: httpx.AsyncClient,
) -> None:
    paths = (await auth_client.get("/openapi.json")).json()["paths"]
    export = paths["/v3/workspaces/{workspace_id}/export"]["get"]
    imported = paths["/v3/workspaces/import"]["post"]
    assert export["x-honcho-server-addition"] is imported["x-honcho-server-addition"] is True
    assert "application/x-ndjson" in export["responses"]["200"]["content"]
    assert imported["requestBody"]["required"] is True
    assert imported["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ImportResult"
    }
