"""``honcho-server mcp``: the same tools over stdio, against the same database.

The key comes from ``HONCHO_API_KEY`` (needed when AUTH_USE_AUTH is on; the tools then reach
what that key reaches) and the default workspace from ``HONCHO_WORKSPACE_ID``.
"""

from __future__ import annotations

import asyncio
import os

from ..app import create_app
from ..settings import Settings
from .context import Caller, current
from .server import build_server


async def _serve(settings: Settings, url: str) -> None:
    app = create_app(settings, database_url=url)
    key = os.environ.get("HONCHO_API_KEY", "").strip()
    caller = Caller(
        app=app,
        authorization=f"Bearer {key}" if key else None,
        workspace=os.environ.get("HONCHO_WORKSPACE_ID", "").strip() or None,
    )
    async with app.router.lifespan_context(app):
        token = current.set(caller)
        try:
            await build_server().run_stdio_async()
        finally:
            current.reset(token)


def serve_stdio(settings: Settings, url: str) -> int:
    asyncio.run(_serve(settings, url))
    return 0
