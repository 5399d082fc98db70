"""The browser session: the key entered once, and CSRF protection for every form.

* **Key.** With auth on, the key typed on the login page is kept in an HttpOnly,
  SameSite=Strict session cookie (gone when the browser closes): never in a URL, never in a
  page, never logged (the access log writes paths only). Each page passes it to the API routes
  it calls (:mod:`.dispatch`), so the server decides what it may see.
* **CSRF.** A random token in a second HttpOnly, SameSite=Strict cookie; every state-changing
  request must carry the same token in its form field or ``X-CSRF-Token`` header (pages embed
  it; a cross-site page cannot read it), and must not be marked cross-site by the browser
  (``Sec-Fetch-Site``) or come from another origin. Otherwise: 403, nothing done.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import Response

from ..auth.keys import ADMIN, Principal, verify
from ..errors import HonchoError
from ..settings import Settings
from .dispatch import Api

KEY_COOKIE = "honcho_explorer_key"
CSRF_COOKIE = "honcho_explorer_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
FORGED = "Refused: this request did not come from the explorer's own page (CSRF check failed)"


class LoginRequired(Exception):
    """No usable key in this browser session (auth is on)."""


class Forged(Exception):
    """A state-changing request that failed the CSRF check."""


@dataclass(frozen=True)
class Viewer:
    """Who is looking: the API as their key reaches it, and the key's claims (for navigation
    only: what they may see is the API's answer)."""

    api: Api
    principal: Principal
    auth_on: bool
    csrf: str


def csrf_token(request: Request) -> str:
    """This browser's CSRF token (a new one is set on the response by :func:`remember_csrf`)."""
    token = request.cookies.get(CSRF_COOKIE)
    if token and len(token) == 43:
        return token
    cached: str | None = getattr(request.state, "new_csrf", None)
    if cached is None:
        cached = secrets.token_urlsafe(32)
        request.state.new_csrf = cached
    return cached


def remember_csrf(request: Request, response: Response) -> None:
    new: str | None = getattr(request.state, "new_csrf", None)
    if new is not None:
        _cookie(request, response, CSRF_COOKIE, new)


def remember_key(request: Request, response: Response, key: str) -> None:
    _cookie(request, response, KEY_COOKIE, key)


def forget_key(response: Response) -> None:
    response.delete_cookie(KEY_COOKIE, path="/", httponly=True, samesite="strict")


def _cookie(request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )  # no max_age: a session cookie


def principal_of(settings: Settings, key: str) -> Principal:
    """The key's claims; :class:`HonchoError` (401) if it is not acceptable."""
    secret = settings.auth_jwt_secret
    if secret is None:
        raise HonchoError("auth is on without a secret", status=401)
    return verify(key.strip(), secret.get_secret_value())


def _viewer(request: Request) -> Viewer:
    settings: Settings = request.app.state.settings
    app = request.app
    if not settings.auth_use_auth:
        return Viewer(Api(app, None), ADMIN, False, csrf_token(request))
    key = request.cookies.get(KEY_COOKIE)
    if not key:
        raise LoginRequired
    try:
        principal = principal_of(settings, key)
    except HonchoError:
        raise LoginRequired from None
    return Viewer(Api(app, key), principal, True, csrf_token(request))


def viewer_or_none(request: Request) -> Viewer | None:
    try:
        return _viewer(request)
    except LoginRequired:
        return None


async def check_csrf(request: Request) -> None:
    """Refuse a state-changing request that a page of another site could have sent."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise Forged
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise Forged
    expected = request.cookies.get(CSRF_COOKIE) or ""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and _is_form(request):
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not expected or not sent or not hmac.compare_digest(expected, sent):
        raise Forged


def _is_form(request: Request) -> bool:
    kind = request.headers.get("content-type", "")
    return kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))


async def _viewer_dep(request: Request) -> Viewer:
    """:func:`_viewer` on the event loop (a plain ``def`` dependency runs in the thread pool)."""
    return _viewer(request)


ViewerDep = Annotated[Viewer, Depends(_viewer_dep)]
CsrfChecked = Depends(check_csrf)
