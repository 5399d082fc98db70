"""Which principal may call which route: BEHAVIOUR §21.3 as a pure function of the route.

Nothing here is per-route code for ordinary routes: a route's scope is read off its path
template. ``/workspaces/{workspace_id}/peers/{peer_id}/…`` is a peer route,
``/workspaces/{workspace_id}/sessions/{session_id}/…`` a session route, any other route with a
``{workspace_id}`` a workspace route, and a route without one is admin-only. Only the
exceptions are listed: the three self-authorizing get-or-create routes (their handlers check
the body) and the read-only routes a peer key may use as an active member of the session.
The key's narrowest claim decides; a peer or session key never widens to workspace access.

Templates are relative to the ``/v3`` prefix (a leading ``/v3`` is dropped): depending on the
FastAPI version the matched route reports its path with or without its router's prefix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

ADMIN_REQUIRED = "Resource requires admin privileges"
NOT_PERMISSIONED = "JWT not permissioned for this resource"
UNAUTHORIZED_RESOURCE = "Unauthorized access to resource"

API_PREFIX = "/v3"
WORKSPACE = "/workspaces/{workspace_id}"
PEER_ROUTES = WORKSPACE + "/peers/{peer_id}"
SESSION_ROUTES = WORKSPACE + "/sessions/{session_id}"

CREATE_WORKSPACE = ("POST", "/workspaces")
"""Self-authorizing: the handler requires the body id to equal the key's workspace."""

CREATE_IN_WORKSPACE = frozenset({("POST", WORKSPACE + "/peers"), ("POST", WORKSPACE + "/sessions")})
"""Self-authorizing within the key's workspace: handlers decide for peer and session keys."""

MEMBER_READS = frozenset(
    {
        ("POST", SESSION_ROUTES + "/messages/list"),
        ("GET", SESSION_ROUTES + "/messages/{message_id}"),
        ("GET", SESSION_ROUTES + "/context"),
        ("GET", SESSION_ROUTES + "/summaries"),
        ("GET", SESSION_ROUTES + "/peers"),
        ("GET", SESSION_ROUTES + "/peers/{peer_id}/config"),
        ("POST", SESSION_ROUTES + "/search"),
    }
)
"""Read-only session routes open to a peer key whose peer is an active member (§21.3 rule 6)."""

OWN_PEER_ONLY = frozenset({("GET", SESSION_ROUTES + "/peers/{peer_id}/config")})
"""Member reads where the path's peer must also be the key's own peer."""


class Kind(Enum):
    ADMIN_ONLY = "admin-only"
    CREATE_WORKSPACE = "create-workspace"
    CREATE_IN_WORKSPACE = "create-in-workspace"
    SCOPED = "scoped"


def _under(template: str, prefix: str) -> bool:
    return template == prefix or template.startswith(prefix + "/")


@dataclass(frozen=True)
class RouteTarget:
    """A matched route: its method and template, and the resource its path names."""

    method: str
    template: str
    workspace: str | None = None
    peer: str | None = None
    """The peer a peer route is about (``/peers/{peer_id}/…`` only)."""
    session: str | None = None
    """The session a session route is about (``/sessions/{session_id}/…`` only)."""
    path_peer: str | None = None
    """Any ``{peer_id}`` in the path (e.g. a member's config under a session)."""

    @classmethod
    def of(cls, method: str, template: str, params: Mapping[str, str]) -> RouteTarget:
        if template.startswith(API_PREFIX + "/"):
            template = template.removeprefix(API_PREFIX)
        return cls(
            method=method.upper(),
            template=template,
            workspace=params.get("workspace_id") if _under(template, WORKSPACE) else None,
            peer=params.get("peer_id") if _under(template, PEER_ROUTES) else None,
            session=params.get("session_id") if _under(template, SESSION_ROUTES) else None,
            path_peer=params.get("peer_id"),
        )

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.template)

    @property
    def kind(self) -> Kind:
        if self.key == CREATE_WORKSPACE:
            return Kind.CREATE_WORKSPACE
        if self.workspace is None:
            return Kind.ADMIN_ONLY  # fail closed: no workspace in the path, no scoped access
        if self.key in CREATE_IN_WORKSPACE:
            return Kind.CREATE_IN_WORKSPACE
        return Kind.SCOPED


@dataclass(frozen=True)
class Decision:
    allowed: bool
    detail: str = ""
    member_of: str | None = None
    """When set, allowed only if the key's peer is an active member of this session."""


ALLOW = Decision(True)


def _deny(detail: str) -> Decision:
    return Decision(False, detail)


def decide(
    *, admin: bool, workspace: str | None, peer: str | None, session: str | None, route: RouteTarget
) -> Decision:
    """Whether a key with these claims may call ``route`` (before any handler-level check)."""
    if admin:
        return ALLOW
    kind = route.kind
    if kind is Kind.ADMIN_ONLY:
        return _deny(ADMIN_REQUIRED)
    if kind is Kind.CREATE_WORKSPACE:
        return ALLOW if workspace is not None else _deny(UNAUTHORIZED_RESOURCE)
    if workspace is None or workspace != route.workspace:
        return _deny(NOT_PERMISSIONED)
    if kind is Kind.CREATE_IN_WORKSPACE:
        return ALLOW  # the handler checks what a peer or session key may create
    if session is not None and route.session != session:
        return _deny(NOT_PERMISSIONED)
    if peer is None or route.peer == peer:
        return ALLOW
    if route.key in MEMBER_READS and route.session is not None:
        if route.key in OWN_PEER_ONLY and route.path_peer != peer:
            return _deny(NOT_PERMISSIONED)
        return Decision(True, member_of=route.session)
    return _deny(NOT_PERMISSIONED)
