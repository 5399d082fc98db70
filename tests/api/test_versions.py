"""What the server says about its versions: the Honcho API level it implements in the OpenAPI
document's ``info.version`` (which capability-sniffing clients read), and its own package
version in ``/health``, ``/status`` and a header on every answer."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx

from honcho_server import HONCHO_API_VERSION, __version__
from honcho_server.app import create_app
from honcho_server.settings import Settings

REFERENCE = Path(__file__).resolve().parents[1] / "data"  # the contract, copied (README there)
HEADER = "x-honcho-server-version"


def _semver(version: str) -> tuple[int, int, int]:
    match = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", version)  # no pre-release: clients gate on it
    assert match, version
    major, minor, patch = (int(g) for g in match.groups())
    return major, minor, patch


async def test_openapi_reports_the_honcho_api_level(client: httpx.AsyncClient) -> None:
    info = (await client.get("/openapi.json")).json()["info"]
    assert info["version"] == HONCHO_API_VERSION == "3.2.1"
    # at least what we serve: scopes and workspace chat (3.1), /deriver/metrics (3.1.2),
    # evidence and conclusion provenance (3.2); and never below the reference contract
    assert _semver(info["version"]) >= (3, 2, 0)
    reference = json.loads((REFERENCE / "honcho-v3-openapi.json").read_text())
    assert _semver(info["version"]) >= _semver(reference["info"]["version"])
    assert info["title"] == reference["info"]["title"]


async def test_health_and_status_carry_our_own_version(client: httpx.AsyncClient) -> None:
    r = await client.get("/health")
    assert r.json() == {
        "status": "ok",
        "version": __version__,
        "honcho_api_version": HONCHO_API_VERSION,
    }
    spec = (await client.get("/openapi.json")).json()
    assert spec["paths"]["/health"]["get"]["responses"]["200"]["content"] == {
        "application/json": {"schema": {}}
    }  # as the reference declares it: any JSON
    status = (await client.get("/status")).json()
    assert (status["version"], status["honcho_api_version"]) == (__version__, HONCHO_API_VERSION)


async def test_every_answer_carries_the_server_version(client: httpx.AsyncClient, ws: str) -> None:
    answers = [
        await client.get("/health"),
        await client.post("/v3/workspaces", json={"id": ws}),
        await client.get("/v3/nothing-here"),  # 404
        await client.patch("/v3/workspaces/list"),  # 405
        await client.post("/v3/workspaces", json={"id": 1}),  # 422
        await client.get("/openapi.json"),
    ]
    assert [r.status_code for r in answers] == [200, 201, 404, 405, 422, 200]
    assert all(r.headers[HEADER] == __version__ for r in answers)


async def test_version_header_on_a_refused_body(settings: Settings) -> None:
    """Even an answer no route sees (413 from the body limit) carries it."""
    app = create_app(settings.model_copy(update={"max_request_body_bytes": 1024}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        r = await c.post("/v3/workspaces", content=b"x" * 4096)
    assert r.status_code == 413 and r.headers[HEADER] == __version__
