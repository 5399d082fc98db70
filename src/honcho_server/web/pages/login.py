"""``/ui/login`` and ``/ui/logout``: the key, entered once per browser session."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from ...errors import HonchoError
from ..browser import CsrfChecked, forget_key, principal_of, remember_key
from ..render import page

router = APIRouter(include_in_schema=False)


@router.get("/ui/login")
async def login_form(request: Request) -> Response:
    return page(request, None, "login.html")


@router.post("/ui/login", dependencies=[CsrfChecked])
async def login(request: Request, key: str = Form()) -> Response:
    try:
        principal_of(request.app.state.settings, key)
    except HonchoError as exc:
        return page(request, None, "login.html", status=401, error=f"Key refused: {exc.detail}")
    response = RedirectResponse("/", status_code=303)
    remember_key(request, response, key.strip())
    return response


@router.post("/ui/logout", dependencies=[CsrfChecked])
async def logout() -> Response:
    response = RedirectResponse("/ui/login", status_code=303)
    forget_key(response)
    return response
