"""Refuse a key before a v2 route parses its request, as v3's guard does.

Each v2 route is authorized again, fully, by the v3 route it runs (options, memberships, the
handlers' own checks). This only applies ``auth.policy``'s route-level decision (and its
membership check) early, on the v3 twin's template, so that a key without reach gets v3's 401
rather than a 422 for a body or parameter v2 would refuse first.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.routing import APIRoute

from ...auth.guard import PrincipalDep, check_membership
from ...auth.policy import NOT_PERMISSIONED, RouteTarget, decide
from ...errors import Unauthorized

PREFIX = "/v2"
SESSION = "/workspaces/{workspace_id}/sessions/{session_id}"
RENAMED = {
    ("GET", "/workspaces/{workspace_id}/deriver/status"): (
        "GET",
        "/workspaces/{workspace_id}/queue/status",
    ),
    ("POST", "/workspaces/{workspace_id}/trigger_dream"): (
        "POST",
        "/workspaces/{workspace_id}/schedule_dream",
    ),
    ("GET", SESSION + "/clone"): ("POST", SESSION + "/clone"),
    ("POST", SESSION + "/peers/{peer_id}/config"): ("PUT", SESSION + "/peers/{peer_id}/config"),
    ("POST", SESSION + "/messages/"): ("POST", SESSION + "/messages"),
}
OBSERVATIONS = "/workspaces/{workspace_id}/observations"
CONCLUSIONS = "/workspaces/{workspace_id}/conclusions"


def twin(method: str, template: str) -> tuple[str, str]:
    """The v3 route (method, template without ``/v3``) a v2 route (template without ``/v2``)
    runs first."""
    if (method, template) in RENAMED:
        return RENAMED[(method, template)]
    if template.startswith(OBSERVATIONS):
        template = CONCLUSIONS + template.removeprefix(OBSERVATIONS)
        return method, template.replace("{observation_id}", "{conclusion_id}")
    return method, template


async def refuse_early(request: Request, principal: PrincipalDep) -> None:
    if principal.admin:
        return
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        raise Unauthorized(NOT_PERMISSIONED)
    method, template = twin(request.method.upper(), route.path.removeprefix(PREFIX))
    target = RouteTarget.of(method, template, request.path_params)
    decision = decide(
        admin=principal.admin,
        workspace=principal.workspace,
        peer=principal.peer,
        session=principal.session,
        route=target,
    )
    if not decision.allowed:
        raise Unauthorized(decision.detail)
    await check_membership(request, target, principal, decision)
