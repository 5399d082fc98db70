"""Jinja2 templates (autoescaped) and the helpers the pages render with."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.responses import HTMLResponse

from .. import __version__
from .browser import CSRF_FIELD, Viewer, csrf_token, remember_csrf


def _when(value: Any) -> str:
    """An ISO time as ``2026-12-06 07:10:03`` (UTC), compact and sortable."""
    if not value:
        return ""
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    return parsed.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _age(seconds: Any) -> str:
    if seconds is None:
        return "—"
    s = int(float(seconds))
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    if s < 172800:
        return f"{s // 3600} h"
    return f"{s // 86400} d"


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def _query(base: dict[str, Any], **changes: Any) -> str:
    """``?a=1&b=2``: ``base`` with ``changes`` (``None`` drops a key)."""
    merged = {**base, **changes}
    kept = {k: v for k, v in merged.items() if v not in (None, "", False)}
    return "?" + urlencode(kept) if kept else "?"


env = Environment(
    loader=PackageLoader("honcho_server.web", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
env.filters["when"] = _when
env.filters["age"] = _age
env.filters["pretty"] = _pretty
env.globals["query"] = _query
env.globals["version"] = __version__
env.globals["csrf_field"] = CSRF_FIELD


def page(
    request: Request,
    viewer: Viewer | None,
    template: str,
    *,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    html = env.get_template(template).render(
        request=request,
        viewer=viewer,
        csrf=csrf_token(request),
        path=request.url.path,
        status=status,
        **context,
    )
    response = HTMLResponse(html, status_code=status)
    response.headers["cache-control"] = "no-store"
    response.headers["x-frame-options"] = "DENY"
    response.headers["referrer-policy"] = "same-origin"
    remember_csrf(request, response)
    return response
