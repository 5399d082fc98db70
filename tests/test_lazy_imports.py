"""Every process start (``serve``, ``worker``, each CLI command) imports the app; the ``openai``
and ``mcp`` packages together took 0.8 of its 2.3 s, so they are imported only when an LLM
client is built or ``/mcp`` is first called."""

from __future__ import annotations

import subprocess
import sys

LOADED = (
    "import sys, honcho_server.app, honcho_server.worker.runner; "
    "print(sorted(m for m in ('openai', 'mcp') if m in sys.modules))"
)


def test_the_app_starts_without_the_llm_and_mcp_packages() -> None:
    out = subprocess.run(
        [sys.executable, "-c", LOADED], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
