"""The CLI side of auth: `serve` refuses to start without a strong secret; `key` mints keys."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from auth_support import SECRET, bearer

from honcho_server.auth import jwt
from servers import free_port


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("AUTH_")}
    return subprocess.run(
        [sys.executable, "-m", "honcho_server", *args],
        env={**base, **env},
        cwd=cwd,  # no .env file here
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_refuses_auth_without_a_secret(tmp_path: Path) -> None:
    port = str(free_port())
    for secret, message in (
        (None, "AUTH_USE_AUTH=true needs AUTH_JWT_SECRET"),
        ("", "AUTH_USE_AUTH=true needs AUTH_JWT_SECRET"),
        ("short-secret", "AUTH_JWT_SECRET is too weak"),
        ("a" * 40, "AUTH_JWT_SECRET is too weak"),
    ):
        env = {"AUTH_USE_AUTH": "true", "DATA_DIR": str(tmp_path / "data")}
        if secret is not None:
            env["AUTH_JWT_SECRET"] = secret
        done = run_cli(["serve", "--port", port], env, tmp_path)
        assert done.returncode != 0, secret
        assert message in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
        assert not (tmp_path / "data").exists()  # refused before starting anything


def test_key_command_prints_verifiable_keys(tmp_path: Path) -> None:
    env = {"AUTH_JWT_SECRET": SECRET}
    done = run_cli(
        ["key", "--workspace", "acme", "--peer", "bob", "--expires-in", "2h"], env, tmp_path
    )
    assert done.returncode == 0, done.stderr
    claims = jwt.decode(done.stdout.strip(), SECRET)
    assert claims["w"] == "acme" and claims["p"] == "bob" and "ad" not in claims
    expires = datetime.fromisoformat(claims["exp"])
    assert abs(expires - (datetime.now(UTC) + timedelta(hours=2))) < timedelta(minutes=1)
    admin = run_cli(["key", "--admin"], env, tmp_path)
    assert jwt.decode(admin.stdout.strip(), SECRET)["ad"] is True


def test_key_command_refuses_bad_requests(tmp_path: Path) -> None:
    assert run_cli(["key", "--admin"], {}, tmp_path).returncode != 0  # no secret
    env = {"AUTH_JWT_SECRET": SECRET}
    for args in (
        ["key"],
        ["key", "--peer", "p"],
        ["key", "--admin", "--workspace", "w"],
        ["key", "--workspace", "w", "--peer", "p", "--session", "s"],
        ["key", "--workspace", "w", "--expires-in", "soon"],
    ):
        done = run_cli(args, env, tmp_path)
        assert done.returncode != 0 and not done.stdout, args


async def test_a_cli_key_opens_its_workspace(
    auth_client: httpx.AsyncClient, tmp_path: Path
) -> None:
    ws = f"ws-{uuid.uuid4().hex[:10]}"
    done = run_cli(["key", "--workspace", ws], {"AUTH_JWT_SECRET": SECRET}, tmp_path)
    key = bearer(done.stdout.strip())
    created = await auth_client.post("/v3/workspaces", json={"id": ws}, headers=key)
    assert created.status_code == 201
    assert (
        await auth_client.post(f"/v3/workspaces/{ws}/peers/list", headers=key)
    ).status_code == 200
    r = await auth_client.post("/v3/workspaces/other/peers/list", headers=key)
    assert r.status_code == 401
