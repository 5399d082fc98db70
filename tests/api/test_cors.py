"""CORS: the default lets the usual local dev servers call the API from a browser, and nothing
else; CORS_ORIGINS replaces the list; preflights are answered before authentication."""

from __future__ import annotations

import httpx
import pytest

from honcho_server.app import create_app
from honcho_server.settings import Settings

DEV_SERVERS = [
    f"http://{host}:{port}" for host in ("localhost", "127.0.0.1") for port in (3000, 5173, 8080)
]


def preflight(origin: str, path: str = "/v3/workspaces") -> dict[str, str]:
    return {
        "method": "OPTIONS",
        "url": path,
        "headers": {
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    }


async def send(client: httpx.AsyncClient, request: dict[str, str]) -> httpx.Response:
    return await client.request(**request)  # type: ignore[arg-type]


def test_default_origins_are_the_local_dev_servers() -> None:
    origins = Settings(_env_file=None).cors_origins
    assert set(DEV_SERVERS) <= set(origins)
    assert all(o.startswith(("http://localhost", "http://127.0.0.1")) for o in origins)
    assert "*" not in origins


@pytest.mark.parametrize("origin", ["http://localhost:5173", "http://127.0.0.1:3000"])
async def test_preflight_from_a_local_dev_server_is_allowed(
    client: httpx.AsyncClient, origin: str
) -> None:
    response = await send(client, preflight(origin))
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == origin
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    # and the real request that follows carries the header too
    health = await client.get("/health", headers={"Origin": origin})
    assert health.headers["access-control-allow-origin"] == origin


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "http://localhost:5174", "http://192.168.1.5:5173"]
)
async def test_preflight_from_another_origin_gets_no_cors_headers(
    client: httpx.AsyncClient, origin: str
) -> None:
    response = await send(client, preflight(origin))
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers
    health = await client.get("/health", headers={"Origin": origin})
    assert health.status_code == 200
    assert "access-control-allow-origin" not in health.headers


async def test_cors_origins_replaces_the_default_and_preflights_skip_auth() -> None:
    settings = Settings(
        _env_file=None,
        cors_origins=["https://app.example.com"],
        auth_use_auth=True,
        auth_jwt_secret="cors-test-secret-Zq8vW3nK5pL0yT7rB2xF9mC4hJ6",
    )
    app = create_app(settings, database_url="postgresql+asyncpg://unused@127.0.0.1:1/none")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        allowed = await send(c, preflight("https://app.example.com"))
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
        refused = await send(c, preflight("http://localhost:5173"))
        assert "access-control-allow-origin" not in refused.headers
