"""Every process start (``serve``, ``worker``, each CLI command) imports the app; the ``openai``
and ``mcp`` packages together took 0.8 of its 2.3 s, so they are imported only when needed:
``openai`` at startup when a model is configured (or when an LLM client is built), ``mcp``
when ``/mcp`` is first called."""

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


LOADS = (
    "import asyncio, sys\n"
    "from honcho_server.settings import Settings\n"
    "from honcho_server.llm import LLMRegistry\n"
    "model = dict(llm_model='m', llm_base_url='http://127.0.0.1:9/v1') if sys.argv[1] else {}\n"
    "asyncio.run(LLMRegistry(Settings(_env_file=None, **model)).load())\n"
    "print('openai' in sys.modules)"
)


def test_with_a_model_configured_openai_is_loaded_at_startup() -> None:
    """Before the process freezes what it loaded (``heap``), not by the first job."""
    for configured, loaded in (("1", "True"), ("", "False")):
        out = subprocess.run(
            [sys.executable, "-c", LOADS, configured],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        assert out.stdout.strip() == loaded
