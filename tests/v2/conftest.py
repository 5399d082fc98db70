"""Fixtures for the v2 suite: a live ``serve`` with auth on and the fake LLM behind it, and the
old v2 clients, each in an environment of its own.

The v2 clients cannot share the project's venv (``honcho-ai`` 1.x and 2.x are one package):
``v2_python`` creates a second venv with ``python -m venv`` and pip-installs the pinned
versions; ``v2_node_modules`` npm-installs ``@honcho-ai/core`` into a directory of its own.
Both live under a cache directory (``HONCHO_TEST_CACHE``, default ``~/.cache/honcho-server-
tests``) and are reused while their pins are unchanged.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url
from v2_support import INSTALL_TIMEOUT, NPM_PINS, PYTHON_PINS, SECRET, cache_dir, check

from fakes.fixtures import fake_openai, fake_openai_server  # noqa: F401 - fixtures
from fakes.openai_server import FakeOpenAIServer
from honcho_server.auth.keys import mint
from honcho_server.db.migrate import upgrade
from sdk.test_sdk_queue_webhooks import _admin
from sdk.test_typescript_sdk import _env, _node_toolchain, _report, _run
from servers import start_server, stop_server


@pytest.fixture(scope="session")
def admin_key() -> str:
    return mint(SECRET, admin=True)


@pytest.fixture(scope="session")
def v2_server(
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    fake_openai_server: FakeOpenAIServer,  # noqa: F811
) -> Iterator[str]:
    """``honcho-server serve`` on a database of its own, auth on, LLM = the fake server.
    The deriver and summaries are off (tests write conclusions themselves)."""
    name = f"v2_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(database_url, f'CREATE DATABASE "{name}"'))
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    env = {
        "DATABASE_URL": url,
        "LOG_LEVEL": "WARNING",
        "AUTH_USE_AUTH": "true",
        "AUTH_JWT_SECRET": SECRET,
        "LLM_BASE_URL": fake_openai_server.base_url,
        "LLM_MODEL": "fake-model",
        "LLM_API_KEY": "test",
        "DERIVER_ENABLED": "false",
        "SUMMARY_ENABLED": "false",
        "EMBED_MESSAGES": "false",
    }
    process, base_url = start_server(env, tmp_path_factory.mktemp("v2") / "server.log")
    try:
        yield base_url
    finally:
        stop_server(process)
        asyncio.run(_admin(database_url, f'DROP DATABASE "{name}" WITH (FORCE)'))


@pytest.fixture
def admin(v2_server: str, admin_key: str) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {admin_key}"}
    with httpx.Client(base_url=v2_server, headers=headers, timeout=60) as client:
        yield client


@pytest.fixture
def chat_llm(fake_openai: FakeOpenAIServer) -> FakeOpenAIServer:  # noqa: F811
    """The fake LLM, answering every chat with a fixed sentence."""
    fake_openai.state.default_chat = "Alice loves hiking."
    return fake_openai


# ---- the old clients ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def v2_python() -> Path:
    """The python of a venv holding only the pinned v2 Python clients."""
    venv = cache_dir() / "v2-python"
    marker = venv / "pins.json"
    pins = json.dumps(PYTHON_PINS)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if marker.is_file() and marker.read_text() == pins and python.is_file():
        return python
    shutil.rmtree(venv, ignore_errors=True)
    check([sys.executable, "-m", "venv", str(venv)], "python -m venv")
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    check([*pip, *PYTHON_PINS], "pip install " + " ".join(PYTHON_PINS))
    marker.write_text(pins)
    return python


@pytest.fixture(scope="session")
def v2_node_modules() -> tuple[Path, dict[str, str], Path]:
    """(node, its environment, a directory whose node_modules holds the pinned npm client)."""
    node, npm_cli = _node_toolchain()
    env = _env(node)
    root = cache_dir() / "v2-node"
    marker = root / "pins.json"
    pins = json.dumps(NPM_PINS, sort_keys=True)
    package = root / "node_modules" / "@honcho-ai" / "core" / "package.json"
    if not (marker.is_file() and marker.read_text() == pins and package.is_file()):
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        manifest = {"name": "v2-clients", "private": True, "dependencies": NPM_PINS}
        (root / "package.json").write_text(json.dumps(manifest))
        args = [str(node), str(npm_cli), "install", "--no-audit", "--no-fund", "--prefix"]
        result = _run([*args, str(root), "--loglevel=error"], env, INSTALL_TIMEOUT)
        if result.returncode != 0 or not package.is_file():
            pytest.fail(f"npm install {NPM_PINS} failed: {_report(result)}", pytrace=False)
        marker.write_text(pins)
    return node, env, root
