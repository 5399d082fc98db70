"""Helpers of the v2 suite (imported by its tests and its conftest): the pinned old clients,
the server's key secret, and running a client script."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from sdk.test_typescript_sdk import _report

# The newest releases that speak the v2 contract (Honcho 2.5.1), read off their route tables:
# honcho-ai 1.6.0 is the last 1.x; it calls `workspaces.deriver_status` and
# `workspaces.observations`, which honcho-core has from 1.7.0 to 1.8.0 (1.9.0 renamed them to
# v3's queue/conclusions under /v2). @honcho-ai/core 1.8.0 is the npm twin of honcho-core 1.8.0.
PYTHON_PINS = ("honcho-ai==1.6.0", "honcho-core==1.8.0")
NPM_PINS = {"@honcho-ai/core": "1.8.0"}

SECRET = "v2-suite-secret-" + "x" * 32
CLIENTS = Path(__file__).resolve().parent / "clients"
INSTALL_TIMEOUT = 900
RUN_TIMEOUT = 300


def cache_dir() -> Path:
    root = os.environ.get("HONCHO_TEST_CACHE")
    path = Path(root) if root else Path.home() / ".cache" / "honcho-server-tests"
    path.mkdir(parents=True, exist_ok=True)
    return path


def check(args: list[str], what: str) -> None:
    try:
        result = subprocess.run(
            args, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{what} timed out after {INSTALL_TIMEOUT}s", pytrace=False)
    if result.returncode != 0:
        pytest.fail(f"{what} failed: {_report(result)}", pytrace=False)


def run_client(args: list[str], env: dict[str, str] | None = None) -> dict[str, object]:
    """Run a client script; it prints one JSON object (its findings) on its last line."""
    given = env if env is not None else {}
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HONCHO_")}
    clean.update(given)  # the caller's own HONCHO_* settings only
    result = subprocess.run(
        args, capture_output=True, text=True, timeout=RUN_TIMEOUT, env=clean, check=False
    )
    assert result.returncode == 0, f"{args[1]} failed: {_report(result)}"
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert lines, _report(result)
    found: dict[str, object] = json.loads(lines[-1])
    return found
